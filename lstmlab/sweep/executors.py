"""Where a sweep's runs execute: a local process pool (default) or a Dask cluster.

Both yield results as runs finish. The local pool needs nothing started; the
Dask executor connects to an existing ``distributed`` scheduler with Dask's
own client, and relies on its scheduler to re-run a task whose worker died.
"""
from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os

from .worker import execute_run

_log = logging.getLogger(__name__)
_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "LSTMLAB_THREADS")


class SchedulerUnreachable(ConnectionError):
    pass


class LocalExecutor:
    """A pool of ``workers`` spawned processes, each limited to ``threads`` BLAS threads.

    A worker process that dies (killed, out of memory) breaks the pool; the
    unfinished runs are then resubmitted to a fresh pool, up to ``retries``
    times, and resume from their checkpoints.
    """

    def __init__(self, workers: int | None = None, threads: int | None = None, retries: int = 2):
        cores = os.cpu_count() or 1
        self.workers = int(workers or cores)
        if self.workers < 1:
            raise ValueError(f"workers: expected a positive int, got {workers!r}")
        self.threads = int(threads or max(1, cores // self.workers))
        self.retries = retries

    def describe(self) -> str:
        return f"local pool of {self.workers} processes x {self.threads} BLAS thread(s)"

    def run(self, specs):
        pending = {s["run_id"]: s for s in specs}
        attempt = 0
        saved = {k: os.environ.get(k) for k in _THREAD_VARS}
        os.environ.update({k: str(self.threads) for k in _THREAD_VARS})  # children read them at start
        try:
            while pending:
                ctx = multiprocessing.get_context("spawn")
                try:
                    with cf.ProcessPoolExecutor(max_workers=min(self.workers, len(pending)), mp_context=ctx) as pool:
                        futs = {pool.submit(execute_run, s): rid for rid, s in pending.items()}
                        for fut in cf.as_completed(futs):
                            rec = fut.result()
                            pending.pop(futs[fut], None)
                            yield rec
                except cf.process.BrokenProcessPool as exc:
                    attempt += 1
                    if attempt > self.retries:
                        raise RuntimeError(f"local pool: worker processes died {attempt} times; "
                                           f"{len(pending)} runs unfinished (re-run the command to resume them)"
                                           ) from exc
                    _log.warning("a worker process died; resubmitting %d unfinished runs", len(pending))
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


class DaskExecutor:
    """Runs on a Dask ``distributed`` cluster at ``address`` (e.g. ``tcp://10.0.0.5:8786``).

    The results folder must be on a filesystem every worker sees: runs write
    their checkpoints there, and a run moved to another worker resumes from it.
    """

    def __init__(self, address: str, timeout: float = 10.0, retries: int = 2):
        if not isinstance(address, str) or "://" not in address:
            raise ValueError(f"scheduler: expected an address like tcp://HOST:PORT, got {address!r}")
        self.address, self.timeout, self.retries = address, float(timeout), retries
        self._client = None

    @property
    def workers(self) -> int:
        if self._client is None:
            return 1
        return max(1, sum(w.get("nthreads", 1) for w in self._client.scheduler_info().get("workers", {}).values()))

    def describe(self) -> str:
        return f"Dask cluster at {self.address} ({self.workers} worker threads)"

    def connect(self):
        try:
            from distributed import Client
        except ImportError:
            raise ImportError("scheduler: running on a Dask cluster needs the 'distributed' package: "
                              "pip install 'lstmlab[dask]'") from None
        try:
            self._client = Client(self.address, timeout=f"{self.timeout}s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise SchedulerUnreachable(f"scheduler: no Dask scheduler answered at {self.address} within "
                                       f"{self.timeout:g} s ({type(exc).__name__}: {exc})") from None
        return self

    def run(self, specs):
        from distributed import as_completed
        if self._client is None:
            self.connect()
        with self._client.as_current():   # as_completed looks for the current client
            futs = [self._client.submit(execute_run, s, key=f"lstmlab-run-{s['run_id']}", pure=False,
                                        retries=self.retries) for s in specs]
            try:
                for fut in as_completed(futs):
                    yield fut.result()
            finally:
                for f in futs:
                    f.release()

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = None
