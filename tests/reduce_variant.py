"""A test-only variant with reduction stages: an Elman RNN whose pre-activation is layer-normalised.

    pre_t = W x_t + b + R h_{t-1}
    mu_t = mean_j pre_t[j],  var_t = mean_j (pre_t[j] - mu_t)^2
    h_t = tanh(gain * (pre_t - mu_t) / sqrt(var_t + EPS))

Stages: a pointwise stage computing ``pre``, two ``kind="reduce"`` stages for
the mean and the variance (sums over units of per-unit terms divided by
``n_units``), and the final pointwise stage. Every backward is derived by
sympy. Imported by the tests (and run as a script in the CUDA simulator).
"""
import math

from lstmlab.scalar import tanh
from lstmlab.variant import Product, Stage, Variant


class LayerNormElman(Variant):
    reference = "test: Elman RNN with a layer-normalised pre-activation (reduce stages)"
    inputs = ("n",)
    state = ("h",)
    unit_params = ("gain",)
    gated = False
    EPS = 1e-5
    stages = (Stage(products=(Product(("h",), ("n",)),), outputs=("pre",), forward="f_pre", backward=None),
              Stage(products=(), outputs=("mu",), forward="f_mu", backward=None, kind="reduce"),
              Stage(products=(), outputs=("var",), forward="f_var", backward=None, kind="reduce"),
              Stage(products=(), outputs=("h",), forward="f_out", backward=None))

    @classmethod
    def init_unit_param(cls, name, hidden, rng):
        import numpy as np
        return np.ones(hidden)

    @staticmethod
    def f_pre(x_n, a_n):
        return (x_n + a_n,)

    @staticmethod
    def f_mu(pre, n_units):
        return (pre / n_units,)

    @staticmethod
    def f_var(pre, mu, n_units):
        d = pre - mu
        return (d * d / n_units,)

    @staticmethod
    def f_out(pre, mu, var, gain):
        return (tanh(gain * (pre - mu) / math.sqrt(var + EPS)),)


def torch_reference(params, x, h0, lengths=None):
    """The same maths in torch, for autograd: x (T, B, D), h0 (B, H); params as torch tensors."""
    import torch
    T = x.shape[0]
    h, ys = h0, []
    for t in range(T):
        pre = x[t] @ params["W"].T + params["b"] + h @ params["R"].T
        mu = pre.mean(dim=1, keepdim=True)
        var = ((pre - mu) ** 2).mean(dim=1, keepdim=True)
        new = torch.tanh(params["gain"] * (pre - mu) / torch.sqrt(var + LayerNormElman.EPS))
        if lengths is not None:
            alive = (torch.as_tensor(lengths) > t).to(x.dtype)[:, None]
            ys.append(new * alive)
            h = alive * new + (1 - alive) * h
        else:
            ys.append(new)
            h = new
    return torch.stack(ys), h
