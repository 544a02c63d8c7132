"""NuPIC's ``nupic.frameworks.opf``: OPF result types (``opf_utils``) and canned model params
(``common_models.cluster_params``)."""
