"""Cluster mode: the UDF front beside kapacitord, the models in Ray actors (DESIGN.md §6).

Ray is an extra (`pip install 'influxhtm[cluster]'`); only front.py and the batch jobs import it.
"""
