"""Every tunable setting of lstmlab, in one place.

Compilation choices (fastmath, error model, cache location), buffer sizes and
the CUDA launch shapes. Every Numba decorator takes its options from here, so
a speed or accuracy trade-off is changed once; the engines read these names
at call time (``config.CHUNK_ROWS``, never a copy), so a test may patch them;
the few read when a kernel is generated (``ROW_GEMV_MAX_BATCH``) say so.
"""
import os
from pathlib import Path

#: Options for every compiled kernel. ``error_model='numpy'`` keeps divisions
#: free of Python's ZeroDivisionError checks, so they vectorise. fastmath is off:
#: float32 parity with torch and float64 gradcheck must hold.
JIT_OPTIONS = dict(nogil=True, error_model="numpy", fastmath=False)

#: Whether compiled code is cached on disk (Numba's own cache).
CACHE = os.environ.get("LSTMLAB_NO_CACHE", "") == ""

#: Rows (steps x batch) per chunk of the CPU input projection and of the
#: backward's gradient buffers: the GEMMs stay efficient, the buffers O(chunk), not O(T).
CHUNK_ROWS = 4096

#: Small batches: a step's recurrent product is done as one matrix-vector
#: product (GEMV) per batch row instead of one GEMM when B <= the limit given
#: here for the width N of R's gate side (gates x H). OpenBLAS's SGEMM has a
#: fixed cost of tens of microseconds at 2 <= B < 16 (it packs R on every
#: call); GEMV has none. Measured on the 2-core anchor machine, float32, one
#: thread, N = 4H: H = 128: B = 2 62 us (GEMM) against 12 us (GEMVs), B = 8 71
#: against 51, B = 16 81 against 98; H = 32: B = 4 3.9 against 2.7, B = 8 4.5
#: against 5.5. ``(min N, max B)`` pairs; read when a kernel is generated.
ROW_GEMV_MAX_BATCH = ((512, 15), (128, 4))

#: The CPU pointwise compute loop runs over H rounded up to a multiple of this
#: (its scratch rows are that wide; the pad lanes compute on zeros and are never
#: stored). LLVM's vector loop needs 16 float32 iterations before it runs at
#: all, so at H = 8 the gate maths ran scalar: LSTM forward (200, 1, 1, 8)
#: 486 -> 193 ns per step with the pad; H >= 32 unchanged (measured, one thread).
POINTWISE_PAD = 16
#: A forward pointwise stage reading n rows and writing m is run in blocks of
#: POINTWISE_BLOCK units (scratch rows of a literal width: constant strides)
#: when n * m exceeds this: LLVM's vectoriser gives up past 128 runtime alias
#: checks, one per read row and written row with runtime strides (backwards
#: measured slower in blocks; see codegen._blocks).
ALIAS_CHECK_LIMIT = 100
POINTWISE_BLOCK = 128

#: Idle buffers the workspace pool keeps (``$LSTMLAB_WORKSPACE_MB``, default 1024 MiB);
#: smaller arrays than WORKSPACE_MIN_BYTES come from malloc's heap and are not pooled.
WORKSPACE_MAX_BYTES = int(float(os.environ.get("LSTMLAB_WORKSPACE_MB", "1024")) * 2 ** 20)
WORKSPACE_MIN_BYTES = 256 * 1024

#: numba.cuda options of every CUDA kernel: the CPU's fastmath choice, so both
#: backends compute the same maths (nogil and error_model have no CUDA meaning).
CUDA_JIT_OPTIONS = dict(fastmath=JIT_OPTIONS["fastmath"])
#: Threads per block of the step kernels (one thread per unit).
CUDA_THREADS = 128
#: Threads per block of the persistent kernels (one block per multiprocessor).
CUDA_PERSISTENT_THREADS = 256
#: Tile edge of the shared-memory matrix product on a GPU (the simulator uses 8).
CUDA_TILE = 16
#: On-chip bytes a persistent kernel's block may use for its slice of the recurrent weights.
CUDA_SHARED_LIMIT = 48 * 1024


#: Threads one layer's call may use (:func:`set_num_threads`, or ``$LSTMLAB_THREADS``;
#: default 1). Above 1, a bidirectional layer runs its two directions at once (:mod:`lstmlab.parallel`).
def _threads_from_env() -> int:
    text = os.environ.get("LSTMLAB_THREADS", "").strip() or "1"
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"LSTMLAB_THREADS: expected a positive int number of threads, got {text!r}")
    return n


THREADS = _threads_from_env()


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
    """Use ``n`` threads in every BLAS library loaded in this process, and in a layer's call.

    A bidirectional layer runs its two directions on two of them at once (BLAS
    held to one thread meanwhile; :mod:`lstmlab.parallel`); everything else
    uses ``n`` BLAS threads.

    Numba's GEMMs run on scipy's OpenBLAS and numpy brings another; both (and
    any OpenMP runtime) are limited together through threadpoolctl, so their
    thread pools do not fight over the cores. Set it before the first
    forward for stable timings.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n: expected a positive int number of threads, got {n!r}")
    cores = os.cpu_count() or 1
    if n > cores:
        import warnings
        warnings.warn(f"set_num_threads({n}): this machine has {cores} cores; more threads than cores share them "
                      f"and usually run slower", RuntimeWarning, stacklevel=2)
    import scipy.linalg  # noqa: F401  (loads the OpenBLAS that Numba's np.dot calls)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n)
    global THREADS
    THREADS = n
