"""Optimisers, gradient clipping and learning-rate schedules.

Small pieces, each a formula with its reference. An optimiser updates a flat
dict of parameter arrays in place; its state is a flat dict of arrays named
``"{slot}/{param}"`` plus the step count, so a checkpoint stores it as is and
a resumed run continues bit for bit. Updates run in the parameters' dtype; the
formulas are PyTorch's (``torch.optim``), so its optimisers serve as oracles.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["Optimizer", "SGD", "RMSProp", "Adam", "OPTIMIZERS", "make_optimizer",
           "global_norm", "clip_by_global_norm", "clip_by_value", "CLIP_MODES", "SCHEDULES", "make_schedule"]


class Optimizer:
    """Base: ``init(params) -> state``; ``step(params, grads, state, lr)`` updates in place.

    ``state["count"]`` (an int64 array of shape ()) is the number of updates made.
    """

    name = ""
    slots: tuple = ()

    def init(self, params: dict) -> dict:
        state = {"count": np.zeros((), np.int64)}
        for slot in self.slots:
            for k, v in params.items():
                state[f"{slot}/{k}"] = np.zeros_like(v)
        return state

    def step(self, params: dict, grads: dict, state: dict, lr: float) -> None:
        state["count"] += 1
        t = int(state["count"])
        for k, p in params.items():
            self._update(k, p, grads[k], state, lr, t)

    def _update(self, k, p, g, state, lr, t):
        raise NotImplementedError

    def config(self) -> dict:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}


class SGD(Optimizer):
    r"""Stochastic gradient descent with (optionally Nesterov) momentum.

    .. math::  v \leftarrow \mu v + g, \qquad
               \theta \leftarrow \theta - \eta\,(g + \mu v \text{ if Nesterov else } v)

    Polyak (1964); Nesterov form as in Sutskever, Martens, Dahl & Hinton (2013), ICML.
    """

    name = "sgd"

    def __init__(self, momentum: float = 0.9, nesterov: bool = False):
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum: expected a value in [0, 1), got {momentum}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self.slots = ("velocity",) if momentum else ()

    def _update(self, k, p, g, state, lr, t):
        if not self.momentum:
            p -= p.dtype.type(lr) * g
            return
        v = state[f"velocity/{k}"]
        v *= v.dtype.type(self.momentum)
        v += g
        d = g + v.dtype.type(self.momentum) * v if self.nesterov else v
        p -= p.dtype.type(lr) * d


class RMSProp(Optimizer):
    r"""RMSProp (Tieleman & Hinton 2012, Coursera lecture 6.5).

    .. math::  s \leftarrow \rho s + (1-\rho) g^2, \qquad
               \theta \leftarrow \theta - \eta\, g / (\sqrt{s} + \epsilon)

    Arjovsky, Shah & Bengio (2016) train with :math:`\eta = 10^{-3}`, :math:`\rho = 0.9`.
    """

    name = "rmsprop"
    slots = ("square_avg",)

    def __init__(self, decay: float = 0.9, eps: float = 1e-8):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay: expected a value in [0, 1), got {decay}")
        if not eps > 0:
            raise ValueError(f"eps: expected a positive value, got {eps}")
        self.decay, self.eps = float(decay), float(eps)

    def _update(self, k, p, g, state, lr, t):
        s = state[f"square_avg/{k}"]
        f = p.dtype.type
        s *= f(self.decay)
        s += f(1.0 - self.decay) * g * g
        p -= f(lr) * g / (np.sqrt(s) + f(self.eps))


class Adam(Optimizer):
    r"""Adam (Kingma & Ba 2015, ICLR, arXiv:1412.6980).

    .. math::  m \leftarrow \beta_1 m + (1-\beta_1) g, \quad v \leftarrow \beta_2 v + (1-\beta_2) g^2,
               \quad \theta \leftarrow \theta - \eta\,\frac{m / (1-\beta_1^t)}{\sqrt{v / (1-\beta_2^t)} + \epsilon}
    """

    name = "adam"
    slots = ("exp_avg", "exp_avg_sq")

    def __init__(self, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        for arg, val in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= val < 1.0:
                raise ValueError(f"{arg}: expected a value in [0, 1), got {val}")
        if not eps > 0:
            raise ValueError(f"eps: expected a positive value, got {eps}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def _update(self, k, p, g, state, lr, t):
        f = p.dtype.type
        m, v = state[f"exp_avg/{k}"], state[f"exp_avg_sq/{k}"]
        m *= f(self.beta1)
        m += f(1.0 - self.beta1) * g
        v *= f(self.beta2)
        v += f(1.0 - self.beta2) * g * g
        c1 = 1.0 - self.beta1 ** t
        c2 = 1.0 - self.beta2 ** t
        p -= f(lr / c1) * m / (np.sqrt(v) / f(math.sqrt(c2)) + f(self.eps))


OPTIMIZERS = {"sgd": SGD, "rmsprop": RMSProp, "adam": Adam}


def make_optimizer(name: str, **options) -> Optimizer:
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer: expected one of {sorted(OPTIMIZERS)}, got {name!r}")
    return OPTIMIZERS[name](**options)


def global_norm(grads: dict) -> float:
    """:math:`\\sqrt{\\sum_k \\lVert g_k \\rVert^2}` over every array, in float64."""
    # Elementwise, not np.dot: numpy's BLAS is a second OpenBLAS beside the one the
    # kernels use, and waking its threads between steps was measured to slow the kernels 2-5x.
    return math.sqrt(sum(float(np.square(g, dtype=np.float64).sum()) for g in grads.values()))


def clip_by_global_norm(grads: dict, max_norm: float) -> float:
    r"""Scale every gradient by :math:`\min(1, c / \lVert g \rVert)` in place; return the norm before.

    Pascanu, Mikolov & Bengio (2013), "On the difficulty of training recurrent
    neural networks", ICML: clipping the global norm keeps the direction.
    """
    norm = global_norm(grads)
    if norm > max_norm:
        scale = max_norm / norm
        for g in grads.values():
            g *= g.dtype.type(scale)
    return norm


def clip_by_value(grads: dict, limit: float) -> float:
    r"""Clip every gradient entry to :math:`[-c, c]` in place; return the global norm before.

    Element-wise clipping changes the direction; it is what Arjovsky, Shah &
    Bengio's (2016) released code does (``T.clip(g, -1, 1)``) for the LSTM and RNNs.
    """
    norm = global_norm(grads)
    for g in grads.values():
        np.clip(g, -limit, limit, out=g)
    return norm


#: ``TrainConfig.clip_mode`` -> the clipping function.
CLIP_MODES = {"norm": clip_by_global_norm, "value": clip_by_value}


# -- schedules: step (0-based, the update about to be made) -> learning rate ----
def _constant(lr, steps, warmup, t):
    return lr


def _cosine(lr, steps, warmup, t):
    """Cosine decay to 0 after the warm-up (Loshchilov & Hutter 2017, without restarts)."""
    span = max(steps - warmup, 1)
    return lr * 0.5 * (1.0 + math.cos(math.pi * min(max(t - warmup, 0), span) / span))


def _linear(lr, steps, warmup, t):
    span = max(steps - warmup, 1)
    return lr * (1.0 - min(max(t - warmup, 0), span) / span)


SCHEDULES = {"constant": _constant, "cosine": _cosine, "linear": _linear}


def make_schedule(name: str, lr: float, steps: int, warmup: int = 0):
    """A function step -> learning rate: ``name`` after ``warmup`` steps of linear warm-up."""
    if name not in SCHEDULES:
        raise ValueError(f"schedule: expected one of {sorted(SCHEDULES)}, got {name!r}")
    if not isinstance(warmup, int) or warmup < 0 or warmup >= max(steps, 1) and warmup > 0:
        raise ValueError(f"warmup: expected an int in [0, steps={steps}), got {warmup!r}")
    rule = SCHEDULES[name]

    def schedule(t: int) -> float:
        base = rule(lr, steps, warmup, t)
        return base * (t + 1) / warmup if t < warmup else base
    return schedule
