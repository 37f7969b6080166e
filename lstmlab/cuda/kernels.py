"""Generic CUDA kernels: a tiled matrix product and fills (built once per dtype).

``matmul(A, B, C, trans_a, trans_b, accumulate)`` computes
``C (M, N) [+]= op(A) (M, K) @ op(B) (K, N)``, ``op`` transposing when asked, with
TILE x TILE shared-memory tiles. It is the input projection, the per-step
recurrent product and the weight gradients; cuBLAS would be faster for large
shapes, and numba.cuda does not expose it.
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda  # a module global: the simulator swaps it for its own inside kernels

_BUILT: dict = {}


def tile() -> int:
    """:data:`lstmlab.config.CUDA_TILE` on a GPU; 8 in the simulator (each thread of a block is a Python thread)."""
    from .. import config
    from . import simulated
    return 8 if simulated() else config.CUDA_TILE


def _build(dtype):
    from numba import float32, float64

    nbt = float32 if dtype == np.float32 else float64
    TILE = tile()

    @cuda.jit
    def matmul(A, B, C, ta, tb, acc):
        sA = cuda.shared.array((TILE, TILE), nbt)
        sB = cuda.shared.array((TILE, TILE), nbt)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        row = cuda.blockIdx.y * TILE + ty
        col = cuda.blockIdx.x * TILE + tx
        M = C.shape[0]
        N = C.shape[1]
        K = A.shape[0] if ta else A.shape[1]
        s = 0.0
        for k0 in range(0, K, TILE):
            ka = k0 + tx
            if row < M and ka < K:
                sA[ty, tx] = A[ka, row] if ta else A[row, ka]
            else:
                sA[ty, tx] = 0.0
            kb = k0 + ty
            if kb < K and col < N:
                sB[ty, tx] = B[col, kb] if tb else B[kb, col]
            else:
                sB[ty, tx] = 0.0
            cuda.syncthreads()
            for k in range(TILE):
                s += sA[ty, k] * sB[k, tx]
            cuda.syncthreads()
        if row < M and col < N:
            if acc:
                C[row, col] += s
            else:
                C[row, col] = s

    @cuda.jit
    def matmul_simple(A, B, C, ta, tb, acc):
        # one thread per output, no shared memory: used in the simulator, where
        # each thread is a Python thread and tile barriers dominate the time
        i = cuda.grid(1)
        M = C.shape[0]
        N = C.shape[1]
        if i >= M * N:
            return
        row = i // N
        col = i - row * N
        K = A.shape[0] if ta else A.shape[1]
        s = 0.0
        for k in range(K):
            s += (A[k, row] if ta else A[row, k]) * (B[col, k] if tb else B[k, col])
        if acc:
            C[row, col] += s
        else:
            C[row, col] = s

    @cuda.jit
    def fill(A, value):  # A: 1-D view
        i = cuda.grid(1)
        if i < A.shape[0]:
            A[i] = value

    @cuda.jit
    def add_bias(XP2, b):
        i = cuda.grid(1)
        n = XP2.shape[1]
        if i < XP2.shape[0] * n:
            r = i // n
            c = i - r * n
            XP2[r, c] += b[c]

    return dict(matmul=matmul, matmul_simple=matmul_simple, fill=fill, add_bias=add_bias)


def get(cuda, dtype):
    key = np.dtype(dtype)
    if key not in _BUILT:
        _BUILT[key] = _build(key)
    return _BUILT[key]


def matmul(cuda, A, B, C, trans_a=False, trans_b=False, accumulate=False, tiled=None):
    """C [+]= op(A) @ op(B) on the device (all 2-D, one dtype).

    ``tiled`` None: the shared-memory kernel on a GPU, the one-thread-per-output
    kernel in the simulator (both are tested against NumPy there).
    """
    from . import simulated
    M, N = C.shape
    if tiled is False or (tiled is None and simulated()):
        n = M * N
        get(cuda, C.dtype)["matmul_simple"][math.ceil(n / 64), 64](A, B, C, trans_a, trans_b, accumulate)
        return
    T = tile()
    grid = (math.ceil(N / T), math.ceil(M / T))
    get(cuda, C.dtype)["matmul"][grid, (T, T)](A, B, C, trans_a, trans_b, accumulate)


def fill(cuda, A, value=0.0):
    n = A.size
    if n:
        get(cuda, A.dtype)["fill"][math.ceil(n / 128), 128](A.reshape(n), value)


def add_bias(cuda, XP2, b):
    n = XP2.size
    get(cuda, XP2.dtype)["add_bias"][math.ceil(n / 128), 128](XP2, b)
