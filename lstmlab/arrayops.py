"""The few array operations a layer stack does between its kernels, for arrays on the host.

:class:`lstmlab.RNN` runs its stack (directions, layers, dropout between
them, gradient sums) through one of these namespaces: :data:`HOST` for NumPy
arrays, :class:`lstmlab.cuda.ops.DeviceOps` for device arrays kept on the GPU
(the same names, done by small kernels). One stack logic, two places for
the arrays.
"""
from __future__ import annotations

import numpy as np


def is_device_array(a) -> bool:
    """A numba.cuda device array (or anything exposing ``__cuda_array_interface__``), not a NumPy array."""
    return not isinstance(a, np.ndarray) and (hasattr(a, "__cuda_array_interface__") or hasattr(a, "copy_to_host"))


class HostOps:
    """NumPy arrays. Reversal index ``perm`` (T, B): each sequence reversed within its length."""
    resident = False
    kind = "a numpy array"

    @staticmethod
    def is_array(a) -> bool:
        return isinstance(a, np.ndarray)

    @staticmethod
    def index(perm):
        return perm

    @staticmethod
    def reverse(x, perm):
        """``x[perm, arange(B)]`` (T, B, n), contiguous."""
        return np.ascontiguousarray(x[perm, np.arange(x.shape[1])])

    @staticmethod
    def concat(parts):
        """Arrays (T, B, n_k) side by side on the last axis."""
        return np.ascontiguousarray(np.concatenate(parts, axis=2))

    @staticmethod
    def take_last(a, off: int, n: int):
        """``a[:, :, off:off + n]``, contiguous."""
        return np.ascontiguousarray(a[:, :, off:off + n])

    @staticmethod
    def mul(a, m):
        return a * m

    @staticmethod
    def add(a, b):
        return a + b

    @staticmethod
    def empty_like(a):
        return np.empty_like(a)

    @staticmethod
    def zeros(shape, dtype):
        return np.zeros(shape, dtype)

    @staticmethod
    def set_row(dst, k: int, value) -> None:
        dst[k] = value

    @staticmethod
    def block_state(st, k: int):
        """Block k's state (nstate, B, H) from the per-state arrays (layers * dirs, B, H)."""
        out = np.empty((len(st),) + st[0].shape[1:], st[0].dtype)  # np.stack costs ~8 us at B = 1
        for i, s in enumerate(st):
            out[i] = s[k]
        return out

    @staticmethod
    def swap01(a):
        """The first two axes swapped (batch_first <-> time-major); a view."""
        return a.transpose(1, 0, 2)

    @staticmethod
    def contiguous(a):
        return np.ascontiguousarray(a)

    @staticmethod
    def all_finite(a) -> bool:
        return bool(np.isfinite(a).all())

    @staticmethod
    def to_host(a):
        return a


HOST = HostOps()
