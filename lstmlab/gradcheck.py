"""Finite-difference check of a variant's gradients, for researchers' own cells.

Central differences in float64 for every element of every parameter, of the
inputs and of the initial state, against :meth:`RNN.backward`, through a
random linear functional of the outputs and the final state.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .layer import RNN


@dataclass
class GradcheckReport:
    """Worst mismatch found; ``where`` names the tensor and index."""
    variant: str
    max_abs_error: float
    max_rel_error: float
    where: str
    checked: int
    passed: bool

    def __str__(self):
        verdict = "passed" if self.passed else "FAILED"
        return (f"gradcheck {self.variant}: {verdict}; {self.checked} values checked, worst "
                f"abs error {self.max_abs_error:.2e}, rel error {self.max_rel_error:.2e} at {self.where}")


def gradcheck(variant, *, input_size=2, hidden_size=3, seq_len=4, batch=2, num_layers=1,
              bidirectional=False, lengths=None, seed=0, eps=1e-6, atol=1e-6, rtol=1e-4,
              raise_on_failure=False, **options) -> GradcheckReport:
    """Compare analytic and finite-difference gradients of ``variant`` in float64.

    Parameters are drawn with ``init="torch"`` plus small random peepholes, so
    every path carries gradient. A value passes when
    ``|analytic - numeric| <= atol + rtol * |numeric|``. ``options`` go to
    :class:`lstmlab.RNN` (deterministic ones: ``proj_size``, ``layer_norm``).
    """
    rng = np.random.default_rng(seed)
    layer = RNN(variant, input_size, hidden_size, num_layers, bidirectional=bidirectional,
                dtype=np.float64, init="torch", seed=rng, **options)
    for name in layer.params:
        if name.rsplit(".", 1)[-1] in layer.spec.unit_params:
            layer.params[name] = rng.uniform(-0.5, 0.5, layer.params[name].shape)
    x = rng.standard_normal((seq_len, batch, input_size))
    n = num_layers * layer.num_directions
    state = tuple(rng.uniform(-0.5, 0.5, (n, batch, size)) for size in layer.state_sizes)
    y, fin, ctx = layer.forward(x, state, lengths)
    wy = rng.standard_normal(y.shape)
    ws = tuple(rng.standard_normal(s.shape) for s in fin)

    def loss():
        yy, ff, _ = layer.forward(x, state, lengths)
        return float((yy * wy).sum() + sum((f * w).sum() for f, w in zip(ff, ws)))

    grads, dx, ds0 = layer.backward(ctx, wy, ws)
    targets = [(f"params[{k!r}]", layer.params[k], grads[k]) for k in layer.params]
    targets.append(("x", x, dx))
    targets += [(f"state {s!r}", arr, g) for s, arr, g in zip(layer.spec.state, state, ds0)]
    worst_abs, worst_rel, where, count, ok = 0.0, 0.0, "-", 0, True
    for label, arr, g in targets:
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + eps
            lp = loss()
            arr[idx] = old - eps
            lm = loss()
            arr[idx] = old
            num = (lp - lm) / (2 * eps)
            err = abs(g[idx] - num)
            rel = err / max(abs(num), 1e-12)
            count += 1
            if err > atol + rtol * abs(num):
                ok = False
            if err > worst_abs:
                worst_abs, worst_rel, where = err, rel, f"{label}[{', '.join(map(str, idx))}]"
    rep = GradcheckReport(layer.spec.name, worst_abs, worst_rel, where, count, ok)
    if raise_on_failure and not ok:
        raise AssertionError(str(rep))
    return rep
