"""NuPIC's ``nupic.frameworks.opf.common_models``: ready-made model params (``cluster_params``)."""
