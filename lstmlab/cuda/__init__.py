"""CUDA backend: the same variant definitions compiled with numba.cuda.

Optional: install with ``python3 -m pip install "lstmlab[cuda]"`` (numba-cuda).
``import lstmlab`` never imports this package; ``RNN(..., device="cuda")`` does.
In the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1`` set before numba is imported)
everything runs on the CPU, slowly, which is how the tests check it without a GPU.

``kernels``  generic kernels: tiled matrix product, fills.
``codegen``  per-variant kernels generated from the spec: step kernels, and
             persistent kernels (the whole sequence in one cooperative launch).
``engine``   forward and BPTT of one direction of one layer on the device.
"""
from __future__ import annotations


class CudaUnavailable(RuntimeError):
    """``device="cuda"`` was asked for where CUDA cannot run; the message says what is missing."""


def require():
    """Return ``numba.cuda`` if a GPU (or the simulator) can be used, else raise :class:`CudaUnavailable`."""
    try:
        from numba import cuda
    except ImportError as exc:  # numba without its CUDA target
        raise CudaUnavailable("device='cuda' needs numba-cuda, which is not installed: "
                              "python3 -m pip install \"lstmlab[cuda]\"") from exc
    if not hasattr(cuda, "jit"):
        raise CudaUnavailable("device='cuda' needs numba-cuda: python3 -m pip install \"lstmlab[cuda]\"")
    try:
        ok = cuda.is_available()
    except Exception as exc:  # noqa: BLE001 - driver problems surface here
        raise CudaUnavailable(f"device='cuda': the CUDA driver could not be initialised ({exc})") from exc
    if not ok:
        raise CudaUnavailable("device='cuda': numba-cuda is installed but found no usable NVIDIA GPU "
                              "(no device, or no driver). To test without a GPU, set NUMBA_ENABLE_CUDASIM=1 "
                              "before Python starts (the CUDA simulator).")
    return cuda


def simulated() -> bool:
    """Whether numba.cuda runs in its simulator."""
    from numba import config
    return bool(getattr(config, "ENABLE_CUDASIM", False))
