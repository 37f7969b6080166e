"""Two cores for one layer: a bidirectional layer's two directions at once.

The forward and the reverse direction of a layer are independent until their
outputs are concatenated, so with :func:`lstmlab.config.set_num_threads` (or
``$LSTMLAB_THREADS``) above 1 they run at once, one thread each (the kernels
release the GIL), with BLAS held to one thread meanwhile so that the cores are
not oversubscribed. Each direction keeps its whole batch, so its GEMMs stay as
large as on one thread; there is one hand-off per layer and pass, not per step
(the time loop runs inside each kernel).

Splitting a unidirectional layer's batch across threads the same way was
measured and dropped: on this machine it ran 0.97-1.07x the time of one call
on two BLAS threads at (100, 32, 1, 128), (100, 32, 128, 256), (100, 16, 1, 128)
and (100, 64, 512, 512), because OpenBLAS re-packs R for each slice's smaller
GEMM. Sweeps pass their workers' thread count on (``$LSTMLAB_THREADS``): the
default pool of one single-threaded worker per core never threads.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from . import config

_POOL = None
_CONTROLLER = None
_LOCK = threading.Lock()
_RUN_LOCK = threading.Lock()


def _pool(n):
    global _POOL, _CONTROLLER
    with _LOCK:
        if _POOL is None or _POOL._max_workers < n - 1:
            _POOL = ThreadPoolExecutor(max_workers=max(1, n - 1), thread_name_prefix="lstmlab")
        if _CONTROLLER is None:
            import scipy.linalg  # noqa: F401  (the OpenBLAS the kernels' np.dot calls)
            from threadpoolctl import ThreadpoolController
            _CONTROLLER = ThreadpoolController()
        return _POOL, _CONTROLLER


def run_all(fns: list) -> list:
    """Each function's result, in order: at once on ``config.THREADS`` threads when that is above 1.

    The first runs on this thread, the rest on a pool; BLAS is held to one
    thread while they run. With one thread, or one function, they run in order here.
    """
    if config.THREADS < 2 or len(fns) < 2:
        return [f() for f in fns]
    pool, ctl = _pool(min(len(fns), config.THREADS))
    # one threaded call at a time: the BLAS limit is process-wide, and two callers would undo each other's
    with _RUN_LOCK, ctl.limit(limits=1, user_api="blas"):
        futures = [pool.submit(f) for f in fns[1:]]
        try:
            first = fns[0]()
        finally:  # every worker ends before the limit is lifted, even when this thread's call raised
            done = [f.exception() for f in futures]
        for e in done:
            if e is not None:
                raise e
        return [first] + [f.result() for f in futures]


def run_directions(backend, fns: list) -> list:
    """A layer's per-direction calls on ``backend``: at once for the CPU backends (:func:`run_all`), in order
    otherwise (a CUDA backend's calls share one device stream)."""
    if backend.name.startswith("cpu"):
        return run_all(fns)
    return [f() for f in fns]
