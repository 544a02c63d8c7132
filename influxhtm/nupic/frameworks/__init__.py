"""NuPIC's ``nupic.frameworks``: the Online Prediction Framework (OPF) lives in ``opf``."""
