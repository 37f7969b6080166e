"""Small device-array operations for a layer stack kept on the GPU.

What the CPU layer does with NumPy between the kernels (reversing each
sequence for the backward direction, concatenating the directions, applying
a dropout mask, summing gradients, moving the batch axis) done by tiny
kernels on device arrays, so a stack's activations never visit the host.
Every function takes and returns numba.cuda device arrays (C-contiguous);
inputs are never written.
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda  # a module global: the simulator swaps it for its own inside kernels

from ..arrayops import is_device_array

_K: dict = {}
_THREADS = 128


def _kernels():
    if _K:
        return _K

    @cuda.jit
    def mul(out, a, b):  # 1-D: out = a * b
        i = cuda.grid(1)
        if i < out.shape[0]:
            out[i] = a[i] * b[i]

    @cuda.jit
    def add(out, a, b):  # 1-D: out = a + b
        i = cuda.grid(1)
        if i < out.shape[0]:
            out[i] = a[i] + b[i]

    @cuda.jit
    def reverse_time(dst, src, perm):  # (T, B, n): dst[t, b] = src[perm[t, b], b]
        i = cuda.grid(1)
        B, n = dst.shape[1], dst.shape[2]
        if i < dst.shape[0] * B * n:
            t = i // (B * n)
            b = (i // n) % B
            k = i % n
            dst[t, b, k] = src[perm[t, b], b, k]

    @cuda.jit
    def put_cols(dst, src, off):  # 2-D: dst[r, off + c] = src[r, c]
        i = cuda.grid(1)
        n = src.shape[1]
        if i < src.shape[0] * n:
            dst[i // n, off + i % n] = src[i // n, i % n]

    @cuda.jit
    def take_cols(dst, src, off):  # 2-D: dst[r, c] = src[r, off + c]
        i = cuda.grid(1)
        n = dst.shape[1]
        if i < dst.shape[0] * n:
            dst[i // n, i % n] = src[i // n, off + i % n]

    @cuda.jit
    def swap01(dst, src):  # 3-D: dst[i, j] = src[j, i]
        i = cuda.grid(1)
        J, n = dst.shape[1], dst.shape[2]
        if i < dst.shape[0] * J * n:
            a = i // (J * n)
            b = (i // n) % J
            dst[a, b, i % n] = src[b, a, i % n]

    @cuda.jit
    def nonfinite(a, flag):  # 1-D: flag[0] = 1 if any element is NaN or +-Inf
        i = cuda.grid(1)
        if i < a.shape[0]:
            v = a[i]
            if v - v != 0:
                flag[0] = 1

    _K.update(mul=mul, add=add, reverse_time=reverse_time, put_cols=put_cols, take_cols=take_cols,
              swap01=swap01, nonfinite=nonfinite)
    return _K


def _launch(name, n, *args):
    if n:
        _kernels()[name][math.ceil(n / _THREADS), _THREADS](*args)


def empty(shape, dtype):
    return cuda.device_array(shape, dtype)


def flat(a):
    return a.reshape(a.size)


def mul(a, b):
    """``a * b`` elementwise (same shape)."""
    out = empty(a.shape, a.dtype)
    _launch("mul", a.size, flat(out), flat(a), flat(b))
    return out


def add(a, b):
    """``a + b`` elementwise (same shape)."""
    out = empty(a.shape, a.dtype)
    _launch("add", a.size, flat(out), flat(a), flat(b))
    return out


def reverse_time(x, perm):
    """``x[perm, arange(B)]`` for x (T, B, n) and a device perm (T, B) int64 (each sequence reversed)."""
    out = empty(x.shape, x.dtype)
    _launch("reverse_time", x.size, out, x, perm)
    return out


def put_cols(dst, src, off: int) -> None:
    """``dst[:, off:off + n] = src`` for 2-D dst and src (B, n)."""
    _launch("put_cols", src.size, dst, src, off)


def take_cols(src, off: int, n: int):
    """``src[:, off:off + n]`` of a 2-D array, as a new contiguous array; 3-D src (T, B, m) by rows."""
    shape = tuple(src.shape)  # the simulator's shapes take no negative index
    rows = math.prod(shape[:-1])
    out = empty(shape[:-1] + (n,), src.dtype)
    _launch("take_cols", rows * n, out.reshape(rows, n), src.reshape(rows, shape[-1]), off)
    return out


def concat_last(parts):
    """The arrays (..., n_k) side by side along the last axis."""
    lead = tuple(parts[0].shape)[:-1]
    rows = math.prod(lead)
    widths = [tuple(p.shape)[-1] for p in parts]
    out = empty(lead + (sum(widths),), parts[0].dtype)
    off = 0
    for p, w in zip(parts, widths):
        put_cols(out.reshape(rows, sum(widths)), p.reshape(rows, w), off)
        off += w
    return out


def swap01(x):
    """``x.transpose(1, 0, 2)`` of a 3-D array, as a new contiguous array (batch_first)."""
    out = empty((x.shape[1], x.shape[0], x.shape[2]), x.dtype)
    _launch("swap01", x.size, out, x)
    return out


def copy(x):
    """A new device array equal to ``x``."""
    out = empty(x.shape, x.dtype)
    out.copy_to_device(x)
    return out


def all_finite(a) -> bool:
    """Whether ``a`` holds no NaN or Inf (one 4-byte flag comes back to the host)."""
    flag = cuda.to_device(np.zeros(1, np.int32))
    _launch("nonfinite", a.size, flat(a), flag)
    return not flag.copy_to_host()[0]


def as_device(a):
    """``a`` as a numba.cuda device array without a copy when it already lives on the device
    (``__cuda_array_interface__``: CuPy, PyTorch CUDA tensors); a NumPy array is copied over."""
    if hasattr(a, "copy_to_host"):
        return a
    if hasattr(a, "__cuda_array_interface__"):
        return cuda.as_cuda_array(a)
    return cuda.to_device(np.ascontiguousarray(a))


class DeviceOps:
    """:class:`lstmlab.arrayops.HostOps`'s operations on device arrays, for a stack kept on the GPU.
    Masks and indices given as NumPy arrays are copied over (they are small); activations never leave."""
    resident = True
    kind = "a device array"

    @staticmethod
    def is_array(a) -> bool:
        return is_device_array(a)

    @staticmethod
    def index(perm):
        return cuda.to_device(np.ascontiguousarray(perm))

    reverse = staticmethod(reverse_time)

    @staticmethod
    def concat(parts):
        return concat_last(parts)

    @staticmethod
    def take_last(a, off: int, n: int):
        return take_cols(a, off, n)

    @staticmethod
    def mul(a, m):
        return mul(a, as_device(m))

    @staticmethod
    def add(a, b):
        return add(a, b)

    @staticmethod
    def empty_like(a):
        return empty(tuple(a.shape), a.dtype)

    @staticmethod
    def zeros(shape, dtype):
        from . import kernels
        out = empty(shape, dtype)
        kernels.fill(cuda, out)
        return out

    @staticmethod
    def set_row(dst, k: int, value) -> None:
        dst[k].copy_to_device(value)

    @staticmethod
    def block_state(st, k: int):
        out = empty((len(st),) + tuple(st[0].shape)[1:], st[0].dtype)
        for i, s in enumerate(st):
            out[i].copy_to_device(s[k])
        return out

    @staticmethod
    def swap01(a):
        return swap01(a)

    @staticmethod
    def contiguous(a):
        return a

    @staticmethod
    def all_finite(a) -> bool:
        return all_finite(a)

    @staticmethod
    def to_host(a):
        return a.copy_to_host()


DEVICE = DeviceOps()
