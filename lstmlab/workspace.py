"""Recycled buffers for the forward tape and the backward's temporaries.

A training step allocates the same large buffers every time (the state
history, saved gate values, projections). Fresh ``np.empty`` arrays of that
size come from ``mmap`` and are returned to the OS on release, so every step
paid for zero-filled pages again: measured on this machine, page faults were
29 % of an LSTM forward at (T, B, H) = (100, 32, 128). Buffers released after a
backward go back to a pool keyed by shape and dtype, and the next step reuses
them.

The pool keeps at most :data:`lstmlab.config.WORKSPACE_MAX_BYTES`
(``$LSTMLAB_WORKSPACE_MB``, default 1024 MiB) of idle buffers and drops the
oldest beyond that.
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict

import numpy as np

from . import config

_LOCK = threading.Lock()
_FREE: "OrderedDict[int, tuple]" = OrderedDict()  # id -> (key, array), oldest first
_BYTES = 0


def _key(shape, dtype):
    return tuple(int(s) for s in shape), np.dtype(dtype).str


def empty(shape, dtype) -> np.ndarray:
    """A C-contiguous array of ``shape`` and ``dtype`` (contents undefined)."""
    global _BYTES
    dtype = np.dtype(dtype)
    if math.prod(shape) * dtype.itemsize < config.WORKSPACE_MIN_BYTES:
        return np.empty(shape, dtype)  # small: malloc's heap is as fast as the pool (latency at B = 1)
    key = _key(shape, dtype)
    with _LOCK:
        for ident, (k, arr) in _FREE.items():
            if k == key:
                del _FREE[ident]
                _BYTES -= arr.nbytes
                return arr
    return np.empty(key[0], key[1])


def zeros(shape, dtype) -> np.ndarray:
    """Like :func:`empty`, filled with zeros."""
    arr = empty(shape, dtype)
    arr.fill(0)
    return arr


def give(*arrays) -> None:
    """Return arrays taken with :func:`empty`/:func:`zeros`; the caller must not use them again."""
    global _BYTES
    with _LOCK:
        for arr in arrays:
            if (arr is None or arr.nbytes < config.WORKSPACE_MIN_BYTES or not arr.flags.c_contiguous
                    or arr.base is not None or id(arr) in _FREE):
                continue
            _FREE[id(arr)] = (_key(arr.shape, arr.dtype), arr)
            _BYTES += arr.nbytes
        while _BYTES > config.WORKSPACE_MAX_BYTES and _FREE:
            _, (_, old) = _FREE.popitem(last=False)
            _BYTES -= old.nbytes
