"""Experiments: run, compare and sweep scenarios, in local processes or on a Dask cluster."""
