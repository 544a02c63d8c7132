"""NuPIC's ``nupic.algorithms``: raw anomaly scores (``anomaly``) and the anomaly likelihood
(``anomaly_likelihood``, stock NuPIC 1.0.5's two-sided tail)."""
