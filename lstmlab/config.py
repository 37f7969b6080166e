"""One place for compilation choices: fastmath, error model, cache location.

Every Numba decorator in lstmlab takes its options from here, so a speed or
accuracy trade-off is changed once.
"""
import os
from pathlib import Path

#: Options for every compiled kernel. ``error_model='numpy'`` keeps divisions
#: free of Python's ZeroDivisionError checks, so they vectorise. fastmath is off:
#: float32 parity with torch and float64 gradcheck must hold.
JIT_OPTIONS = dict(nogil=True, error_model="numpy", fastmath=False)

#: Whether compiled code is cached on disk (Numba's own cache).
CACHE = os.environ.get("LSTMLAB_NO_CACHE", "") == ""


def kernel_dir() -> Path:
    """Folder where generated kernel modules are written, so Numba can cache them.

    ``$LSTMLAB_CACHE_DIR`` overrides the default ``~/.cache/lstmlab/kernels``.
    """
    root = os.environ.get("LSTMLAB_CACHE_DIR")
    if root:
        path = Path(root)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = Path(base) / "lstmlab" / "kernels"
    path.mkdir(parents=True, exist_ok=True)
    return path


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in every BLAS library loaded in this process.

    Numba's GEMMs run on scipy's OpenBLAS and numpy brings another; both (and
    any OpenMP runtime) are limited together through threadpoolctl, so their
    thread pools do not fight over the cores. Set it before the first
    forward for stable timings.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n: expected a positive int number of threads, got {n!r}")
    import scipy.linalg  # noqa: F401  (loads the OpenBLAS that Numba's np.dot calls)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n)
