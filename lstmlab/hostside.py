"""Host-side preparation and gradient assembly shared by the CPU and CUDA engines.

The generated kernels (:mod:`lstmlab.emit`) take the parameters in one
layout and leave the weight gradients as whole-sequence products. What goes
in and what comes out is the same for both backends; only where the arrays
live and which matrix product runs differ, so the backends pass those in.
NumPy only: no Numba, no device code.
"""
from __future__ import annotations

import numpy as np

from .emit import layout


def unit_matrix(spec, params, H, dt) -> np.ndarray:
    """The per-unit parameters stacked as ``U (n_unit_params, H)``; ``(0, H)`` when there are none."""
    if not spec.unit_params:
        return np.zeros((0, H), dt)
    return np.ascontiguousarray(np.stack([params[u] for u in spec.unit_params]))


def product_bias(p, params, dt) -> np.ndarray:
    """Product ``p``'s bias ``(len(targets)*H,)``, zeros when it has none."""
    R = params[p.name]
    return params["b_" + p.name] if p.bias else np.zeros(R.shape[0], dt)


_ZERO_BIAS: dict = {}


def input_bias(spec, params, dt) -> np.ndarray:
    """The input projection's bias ``(len(inputs)*H,)``: ``params["b"]``, or shared zeros (read-only)
    for a variant without one (``input_bias = False``: a layer-normalised variant, whose shifts
    come after the normalisation)."""
    if spec.cls.input_bias:
        return params["b"]
    n = params["W"].shape[0]
    key = (n, np.dtype(dt))
    if key not in _ZERO_BIAS:
        z = np.zeros(n, dt)
        z.setflags(write=False)
        _ZERO_BIAS[key] = z
    return _ZERO_BIAS[key]


def backward_reads_x(spec) -> bool:
    """Whether a stage's backward reads an input block ``x_k`` (then XP is kept for it)."""
    return any(kind == "x" for st in spec.stages for _, kind, _ in st.bwd_args)


def n_grad_rows(spec) -> int:
    """Rows of the gradient accumulator G: the state plus every mid-step output."""
    return layout(spec).n_grad_rows


def pack_state(state0) -> np.ndarray:
    """``(nstate, B, H)`` -> the kernels' ``(B, nstate*H)`` row of Z."""
    nst, B, H = state0.shape
    return state0.transpose(1, 0, 2).reshape(B, nst * H)


def unpack_state(z, nst, H) -> np.ndarray:
    """A ``(B, nstate*H)`` row of Z -> ``(nstate, B, H)`` (a copy)."""
    return z.reshape(z.shape[0], nst, H).transpose(1, 0, 2).copy()


def add_weight_grads(spec, grads, dXP2, x2, dA2s, P2s, at_b, colsum) -> None:
    """Add one span of steps' weight gradients into ``grads`` (a dict of NumPy arrays).

    ``dXP2 (n*B, G*H)``, ``x2 (n*B, D)`` and per product ``dA2 (n*B, N)``,
    ``P2 (n*B, K)`` are the span's rows; ``at_b(a, b)`` returns ``a.T @ b``
    and ``colsum(a)`` the column sums, both as new NumPy arrays, computed
    wherever the backend keeps the rows. A key not yet in ``grads`` (the
    first span) is set to the span's gradient, so nothing is zero-filled.
    The per-unit parameters' gradients come from :func:`set_unit_grads`.
    """
    _add(grads, "W", at_b(dXP2, x2))
    if spec.cls.input_bias:
        _add(grads, "b", colsum(dXP2))
    for p, dA2, P2 in zip(spec.products, dA2s, P2s):
        _add(grads, p.name, at_b(dA2, P2))
        if p.bias:
            _add(grads, "b_" + p.name, colsum(dA2))


def _add(grads, key, value):
    if key in grads:
        grads[key] += value
    else:
        grads[key] = value


def set_unit_grads(spec, grads, dU) -> None:
    """The per-unit parameters' gradients, copied from the kernels' ``dU (n_unit_params, H)``."""
    for k, u in enumerate(spec.unit_params):
        grads[u] = dU[k].copy()


def _want(name, arr, shape, dtype, contiguous=False):
    """Raise a clear error unless ``arr`` has ``shape`` and ``dtype`` (and, if asked, is C-contiguous).

    Shapes are what keeps the kernels in bounds; the dtype keeps Numba from
    compiling a mixed-precision kernel (an error blaming the variant);
    contiguity is asked only where a kernel reshapes its argument.
    """
    try:
        if arr.shape == shape and arr.dtype == dtype and (not contiguous or c_contiguous(arr)):
            return  # the common case
    except AttributeError:
        raise TypeError(f"{name}: expected an array of shape {shape}, got {type(arr).__name__}") from None
    if tuple(arr.shape) != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {tuple(arr.shape)}")
    if np.dtype(arr.dtype) != dtype:
        raise TypeError(f"{name}: expected dtype {dtype}, got {np.dtype(arr.dtype)}")
    raise ValueError(f"{name}: expected a C-contiguous array")


def c_contiguous(arr) -> bool:
    """C order, for a NumPy array or a numba.cuda device array (whose ``flags`` is a dict)."""
    flags = arr.flags
    return flags["C_CONTIGUOUS"] if isinstance(flags, dict) else flags.c_contiguous


def check_forward(spec, params, x, state0, lengths) -> None:
    """Every array a forward hands the kernels, checked against the variant's layout.

    The compiled kernels do not check bounds; this is the boundary. x (T, B, D),
    state0 (nstate, B, H), lengths (B,) int64, params as
    :meth:`~lstmlab.spec.VariantSpec.param_shapes`, all one float dtype.
    (Length values need no check here: the kernels only compare steps with
    them; :mod:`lstmlab.validate` checks their meaning.)
    """
    if x.ndim != 3 or state0.ndim != 3:
        raise ValueError(f"x and state0: expected 3-D arrays, got shapes {x.shape} and {state0.shape}")
    T, B, D = x.shape
    H = state0.shape[2]
    dt = x.dtype
    if dt != np.float32 and dt != np.float64:
        raise TypeError(f"x: expected float32 or float64, got {dt}")
    _want("x", x, (T, B, D), dt, contiguous=True)  # the kernel reshapes it for the projection GEMM
    _want("state0", state0, (len(spec.state), B, H), dt)  # copied into Z
    _check_params(spec, params, D, H, dt, "params")
    _want("lengths", lengths, (B,), _INT64)


def input_masks(spec, masks, B, H, dt, rows=None) -> list:
    """Each product's input mask (B, len(source)*H), ``masks`` checked; when None, placeholders of
    ``rows`` rows (cached; 0 for the CPU kernels, whose mask pass runs over the mask's rows)."""
    if masks is None:
        return [_const((0 if rows is None else rows, len(p.source) * H), dt) for p in spec.products]
    if not isinstance(masks, (list, tuple)) or len(masks) != len(spec.products):
        given = f"{type(masks).__name__} of {len(masks)}" if isinstance(masks, (list, tuple)) else type(masks).__name__
        raise ValueError(f"recurrent_masks: expected a list of one mask per recurrent product of variant "
                         f"{spec.name!r} ({len(spec.products)}), got {given}")
    for p, m in zip(spec.products, masks):
        _want(f"recurrent_masks[{p.name!r}]", m, (B, len(p.source) * H), dt)
    return list(masks)


_CONST: dict = {}


def _const(shape, dt) -> np.ndarray:
    key = (shape, np.dtype(dt))
    a = _CONST.get(key)
    if a is None:
        if len(_CONST) > 64:  # a few shapes in use at a time; never an unbounded cache
            _CONST.clear()
        a = _CONST[key] = np.ones(shape, dt)  # writable: a read-only array would be a second Numba signature
    return a


def check_zoneout(ZM, T, B, n, dt) -> None:
    """A zoneout mask handed to the kernels: (T, B, nstate*H), the layer's dtype, C-contiguous."""
    if not isinstance(ZM, np.ndarray):
        raise TypeError(f"zoneout: expected a numpy array (the mask), got {type(ZM).__name__}")
    _want("zoneout", ZM, (T, B, n), dt, contiguous=True)


def check_step_masks(spec, SM, T, B, H, dt) -> tuple:
    """``(SM,)`` for a variant with step masks (T, B, nmask*H), checked; ``()`` for one without."""
    n = len(spec.cls.step_masks)
    if not n:
        if SM is not None:
            raise ValueError(f"step_masks: variant {spec.name!r} reads no per-step mask, got an array")
        return ()
    if not isinstance(SM, np.ndarray):
        raise TypeError(f"step_masks: variant {spec.name!r} reads per-step masks {spec.cls.step_masks}: expected "
                        f"a numpy array, got {type(SM).__name__}")
    _want("step_masks", SM, (T, B, n * H), dt, contiguous=True)
    return (SM,)


def _check_params(spec, params, D, H, dt, what):
    for name, shape in _param_shapes(spec, D, H):
        a = params.get(name)
        if a is None:
            raise KeyError(f"{what}: missing {name!r} (variant {spec.name!r})")
        if a.shape != shape or a.dtype != dt:  # inline: this runs for every parameter on every call
            _want(f"{what}[{name!r}]", a, shape, dt)


_INT64 = np.dtype(np.int64)
_SHAPES: dict = {}


def _param_shapes(spec, D, H) -> tuple:
    key = (id(spec), D, H)
    shapes = _SHAPES.get(key)
    if shapes is None or shapes[0] is not spec:
        shapes = _SHAPES[key] = (spec, tuple(spec.param_shapes(D, H).items()))
    return shapes[1]


def tape_signature(spec, x, H) -> tuple:
    """What identifies the buffers a forward made: the variant's spec, (T, B, D), H and the dtype."""
    return (spec, tuple(x.shape), H, x.dtype)


def check_backward(spec, tape, dY, dstate) -> None:
    """The tape and gradients a backward hands the kernels, checked against each other and the variant.

    The engine's forward checked every buffer it put on the tape and signed it
    (:func:`tape_signature`); a tape made by another variant's or size's
    forward is refused by that signature, before any kernel reads it. Only the
    caller's gradients need their shapes checked here.
    """
    if tape.Z is None:
        raise RuntimeError("tape: already released (its buffers were recycled); run forward again")
    nst = len(spec.state)
    if dY.ndim != 3:
        raise ValueError(f"dY: expected shape (T, B, H), got {dY.shape}")
    T, B, D = tape.x.shape
    H = dY.shape[2]
    made = getattr(tape, "made_by", ())
    if not made or made[0] is not spec or made[1] != (T, B, D) or made[2] != H or made[3] != tape.x.dtype:
        other = made[0].name if made else "an unknown forward"
        raise ValueError(f"tape: made by the forward of variant {other!r} with (T, B, D) = "
                         f"{made[1] if made else '?'} and H = {made[2] if made else '?'}; this backward is for "
                         f"variant {spec.name!r} with H = {H} (pass a tape to the backward of its own forward)")
    dt = tape.x.dtype
    _want("dY", dY, (T, B, H), dt, contiguous=True)
    _want("dstate", dstate, (nst, B, H), dt)  # copied into Gn
