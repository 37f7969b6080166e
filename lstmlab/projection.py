r"""A projection of the output state (LSTMP), for any variant that reads it only through its recurrent matrices.

Sak, Senior & Beaufays (2014), "Long Short-Term Memory Recurrent Neural
Network Architectures for Large Scale Acoustic Modeling" (Interspeech): the
output :math:`h_t` (H units) is projected to :math:`r_t = P h_t` (``proj_size``
units, :math:`P` of shape ``(proj_size, H)``), and :math:`r_t`, not
:math:`h_t`, is the layer's output and what the recurrent matrices read:
:math:`a_t = R\, r_{t-1}`, ``R`` of shape ``(gates * H, proj_size)``. This is
``torch.nn.LSTM(proj_size=...)``: its ``weight_hr_l{k}`` is ``P`` (here the
parameter ``proj``), its ``weight_hh_l{k}`` is ``R``, and ``h_n`` is
:math:`r_T`, ``(layers * directions, B, proj_size)``; ``c_n`` keeps H units.

How it runs. Since :math:`R\, r_{t-1} = (R P)\, h_{t-1}`, the compiled
kernels of the variant run unchanged with :math:`\tilde R = R P`; the output
projection is one GEMM over the whole sequence afterwards. The gradients
follow by the chain rule: :math:`\partial L/\partial R = \partial L/\partial
\tilde R\; P^\top`, :math:`\partial L/\partial P = R^\top \partial L/\partial
\tilde R + \sum_t (\partial L/\partial r_t)^\top h_t`. A given initial
:math:`r_0` is lifted to :math:`h_0 = P^+ r_0` (the minimum-norm solution of
:math:`P h_0 = r_0`, exact for a full-rank :math:`P`), so the first step reads
:math:`R P P^+ r_0 = R r_0`; the backward removes the lift's term from
:math:`\partial L/\partial P` and maps :math:`\partial L/\partial h_0` back to
:math:`\partial L/\partial r_0 = (P^+)^\top \partial L/\partial h_0`.

What it costs. The step product is :math:`\tilde R` (gates * H by H), as
without the projection: the result and the gradients are exact, but each step
is not cheaper than the unprojected cell, as it is in the paper's form
(gates * H by proj_size, then P). A variant whose pointwise maths reads the
output state itself (the GRU's :math:`z \odot h_{t-1}`, IndRNN) has no
projected form here and is refused, as is zoneout on the output state or
recurrent dropout (their masks would act on :math:`h`, not on :math:`r`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["check", "param_shapes", "init_params", "effective_params", "lift_matrix", "Projected"]

#: ``P P^T`` is solved for the lift of a given initial state; past this condition number the lift is not exact.
_MAX_CONDITION = 1e8


def check(spec, proj_size, hidden_size: int, zoneout: tuple, recurrent_dropout: float) -> int:
    """``proj_size`` validated (0 means no projection); ValueError naming the option and the variant."""
    if not isinstance(proj_size, (int, np.integer)) or isinstance(proj_size, bool) or proj_size < 0:
        raise ValueError(f"proj_size: expected a non-negative int (0: no projection), got {proj_size!r}")
    P = int(proj_size)
    if P == 0:
        return 0
    if P >= hidden_size:
        raise ValueError(f"proj_size: expected a size smaller than hidden_size={hidden_size} for variant "
                         f"{spec.name!r}, got {P}")
    out = spec.state[0]
    readers = [st.index for st in spec.stages for _, kind, key in st.fwd_args if kind == "state" and key == 0]
    if readers:
        raise ValueError(f"proj_size: variant {spec.name!r} reads its output state {out!r} in its pointwise maths "
                         f"(stage {readers[0]}), not only through its recurrent matrices, so it has no projected "
                         f"form; got proj_size={P}")
    if zoneout[0]:
        raise ValueError(f"proj_size: zoneout on the projected state {out!r} of variant {spec.name!r} is not "
                         f"supported (its mask would act on the unprojected state); zone out the other states, "
                         f"for example zoneout={{{spec.state[-1]!r}: p}}, got proj_size={P}")
    if recurrent_dropout:
        raise ValueError(f"proj_size: recurrent_dropout with a projection is not supported for variant "
                         f"{spec.name!r} (its mask would act on the unprojected state); got proj_size={P} and "
                         f"recurrent_dropout={recurrent_dropout}")
    return P


def _layout(spec, H: int, P: int):
    """Per product that reads the output state: ``(name, [(columns in R, columns in R~, projected?), ...])``,
    one entry per source state (R~ = R with the output state's P columns replaced by H)."""
    out = []
    for pr in spec.products:
        if spec.state[0] not in pr.source:
            continue
        parts, col, ecol = [], 0, 0
        for s in pr.source:
            w = P if s == spec.state[0] else H
            parts.append((slice(col, col + w), slice(ecol, ecol + H), w == P and s == spec.state[0]))
            col, ecol = col + w, ecol + H
        out.append((pr.name, parts))
    return out


def param_shapes(spec, shapes: dict, H: int, P: int) -> dict:
    """One direction's parameter shapes with the projection: ``proj`` (P, H), and R's columns of r P wide."""
    if not P:
        return shapes
    out = dict(shapes)
    for pr in spec.products:
        cols = sum(P if s == spec.state[0] else H for s in pr.source)
        out[pr.name] = (shapes[pr.name][0], cols)
    out["proj"] = (P, H)
    return out


def init_params(spec, params: dict, H: int, P: int, rng) -> dict:
    r"""One direction's initial parameters made projected: each R keeps the first ``P`` of its output state's
    H columns (a slice of a uniform or orthogonal draw keeps its distribution, or orthonormal columns), and
    ``proj`` is drawn uniform in :math:`\pm 1/\sqrt{H}`, as ``torch.nn.LSTM`` draws ``weight_hr``."""
    out = dict(params)
    for name, parts in _layout(spec, H, P):
        R = out[name]  # drawn with H columns per source state
        out[name] = np.ascontiguousarray(np.hstack([R[:, e][:, :P] if proj else R[:, e] for _, e, proj in parts]))
    dt = next(iter(params.values())).dtype
    out["proj"] = rng.uniform(-1 / np.sqrt(H), 1 / np.sqrt(H), (P, H)).astype(dt)
    return out


def effective_params(spec, params: dict, H: int, P: int) -> dict:
    """The parameters the kernels run with: ``proj`` left out, each R reading the output state replaced by
    R~ (its r columns times ``proj``; (gates*H, H) per projected source)."""
    proj = params["proj"]
    pe = {k: v for k, v in params.items() if k != "proj"}
    for name, parts in _layout(spec, H, P):
        R = params[name]
        pe[name] = np.ascontiguousarray(np.hstack([R[:, c] @ proj if pj else R[:, c] for c, _, pj in parts]))
    return pe


def lift_matrix(proj) -> np.ndarray:
    """``(P P^T)^-1 P`` (P, H) in float64: ``h_0 = r_0 @ lift`` solves ``P h_0 = r_0`` with the least norm.

    ValueError naming ``proj`` when ``P P^T`` is (nearly) singular: then a given r_0 has no exact lift.
    """
    p64 = proj.astype(np.float64)
    G = p64 @ p64.T
    cond = np.linalg.cond(G)
    if cond > _MAX_CONDITION:
        raise ValueError(f"proj: the projection (shape {proj.shape}) is (nearly) rank-deficient (condition "
                         f"number of P P^T {cond:.3g}), so a given initial state r_0 has no exact "
                         f"unprojected state; pass state=None or use a full-rank projection")
    return np.linalg.solve(G, p64)


@dataclass
class _Tape:
    inner: object            # the wrapped backend's tape
    params: dict             # the direction's parameters as given (R with P columns, proj)
    Y: np.ndarray            # (T, B, H): the unprojected outputs
    h_final: np.ndarray      # (B, H)
    h0: np.ndarray           # (B, H) the lifted initial state, or None for a zero one
    lift: np.ndarray = field(default=None)  # (P, H) = (P P^T)^-1 P, when computed


class Projected:
    """A backend (CPU, checkpointed or CUDA) run on a projected layer: :math:`\\tilde R = R P`, then ``Y P^T``.

    ``forward(spec, params, x, state0, ...)``: ``state0`` a list with the
    output state ``(B, proj_size)`` first and the others ``(B, H)``; returns
    ``(Y (T, B, proj_size), [final r, other final states], tape)``.
    ``backward(spec, tape, dY, dstate)`` takes ``dY`` (T, B, proj_size) and
    ``dstate`` in the same list form, and returns the gradients of the given
    parameters (``proj`` included), ``dx`` and the initial state's gradients.
    """

    def __init__(self, inner, H: int, P: int):
        self.inner, self.H, self.P = inner, H, P
        self.name = inner.name

    def forward(self, spec, params, x, state0, lengths, zoneout=None, recurrent_masks=None, step_masks=None):
        proj = params["proj"]
        r0 = state0[0]
        h0 = lift = None
        if np.any(r0):
            lift = lift_matrix(proj)
            h0 = (r0.astype(np.float64) @ lift).astype(r0.dtype)
        s0 = np.stack([h0 if h0 is not None else np.zeros((r0.shape[0], self.H), r0.dtype), *state0[1:]])
        Y, fin, tape = self.inner.forward(spec, effective_params(spec, params, self.H, self.P), x, s0, lengths, zoneout,
                                          recurrent_masks, step_masks)
        T, B, H = Y.shape
        Yp = (Y.reshape(T * B, H) @ proj.T).reshape(T, B, self.P)
        final = [fin[0] @ proj.T, *fin[1:]]
        return Yp, final, _Tape(tape, params, Y, np.array(fin[0]), h0, lift)

    def backward(self, spec, tape, dY, dstate):
        params, proj, P, H = tape.params, tape.params["proj"], self.P, self.H
        T, B, _ = dY.shape
        dYf = dY.reshape(T * B, P)
        dh = np.ascontiguousarray((dYf @ proj).reshape(T, B, H))
        ds = np.stack([dstate[0] @ proj, *dstate[1:]])
        g, dx, d0 = self.inner.backward(spec, tape.inner, dh, ds)
        dproj = dYf.T @ tape.Y.reshape(T * B, H) + dstate[0].T @ tape.h_final
        for name, parts in _layout(spec, H, P):
            dRe, R = g[name], params[name]
            g[name] = np.ascontiguousarray(np.hstack([dRe[:, e] @ proj.T if pj else dRe[:, e]
                                                      for _, e, pj in parts]))
            for c, e, pj in parts:
                if pj:
                    dproj += R[:, c].T @ dRe[:, e]
        if tape.lift is not None:
            dr0 = d0[0].astype(np.float64) @ tape.lift.T
        else:  # a zero initial state: (P^+)^T dL/dh_0 however P is conditioned
            dr0 = d0[0].astype(np.float64) @ np.linalg.pinv(proj.astype(np.float64))
        dr0 = dr0.astype(d0.dtype)
        if tape.h0 is not None:  # the lift's dependence on P cancels the first step's term of R^T dR~
            dproj -= dr0.T @ tape.h0
        g["proj"] = dproj.astype(proj.dtype)
        return g, dx, [dr0, *d0[1:]]

    def release(self, tape) -> None:
        self.inner.release(tape.inner)
