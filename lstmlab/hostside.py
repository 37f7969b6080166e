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


def zero_grads(spec, params, D, H, dt) -> dict:
    """Zero gradients of the matrices and biases of one direction of one layer, keyed like ``params``.

    The per-unit parameters' come from the kernels' ``dU`` (:func:`set_unit_grads`)."""
    G_ = len(spec.inputs)
    grads = {"W": np.zeros((G_ * H, D), dt), "b": np.zeros(G_ * H, dt)}
    for p in spec.products:
        grads[p.name] = np.zeros_like(params[p.name])
        if p.bias:
            grads["b_" + p.name] = np.zeros(params[p.name].shape[0], dt)
    return grads


def add_weight_grads(spec, grads, dXP2, x2, dA2s, P2s, at_b, colsum) -> None:
    """Add one span of steps' weight gradients into ``grads`` (NumPy arrays).

    ``dXP2 (n*B, G*H)``, ``x2 (n*B, D)`` and per product ``dA2 (n*B, N)``,
    ``P2 (n*B, K)`` are the span's rows; ``at_b(a, b)`` returns ``a.T @ b``
    and ``colsum(a)`` the column sums, both as NumPy arrays, computed
    wherever the backend keeps the rows.
    """
    grads["W"] += at_b(dXP2, x2)
    grads["b"] += colsum(dXP2)
    for p, dA2, P2 in zip(spec.products, dA2s, P2s):
        grads[p.name] += at_b(dA2, P2)
        if p.bias:
            grads["b_" + p.name] += colsum(dA2)


def set_unit_grads(spec, grads, dU) -> None:
    """The per-unit parameters' gradients, copied from the kernels' ``dU (n_unit_params, H)``."""
    for k, u in enumerate(spec.unit_params):
        grads[u] = dU[k].copy()
