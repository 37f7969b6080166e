"""Checks of what a caller hands an :class:`~lstmlab.RNN`: inputs, lengths, states.

Each check names the argument, what was expected and what was given, and
returns the array as the engines need it (time-major, C-contiguous, int64
lengths). Nothing reaches a compiled kernel without passing here: the
kernels do not check bounds.
"""
from __future__ import annotations

import numpy as np

from .arrayops import HOST, is_device_array
from .hostside import c_contiguous


def to_host(layer, arr, name):
    """A NumPy copy of a CUDA device array (the CUDA layer stages through the host)."""
    if not is_device_array(arr):
        return arr, False
    if layer.device != "cuda":
        raise TypeError(f"{name}: got a CUDA device array, but this layer runs on the CPU (device='cpu'); "
                        f"create it with device='cuda', or pass {name}.copy_to_host()")
    if hasattr(arr, "copy_to_host"):
        return arr.copy_to_host(), True
    from numba import cuda  # CuPy, PyTorch and other __cuda_array_interface__ arrays
    return cuda.as_cuda_array(arr).copy_to_host(), True

def check_x(layer, x, xp=HOST):
    """``x`` checked (shape, dtype, finite) and made time-major and C-contiguous; ``xp``: where it lives
    (:data:`lstmlab.arrayops.HOST`, or the device namespace of a stack kept on the GPU)."""
    if not xp.is_array(x):
        raise TypeError(f"x: expected {xp.kind}, got {type(x).__name__}")
    order = "(B, T, input_size)" if layer.batch_first else "(T, B, input_size)"
    if x.ndim != 3 or x.shape[2] != layer.input_size or 0 in tuple(x.shape):
        raise ValueError(f"x: expected shape {order} with input_size={layer.input_size} and T, B >= 1, "
                         f"got {tuple(x.shape)}")
    if x.dtype != layer.dtype:
        raise TypeError(f"x: expected dtype {layer.dtype} (the layer's dtype), got {x.dtype}")
    if xp.resident and not c_contiguous(x):
        raise ValueError("x: expected a C-contiguous device array (call .contiguous() on a tensor first)")
    if not xp.all_finite(x):
        raise ValueError("x: contains NaN or Inf")
    if layer.batch_first:
        x = xp.swap01(x)
    return xp.contiguous(x)

def check_lengths(layer, lengths, T, B):
    if lengths is None:
        return np.full(B, T, np.int64)
    arr = np.asarray(lengths)
    if arr.ndim != 1 or arr.shape[0] != B:
        raise ValueError(f"lengths: expected shape ({B},) (one per sequence), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"lengths: expected integers, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 1 or arr.max() > T):
        raise ValueError(f"lengths: expected values in [1, T={T}], got min {arr.min()}, max {arr.max()}")
    return np.ascontiguousarray(arr, dtype=np.int64)

def check_state(layer, state, B, name="state", xp=HOST) -> list:
    """``state`` (None: zeros, or a tuple of one array per state variable) checked: a list of
    (layers * directions, B, size) arrays, ``size`` from ``layer.state_sizes`` (hidden_size but with a projection).
    ``xp``: as :func:`check_x` (a stack on the GPU takes device arrays, or NumPy ones, which it copies over)."""
    n = layer.num_layers * layer.num_directions
    nst = len(layer.spec.state)
    sizes = getattr(layer, "state_sizes", (layer.hidden_size,) * nst)
    if state is None:
        return [xp.zeros((n, B, H), layer.dtype) for H in sizes]
    if not isinstance(state, (tuple, list)) or len(state) != nst:
        raise ValueError(f"{name}: expected a tuple of {nst} arrays {layer.spec.state}, got "
                         f"{type(state).__name__} of length {len(state) if hasattr(state, '__len__') else '?'}")
    out = []
    for s, v, H in zip(layer.spec.state, state, sizes):
        if xp.resident and isinstance(v, np.ndarray):
            from .cuda.ops import as_device
            v = as_device(v)
        if not xp.is_array(v) or tuple(v.shape) != (n, B, H):
            raise ValueError(f"{name} {s!r}: expected {'a device array' if xp.resident else 'an array'} of shape "
                             f"{(n, B, H)}, got "
                             f"{getattr(v, 'shape', type(v).__name__)}")
        if v.dtype != layer.dtype:
            raise TypeError(f"{name} {s!r}: expected dtype {layer.dtype}, got {v.dtype}")
        if xp.resident and not c_contiguous(v):
            raise ValueError(f"{name} {s!r}: expected a C-contiguous device array")
        if not xp.all_finite(v):
            raise ValueError(f"{name} {s!r}: contains NaN or Inf")
        out.append(v)
    return out


def check_params(layer, params) -> dict:
    """``params`` checked against the layer's names, shapes and dtype; C-contiguous arrays."""
    if not hasattr(params, "keys"):
        raise TypeError(f"params: expected a mapping of name -> array, got {type(params).__name__}")
    want = layer.param_shapes()
    missing = sorted(set(want) - set(params))
    extra = sorted(set(params) - set(want))
    if missing or extra:
        raise KeyError(f"params: missing {missing}, unexpected {extra} (variant {layer.spec.name!r}, "
                       f"expected {sorted(want)})")
    out = {}
    for k, shape in want.items():
        v = params[k]
        if not isinstance(v, np.ndarray):
            raise TypeError(f"params[{k!r}]: expected a numpy array, got {type(v).__name__}")
        if v.shape != shape:
            raise ValueError(f"params[{k!r}]: expected shape {shape}, got {v.shape}")
        if v.dtype != layer.dtype:
            raise TypeError(f"params[{k!r}]: expected dtype {layer.dtype}, got {v.dtype}")
        out[k] = np.ascontiguousarray(v)
    return out


def check_param(layer, name, value):
    """One assignment ``layer.params[name] = value``: a known name, its shape, the layer's dtype."""
    want = layer.param_shapes()
    if name not in want:
        from .registry import close_names
        close = close_names(name, want, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"params[{name!r}]: not a parameter of this layer{hint} (expected one of {sorted(want)})")
    if not isinstance(value, np.ndarray):
        raise TypeError(f"params[{name!r}]: expected a numpy array, got {type(value).__name__}")
    if value.shape != want[name]:
        raise ValueError(f"params[{name!r}]: expected shape {want[name]}, got {value.shape}")
    if value.dtype != layer.dtype:
        raise TypeError(f"params[{name!r}]: expected dtype {layer.dtype} (the layer's dtype), got {value.dtype}; "
                        f"convert it with .astype(np.{layer.dtype})")
    if not np.isfinite(value).all():
        raise ValueError(f"params[{name!r}]: contains NaN or Inf")
    return np.ascontiguousarray(value)
