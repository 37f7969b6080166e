r"""Seeing the vanishing gradient: how strongly a loss still feels an input k steps back.

For a loss :math:`\ell` read at a sequence's last step :math:`\tau` and inputs
:math:`x_t`, the curve

.. math::  g(k) = \operatorname{mean}_b \, \lVert \partial \ell_b / \partial x_{\tau_b - k, b} \rVert_2,
           \qquad k = 0, 1, \dots

is the sensitivity of the loss to the input at lag k. In a tanh RNN it decays
geometrically with k (the Jacobian is a product of k factors
:math:`\mathrm{diag}(1 - h^2) R`), so a dependency k steps long sends almost
nothing back to be learnt from; the LSTM's cell path (a product of forget-gate
values near 1) keeps it (Bengio, Simard & Frasconi 1994; Hochreiter &
Schmidhuber 1997, Sec. 3; Pascanu, Mikolov & Bengio 2013).

:func:`gradient_by_lag` measures it for a layer and a gradient at the last
output; :func:`model_gradient_by_lag` for a training model and a batch, with
the model's own loss at each sequence's last step.
"""
from __future__ import annotations

import numpy as np

__all__ = ["gradient_by_lag", "model_gradient_by_lag"]


def gradient_by_lag(layer, x, dy_last=None, *, lengths=None, seed: int = 0) -> np.ndarray:
    """Norm of the gradient reaching each input from the last step's output, by lag.

    Parameters
    ----------
    layer : lstmlab.RNN
    x : (T, B, D) array of the layer's dtype (time-major, whatever ``batch_first``)
    dy_last : (B, H * num_directions) gradient at each sequence's last output;
        None draws unit-norm random directions (seeded by ``seed``).
    lengths : (B,) valid lengths, or None for all T.

    Returns
    -------
    (T,) float64 array: entry k is the mean over the sequences that are at
    least k + 1 long of :math:`\\lVert \\partial (dy \\cdot y_{\\tau}) / \\partial x_{\\tau - k} \\rVert`.
    """
    if layer.batch_first:
        raise ValueError("layer: gradient_by_lag takes time-major x; build the layer with batch_first=False")
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"x: expected shape (T, B, D), got {x.shape}")
    T, B = x.shape[:2]
    last = _last_steps(lengths, T, B)
    y, _, ctx = layer.forward(x, lengths=lengths)
    if dy_last is None:
        g = np.random.default_rng(seed).standard_normal((B, y.shape[2]))
        dy_last = g / np.linalg.norm(g, axis=1, keepdims=True)
    dy_last = np.asarray(dy_last, dtype=y.dtype)
    if dy_last.shape != (B, y.shape[2]):
        raise ValueError(f"dy_last: expected shape {(B, y.shape[2])}, got {dy_last.shape}")
    dy = np.zeros_like(y)
    dy[last, np.arange(B)] = dy_last
    _, dx, _ = layer.backward(ctx, dy)
    return _by_lag(dx, last)


def model_gradient_by_lag(model, batch) -> np.ndarray:
    """:func:`gradient_by_lag` of a :class:`lstmlab.training.SequenceModel`, with the gradient
    of each sequence's own loss term at its last step (the readout's target there; not scaled
    by the batch size or the number of steps, so values compare across T and tasks).

    For tasks read at every step (copy) only the last step's term of the loss is
    used, so lag k is the distance from that output back to the input.
    Returns a (T,) float64 array indexed by lag.
    """
    z, feats, ctx, (T, B, H), _ = model._forward(batch)
    _, dz = model._loss(z, batch.targets, batch.weights)
    W = model.params["readout.W"]
    last = _last_steps(batch.lengths, T, B)
    # the losses are weighted means (sum of w * term / sum of w): dividing by each last step's
    # weight share turns dz into the gradient of that sequence's own last-step term
    if model.task.readout == "every":
        dz_last = dz[last, np.arange(B)]
        w = np.ones((T, B)) if batch.weights is None else np.asarray(batch.weights, float)
        w_last = w[last, np.arange(B)]
    else:
        dz_last = dz.reshape(B, -1)
        w = np.ones(B) if batch.weights is None else np.asarray(batch.weights, float)
        w_last = w
    share = np.divide(w_last, w.sum(), out=np.zeros(B), where=w_last > 0)
    dz_last = dz_last * np.divide(1.0, share, out=np.zeros(B), where=share > 0)[:, None]
    dy = np.zeros((T, B, H), model.dtype)
    dy[last, np.arange(B)] = dz_last @ W
    _, dx, _ = model.rnn.backward(ctx, dy)
    return _by_lag(dx, last)


def _last_steps(lengths, T, B):
    if lengths is None:
        return np.full(B, T - 1)
    lengths = np.asarray(lengths)
    if (lengths.shape != (B,) or B == 0 or not np.issubdtype(lengths.dtype, np.integer)
            or lengths.min() < 1 or lengths.max() > T):
        raise ValueError(f"lengths: expected {B} ints in [1, {T}], got {lengths!r}")
    return lengths.astype(np.int64) - 1


def _by_lag(dx, last):
    """Mean over sequences of |dx| at each lag back from each one's last step."""
    T, B = dx.shape[:2]
    norms = np.linalg.norm(dx.astype(np.float64), axis=2)        # (T, B)
    total, count = np.zeros(T), np.zeros(T)
    for b in range(B):
        n = last[b] + 1
        total[:n] += norms[n - 1::-1, b]
        count[:n] += 1
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)
