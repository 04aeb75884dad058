"""Planning of grid boundaries: proposals, their report, balanced suggestions.

Pure spatial logic (validity, coverage, workload, partition) lives in the
modules here and takes shapely geometries; :mod:`geo.planning.service` is the
one place that reads and writes the store through :mod:`layers.planning`.
"""
