"""Losses with their gradients, masked by per-example weights.

Each returns ``(loss, grad)`` where ``grad`` is d loss / d input, same shape
and dtype as the input. The loss is a weighted mean, so a padded or unscored
position (weight 0) contributes nothing and does not dilute the mean. The
arithmetic runs in float64 and the gradient is cast back, which costs nothing
at these sizes and keeps float32 losses honest.
"""
from __future__ import annotations

import numpy as np


def _weights(weights, shape, name):
    if weights is None:
        return np.ones(shape)
    w = np.asarray(weights, np.float64)
    if w.shape != shape:
        raise ValueError(f"{name}: expected weights of shape {shape}, got {w.shape}")
    if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
        raise ValueError(f"{name}: weights must be finite, >= 0 and not all zero")
    return w


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray, weights=None):
    r"""Mean softmax cross-entropy over the leading axes.

    logits: (..., K) float; labels: (...) int in [0, K); weights: (...) or None.

    .. math::  L = \frac{\sum_n w_n (\log\sum_k e^{z_{nk}} - z_{n,y_n})}{\sum_n w_n},
               \quad \frac{\partial L}{\partial z_{nk}} = \frac{w_n}{\sum w}(p_{nk} - [k = y_n])

    with :math:`p = \mathrm{softmax}(z)`, computed with the max subtracted.
    """
    K = logits.shape[-1]
    if labels.shape != logits.shape[:-1]:
        raise ValueError(f"labels: expected shape {logits.shape[:-1]} (logits without the class axis), "
                         f"got {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= K):
        raise ValueError(f"labels: expected classes in [0, {K}), got range [{labels.min()}, {labels.max()}]")
    w = _weights(weights, labels.shape, "softmax_cross_entropy")
    z = logits.astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=-1))
    picked = np.take_along_axis(z, labels[..., None], axis=-1)[..., 0]
    total = w.sum()
    loss = float((w * (lse - picked)).sum() / total)
    p = np.exp(z - lse[..., None])
    np.put_along_axis(p, labels[..., None], np.take_along_axis(p, labels[..., None], axis=-1) - 1.0, axis=-1)
    grad = p * (w / total)[..., None]
    return loss, grad.astype(logits.dtype)


def mse(pred: np.ndarray, target: np.ndarray, weights=None):
    r"""Mean squared error over all elements.

    pred, target: same shape (B, K); weights: (B,) per example or None.

    .. math::  L = \frac{\sum_{n,k} w_n (\hat y_{nk} - y_{nk})^2}{K \sum_n w_n},
               \quad \frac{\partial L}{\partial \hat y_{nk}} = \frac{2 w_n (\hat y_{nk} - y_{nk})}{K \sum_n w_n}
    """
    if pred.shape != target.shape:
        raise ValueError(f"target: expected the prediction's shape {pred.shape}, got {target.shape}")
    w = _weights(weights, pred.shape[:1], "mse")
    diff = pred.astype(np.float64) - target
    denom = w.sum() * (diff.size // max(diff.shape[0], 1))
    wb = w.reshape((-1,) + (1,) * (diff.ndim - 1))
    loss = float((wb * diff * diff).sum() / denom)
    return loss, (2.0 * wb * diff / denom).astype(pred.dtype)


LOSSES = {"xent": softmax_cross_entropy, "mse": mse}
