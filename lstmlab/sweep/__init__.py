"""Sweeps: grids of independent training runs on a local process pool or a Dask cluster."""
from .executors import DaskExecutor, LocalExecutor, SchedulerUnreachable
from .sweep import SweepMismatch, estimate_seconds, load_records, run_id, run_sweep
from .worker import execute_run

__all__ = ["run_sweep", "run_id", "load_records", "SweepMismatch", "estimate_seconds", "LocalExecutor",
           "DaskExecutor", "SchedulerUnreachable", "execute_run"]
