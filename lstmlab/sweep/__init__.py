"""Sweeps: grids of independent training runs on a local process pool or a Dask cluster."""
from .sweep import run_sweep, run_id, load_records, SweepMismatch, estimate_seconds
from .executors import LocalExecutor, DaskExecutor, SchedulerUnreachable
from .worker import execute_run

__all__ = ["run_sweep", "run_id", "load_records", "SweepMismatch", "estimate_seconds", "LocalExecutor",
           "DaskExecutor", "SchedulerUnreachable", "execute_run"]
