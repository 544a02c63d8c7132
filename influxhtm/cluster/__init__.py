"""Cluster mode: the UDF front beside kapacitord, the models in Ray actors (DESIGN.md §6).

Ray is an extra (`pip install 'influxhtm[cluster]'`); only front.py, connect.py and tasks.py (the
batch jobs' `--cluster`) import it.
"""
