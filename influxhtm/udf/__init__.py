"""The HTM anomaly UDF for Kapacitor: per-group HTM models behind the `@htm()` TICKscript node."""

from .handler import HtmHandler
from .models import ModelRegistry
from .options import OPTION_SPECS, HtmOptions, OptionError, parse_options

__all__ = ["OPTION_SPECS", "HtmHandler", "HtmOptions", "ModelRegistry", "OptionError", "parse_options"]
