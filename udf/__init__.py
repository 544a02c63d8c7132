"""Kapacitor user-defined functions: the UDF protocol library and the HTM anomaly handler."""
