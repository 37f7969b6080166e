r"""Dropout between stacked layers, DropConnect on the recurrent weights, recurrent dropout, zoneout.

Dropout and DropConnect act around the compiled kernels, recurrent dropout
and zoneout inside them (both code generators emit them from the variant's
products and state, :mod:`lstmlab.emit`), so every variant (built-in,
subclassed, plugin) gets all four on its fast path, on the CPU and on CUDA:

- **dropout** (``p``), between stacked layers, as ``torch.nn.LSTM(dropout=p)``:
  the outputs of every layer but the last are multiplied by a fresh mask
  :math:`m_{t,b,k} \sim \mathrm{Bernoulli}(1-p)/(1-p)` per step, sequence and
  unit (inverted dropout: eval mode is the identity). Zaremba, Sutskever &
  Vinyals 2014, "Recurrent Neural Network Regularization" (dropout on the
  non-recurrent connections only).
- **weight_drop** (``p``), DropConnect on each recurrent matrix ``R`` of the
  variant (its products): :math:`\tilde R = R \odot M / (1-p)`, one mask
  :math:`M \sim \mathrm{Bernoulli}(1-p)` per matrix, drawn once per forward and
  shared by every step and sequence; :math:`\partial L/\partial R =
  M/(1-p) \odot \partial L/\partial \tilde R`. Wan et al. 2013, "Regularization
  of Neural Networks using DropConnect"; Merity, Keskar & Socher 2018,
  "Regularizing and Optimizing LSTM Language Models" (the weight-dropped LSTM,
  AWD-LSTM).
- **recurrent_dropout** (``p``), the variational form of Gal & Ghahramani
  2016, "A Theoretically Grounded Application of Dropout in Recurrent Neural
  Networks" (NeurIPS): the input of each recurrent matrix (each product's
  source, usually :math:`h_{t-1}`) is multiplied by a mask
  :math:`m \sim \mathrm{Bernoulli}(1-p)/(1-p)` drawn once per sequence and
  unit and shared by every step, :math:`R\,(m \odot h_{t-1})`; one mask per
  matrix, shared by the gates it feeds (their "tied" form). Eval mode is the plain cell.
- **zoneout** (``p`` per state variable), Krueger et al. 2017, "Zoneout:
  Regularizing RNNs by Randomly Preserving Hidden Activations" (ICLR): each
  unit of each state keeps its previous value with probability :math:`p_s`,
  :math:`s_t = z \odot s_{t-1} + (1-z) \odot \tilde s_t`,
  :math:`z \sim \mathrm{Bernoulli}(p_s)` per step, sequence and unit, where
  :math:`\tilde s_t` is the cell's new state; the output is the zoned
  :math:`h_t`. In eval mode :math:`z = p_s`, the expectation, as in the paper
  (so eval with zoneout is *not* the plain cell). The backward sends
  :math:`z \odot \partial L/\partial s_t` to :math:`s_{t-1}` directly and
  the rest through the cell. The paper's LSTM settings are :math:`p_c = 0.5,
  p_h = 0.05` (character-level Penn Treebank).

Masks come from a ``numpy.random.Generator`` passed to the forward (the
training loop derives one from the run's seed and step, so a resumed run draws
the same masks); the backward multiplies by the same masks, so gradients are
exact for the sampled network. In eval mode nothing is drawn and the layer is
the deterministic cell (with zoneout: the expectation above).
"""
from __future__ import annotations

import math
import warnings

import numpy as np


def spawn_generator(rng: np.random.Generator) -> np.random.Generator:
    """A generator of its own, spawned from ``rng``'s seed sequence: nothing is drawn from ``rng``."""
    try:
        return np.random.default_rng(rng.bit_generator.seed_seq.spawn(1)[0])
    except (AttributeError, TypeError):  # a bit generator without a spawnable seed sequence
        return np.random.default_rng(0x6D61736B)


def check_probability(name: str, p, variant: str) -> float:
    """``p`` as a float in [0, 1); a clear error naming the option and the variant otherwise."""
    if not isinstance(p, (int, float, np.integer, np.floating)) or isinstance(p, bool) or not math.isfinite(p) \
            or not 0 <= p < 1:
        raise ValueError(f"{name}: expected a probability in [0, 1) for variant {variant!r}, got {p!r}")
    return float(p)


def check_recurrent(spec, name: str, p) -> float:
    """An option acting on the recurrent matrices: a probability, and 0 for a variant without one."""
    p = check_probability(name, p, spec.name)
    if p and not spec.products:
        raise ValueError(f"{name}: expected 0 for variant {spec.name!r}, which has no recurrent matrix, "
                         f"got {p!r}")
    return p


def check_options(spec, dropout, weight_drop, num_layers: int) -> tuple[float, float]:
    """Validated ``(dropout, weight_drop)`` for a stack of ``num_layers`` layers of ``spec``."""
    dropout = check_probability("dropout", dropout, spec.name)
    weight_drop = check_recurrent(spec, "weight_drop", weight_drop)
    if dropout and num_layers < 2:  # as torch.nn.LSTM: a warning, not an error
        warnings.warn(f"dropout={dropout}: acts between stacked layers, so it does nothing with num_layers="
                      f"{num_layers} (variant {spec.name!r})", stacklevel=3)
    return dropout, weight_drop


def mask(rng: np.random.Generator, shape, p: float, dtype) -> np.ndarray:
    """An inverted-dropout mask: 0 with probability p, else 1 / (1 - p); ``dtype`` as the layer."""
    keep = rng.random(shape) >= p
    return (keep * (1.0 / (1.0 - p))).astype(dtype)


def input_masks(spec, rng, p: float, B: int, H: int, dtype) -> list:
    """Recurrent dropout's masks: one (B, len(source)*H) inverted-dropout mask per product, per sequence."""
    return [mask(rng, (B, len(pr.source) * H), p, dtype) for pr in spec.products]


def drop_weights(spec, params: dict, p: float, rng, dtype, mul=np.multiply) -> tuple[dict, dict]:
    """One direction's parameters with each recurrent matrix masked: ``(params', {name: mask})``.
    ``mul(a, m)``: the product where the parameters live (NumPy's; a device one for a stack on the GPU)."""
    masks = {pr.name: mask(rng, tuple(params[pr.name].shape), p, dtype) for pr in spec.products}
    out = dict(params)
    for name, m in masks.items():
        out[name] = mul(params[name], m)
    return out, masks


def weight_grads(grads: dict, masks: dict, mul=np.multiply) -> None:
    """The gradient of each dropped matrix: ``dR = mask * dR~`` (``mul`` as in :func:`drop_weights`)."""
    for name, m in masks.items():
        grads[name] = mul(grads[name], m)


def check_zoneout(spec, zoneout) -> tuple:
    """Zoneout probabilities per state variable (``spec.state`` order).

    ``zoneout``: one probability for every state, or ``{state name: p}``
    (states not named get 0), each in [0, 1).
    """
    if isinstance(zoneout, dict):
        unknown = [k for k in zoneout if k not in spec.state]
        if unknown:
            raise ValueError(f"zoneout: expected probabilities for states of variant {spec.name!r} "
                             f"{spec.state}, got unknown state(s) {unknown}")
        return tuple(check_probability(f"zoneout[{s!r}]", zoneout.get(s, 0.0), spec.name) for s in spec.state)
    p = check_probability("zoneout", zoneout, spec.name)
    return (p,) * len(spec.state)


def describe_zoneout(spec, probs: tuple):
    """The compact form of :func:`check_zoneout`'s result: 0.0, one float, or a dict of the non-zero states."""
    if len(set(probs)) == 1:
        return probs[0]
    return {s: p for s, p in zip(spec.state, probs) if p}


def zone_mask(rng, probs: tuple, T: int, B: int, H: int, training: bool, dtype) -> np.ndarray:
    """The zoneout mask ``ZM`` (T, B, nstate*H): Bernoulli(p_s) draws in training, p_s in eval."""
    p = np.asarray(probs, dtype=np.float64)[:, None]  # (nstate, 1): state block s, every unit
    if training:
        z = rng.random((T, B, len(probs), H)) < p
        return z.astype(dtype).reshape(T, B, len(probs) * H)
    return np.ascontiguousarray(np.broadcast_to(p.astype(dtype), (T, B, len(probs), H))).reshape(
        T, B, len(probs) * H)
