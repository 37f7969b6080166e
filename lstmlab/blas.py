"""Whole-sequence matrix products, compiled so they share the time loop's BLAS.

numpy and scipy ship different OpenBLAS builds; Numba's ``np.dot`` calls
scipy's. Mixing both at 2 threads was measured 2.7x slower on this machine,
so every GEMM of the engine goes through these.
"""
import numba
import numpy as np

from .config import CACHE, JIT_OPTIONS


@numba.njit(cache=CACHE, **JIT_OPTIONS)
def at_b(a, b):
    """a.T @ b for C-contiguous 2-D arrays a (n, k), b (n, m) -> (k, m)."""
    out = np.empty((a.shape[1], b.shape[1]), a.dtype)
    np.dot(a.T, b, out)
    return out


@numba.njit(cache=CACHE, **JIT_OPTIONS)
def a_b(a, b):
    """a @ b for C-contiguous 2-D arrays a (n, k), b (k, m) -> (n, m)."""
    out = np.empty((a.shape[0], b.shape[1]), a.dtype)
    np.dot(a, b, out)
    return out
