"""The HTM anomaly UDF for Kapacitor: per-group HTM models behind the `@htm()` TICKscript node."""
from .handler import HtmHandler
from .models import ModelRegistry
from .options import OPTION_SPECS, HtmOptions, OptionError, parse_options

__all__ = ["HtmHandler", "ModelRegistry", "HtmOptions", "OptionError", "OPTION_SPECS", "parse_options"]
