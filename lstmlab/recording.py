"""What a cell computes, step by step: every stage's named values and the states, by name.

:func:`record` runs a layer's ordinary forward, then recomputes each step's
pointwise maths from the tape (the states, the input projection and the
recurrent products the kernels used), with the variant's own stage functions
evaluated on whole ``(B, H)`` arrays. So every named output is available --
gate activations a variant saves for its backward and those it does not (the
GRU and MGU save none) -- for any variant, plugins included. Nothing changes
in the ordinary forward, which stays exactly as fast.

The variant's functions are bound to NumPy (``math.exp`` -> ``numpy.exp``,
:mod:`lstmlab.scalar`'s functions to their array versions); a function that
branches on a value falls back to ``numpy.vectorize`` (slower, same values).
CPU layers only.
"""
from __future__ import annotations

import math
import types

import numpy as np

from . import scalar
from .binding import bind_function
from .emit import layout
from .hostside import input_bias, unit_matrix

__all__ = ["record", "recordable_names"]


def _np_sigmoid(x):
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


_NP_MATH = types.SimpleNamespace(**{n: getattr(np, n) for n in (
    "exp", "log", "sqrt", "tanh", "sinh", "cosh", "sin", "cos", "tan", "expm1", "log1p", "fabs")})
_NP_MATH.atan, _NP_MATH.asinh, _NP_MATH.pi, _NP_MATH.e = np.arctan, np.arcsinh, math.pi, math.e
_NP_REPLACE = {math: _NP_MATH, scalar.sigmoid: _np_sigmoid, scalar.tanh: np.tanh, scalar.exp: np.exp,
               scalar.identity: lambda x: x, scalar.relu: lambda x: np.maximum(x, 0.0),
               scalar.relu_step: lambda x: (x > 0.0).astype(float)}


def recordable_names(variant) -> tuple:
    """The names :func:`record` returns for a variant: its state, then every stage's outputs."""
    from .registry import get_spec
    spec = get_spec(variant)
    out = list(spec.state)
    for st in spec.stages:
        out += [o for o in st.outputs if o not in out]
    return tuple(out)


def _stage_fn(spec, st):
    fn = bind_function(spec.cls, st.forward, replace=_NP_REPLACE)

    def call(*args):
        try:
            return fn(*args)
        except (TypeError, ValueError):  # a branch on a value: element by element
            vec = np.vectorize(st.forward, otypes=[float] * len(st.outputs))
            res = vec(*args)
            return res if isinstance(res, tuple) else (res,)
    return call


def _one_direction(spec, params, tape, H, want):
    lay = layout(spec)
    x, L = tape.x, tape.lengths
    T, B, _ = x.shape
    nst = len(spec.state)
    XP = x.reshape(T * B, -1) @ params["W"].T + input_bias(spec, params, x.dtype)
    XP = XP.reshape(T, B, -1)
    U = unit_matrix(spec, params, H, x.dtype)
    fns = [_stage_fn(spec, st) for st in spec.stages]
    out = {n: np.full((T, B, H), np.nan) for n in want}
    alive = (np.arange(T)[:, None] < L[None, :])  # (T, B): past a sequence's end nothing is computed
    for t in range(T):
        vals = {s: tape.Z[t, :, k * H:(k + 1) * H] for k, s in enumerate(spec.state)}
        for st, fn in zip(spec.stages, fns):
            a = {}
            for i, p in lay.stage_products(st.index):
                rb = params["b_" + p.name] if p.bias else 0.0
                prod = tape.P[i][t] @ params[p.name].T + rb
                for q, tgt in enumerate(p.targets):
                    a[tgt] = a.get(tgt, 0.0) + prod[:, q * H:(q + 1) * H]
            args = []
            for _, kind, key in st.fwd_args:
                if kind == "x":
                    args.append(XP[t, :, key * H:(key + 1) * H])
                elif kind == "a":
                    args.append(a[key])
                elif kind == "state":
                    args.append(vals[spec.state[key]])
                elif kind == "param":
                    args.append(np.broadcast_to(U[key], (B, H)))
                elif kind == "out":
                    args.append(vals[key])
                elif kind == "units":
                    args.append(float(H))
                else:
                    args.append(key)
            res = fn(*args)
            last = st.index == len(spec.stages) - 1
            for n, o in enumerate(st.outputs):
                v = np.broadcast_to(np.asarray(res[n], dtype=np.float64), (B, H))
                if o in st.row_outputs:  # a reduce stage's output: the sum over units, at every unit
                    v = np.broadcast_to(v.sum(axis=1, keepdims=True), (B, H))
                key = o if not (last and n < nst) else spec.state[n]
                vals[o if not (last and n < nst) else "_new_" + key] = v
                if key in out:
                    out[key][t] = np.where(alive[t][:, None], v, np.nan)
    return out


def record(layer, x, state=None, lengths=None, names=None) -> dict:
    """Per-step values of a forward, by name: ``{"layer{l}[.reverse].<name>": (T, B, H) float64}``.

    ``names``: which of :func:`recordable_names` (default all): the state
    variables (the new state after each step) and every stage's outputs (gate
    activations, saved values, reduce stages' sums). Positions past a
    sequence's end are NaN. ``x``, ``state``, ``lengths`` as for
    :meth:`lstmlab.RNN.forward`; time-major output even with ``batch_first``.
    With a projection (``proj_size``) the output state is recorded unprojected
    (H units: the cell's own h; the layer's output is ``proj @ h``).
    """
    if getattr(layer, "device", "cpu") != "cpu":
        raise ValueError("record: runs on CPU layers only (device='cpu'); copy the parameters into a CPU layer "
                         "with set_params")
    if getattr(layer, "_masked_spec", None) is not None and layer.training and layer.recurrent_dropout:
        raise ValueError("record: the layer drops its candidate in training mode (recurrent_dropout_form="
                         "'semeniuta'); record it in eval mode (layer.eval())")
    allowed = recordable_names(layer.spec.cls)
    want = allowed if names is None else tuple(names)
    bad = [n for n in want if n not in allowed]
    if bad:
        raise ValueError(f"names: {bad} are not computed by variant {layer.spec.name!r}; it computes {allowed}")
    y, _, ctx = layer.forward(x, state, lengths)
    out = {}
    H = layer.hidden_size
    for k, (prefix, _) in enumerate(layer._blocks()):
        p = {n.split(".")[-1]: v for n, v in layer.params.items() if n.rsplit(".", 1)[0] == prefix}
        tape = ctx.tapes[k]
        if getattr(layer, "proj_size", 0):  # the cell's own values: the kernels ran with R P on the unprojected h
            from .projection import effective_params
            p, tape = effective_params(layer.spec, p, H, layer.proj_size), tape.inner
        vals = _one_direction(layer.spec, p, tape, H, want)
        rev = prefix.endswith(".reverse")
        for n, v in vals.items():
            if rev:  # the reverse direction ran on each sequence reversed: put its steps back in order
                v = v[ctx.perms, np.arange(v.shape[1])]
            out[f"{prefix}.{n}"] = v
    ctx.release()  # give the tapes' buffers back; the context is spent
    return out
