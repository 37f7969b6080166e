"""A sequence model for the synthetic tasks: encoder, recurrent stack, linear readout.

::

    x  = onehot(symbols) or the task's real-valued inputs       (T, B, D)
    y  = RNN(variant)(x, lengths)                                (T, B, H)
    z  = y_t W_o^T + b_o   at every step, or at each sequence's last valid step
    loss = softmax cross-entropy (per step) or MSE (last step), as the task says

Parameters are one flat dict: the stack's ``layer{l}.*`` and ``readout.W``
(K, H), ``readout.b`` (K,). Arrays are updated in place by the optimisers, so
the dict, the layer and the checkpoint always agree.
"""
from __future__ import annotations

import math

import numpy as np

from .. import blas, regularise
from ..layer import RNN
from ..tasks import Batch, Task
from .losses import LOSSES


class SequenceModel:
    """A recurrent stack of one variant with a task's encoder, readout and loss.

    task : Task                      decides D, K, readout and loss
    variant : str or Variant class   hidden : int H   layers : int
    dtype : float32 or float64
    init, forget_bias, t_max, orthogonal, recurrent_init, recurrent_gain : as
        :class:`lstmlab.RNN`; ``init="chrono"``
        takes ``t_max`` from the task's longest dependency when not given.
    rng : numpy Generator (parameters are drawn from it)
    dropout : float in [0, 1)
        Dropout on the non-recurrent connections (Zaremba et al. 2014): between
        stacked layers (the layer's ``dropout``) and on the top layer's output
        before the readout, so that it acts with one layer too.
    weight_drop : float in [0, 1)
        DropConnect on the recurrent matrices (the layer's ``weight_drop``).
    recurrent_dropout : float in [0, 1)
        Variational dropout on the recurrent matrices' inputs (the layer's).
    zoneout : float in [0, 1) or {state: float}
        Zoneout on the states (the layer's ``zoneout``).
    layer_norm : None, "xh", "xh+cell" or "gates"
        Layer normalisation inside the cell (the layer's; deterministic).
    recurrent_dropout_form : "variational" or "semeniuta"
        What ``recurrent_dropout`` drops (the layer's): the recurrent inputs, or the candidate.
    proj_size : int
        0, or a projection of the output state (LSTMP; the layer's): the
        readout then reads ``proj_size`` units.

    They act in :meth:`loss_and_grads` (training) only, with masks from its
    ``rng``; :meth:`predict` and :meth:`loss` run the deterministic cell
    (zoneout's expectation).
    """

    def __init__(self, task: Task, variant, hidden: int, layers: int = 1, *, dtype=np.float32,
                 init: str = "default", forget_bias=None, t_max=None, orthogonal=False,
                 recurrent_init=None, recurrent_gain=1.0, rng: np.random.Generator | None = None,
                 dropout: float = 0.0, weight_drop: float = 0.0, recurrent_dropout: float = 0.0, zoneout=0.0,
                 layer_norm=None, proj_size: int = 0, recurrent_dropout_form: str = "variational"):
        rng = rng if rng is not None else np.random.default_rng(0)
        self.task = task
        if init == "chrono" and t_max is None:
            t_max = task.max_dependency
        self.rnn = RNN(variant, task.feature_size, hidden, layers, dtype=dtype, init=init,
                       forget_bias=forget_bias, t_max=t_max, orthogonal=orthogonal,
                       recurrent_init=recurrent_init, recurrent_gain=recurrent_gain, seed=rng,
                       dropout=dropout if layers > 1 else 0.0, weight_drop=weight_drop,
                       recurrent_dropout=recurrent_dropout, zoneout=zoneout, layer_norm=layer_norm,
                       proj_size=proj_size, recurrent_dropout_form=recurrent_dropout_form)
        self.dropout = regularise.check_probability("dropout", dropout, self.rnn.spec.name)
        self.dtype = self.rnn.dtype
        K = task.output_size
        F = self.rnn.output_size  # the readout's features: hidden, or proj_size
        bound = 1.0 / math.sqrt(F)
        self.readout = {"readout.W": rng.uniform(-bound, bound, (K, F)).astype(self.dtype),
                        "readout.b": np.zeros(K, self.dtype)}
        self.params = {**self.rnn.params, **self.readout}
        self._loss = LOSSES[task.loss]

    def load_params(self, params: dict) -> None:
        """Copy ``params`` into the model's arrays (names, shapes and dtypes checked first)."""
        for k, v in self.params.items():
            if k not in params:
                raise KeyError(f"params: missing {k!r}")
            if params[k].shape != v.shape or params[k].dtype != v.dtype:
                raise ValueError(f"params[{k!r}]: expected {v.dtype} {v.shape}, got "
                                 f"{params[k].dtype} {params[k].shape}")
        extra = sorted(set(params) - set(self.params))
        if extra:
            raise KeyError(f"params: unexpected {extra}")
        for k, v in self.params.items():
            v[...] = params[k]

    # -- compute -------------------------------------------------------------
    def encode(self, batch: Batch) -> np.ndarray:
        """(T, B, D) inputs of the recurrent stack in the model's dtype."""
        if self.task.n_symbols:
            T, B = batch.inputs.shape
            x = np.zeros((T, B, self.task.n_symbols), self.dtype)
            np.put_along_axis(x, batch.inputs[..., None], 1.0, axis=-1)
            return x
        return np.ascontiguousarray(batch.inputs, dtype=self.dtype)

    def _forward(self, batch: Batch, rng=None):
        """Outputs; with ``rng`` in training mode (masks drawn from it), else the deterministic cell."""
        x = self.encode(batch)
        self.rnn.train(rng is not None)
        y, _, ctx = self.rnn.forward(x, lengths=batch.lengths, rng=rng)
        W, b = self.params["readout.W"], self.params["readout.b"]
        T, B, H = y.shape
        if self.task.readout == "every":
            feats = y.reshape(T * B, H)
        else:
            last = (batch.lengths - 1) if batch.lengths is not None else np.full(B, T - 1)
            feats = np.ascontiguousarray(y[last, np.arange(B)])
        fmask = None
        if rng is not None and self.dropout:  # the top layer's output, before the readout
            fmask = regularise.mask(rng, feats.shape, self.dropout, self.dtype)
            feats = feats * fmask
        z = blas.a_b(feats, np.ascontiguousarray(W.T)) + b
        if self.task.readout == "every":
            z = z.reshape(T, B, -1)
        return z, feats, ctx, y.shape, fmask

    def predict(self, batch: Batch) -> np.ndarray:
        """Raw outputs: logits (T, B, K) or values (B, K)."""
        return self._forward(batch)[0]

    def loss(self, batch: Batch):
        """(loss, outputs) without gradients."""
        z = self.predict(batch)
        return self._loss(z, batch.targets, batch.weights)[0], z

    def loss_and_grads(self, batch: Batch, rng: np.random.Generator | None = None):
        """(loss, grads): grads has the keys of ``params``, each array's shape and dtype.

        rng: the masks of this step (training mode); None (or no option set)
        gives the deterministic cell's gradients.
        """
        masked = rng is not None and (self.dropout or self.rnn.stochastic)
        z, feats, ctx, (T, B, H), fmask = self._forward(batch, rng if masked else None)
        loss, dz = self._loss(z, batch.targets, batch.weights)
        W = self.params["readout.W"]
        K = W.shape[0]
        dz2 = np.ascontiguousarray(dz.reshape(-1, K))
        grads = {"readout.W": blas.at_b(dz2, feats), "readout.b": dz2.sum(axis=0)}
        dfeat = blas.a_b(dz2, W)
        if fmask is not None:
            dfeat *= fmask
        if self.task.readout == "every":
            dy = dfeat.reshape(T, B, H)
        else:
            last = (batch.lengths - 1) if batch.lengths is not None else np.full(B, T - 1)
            dy = np.zeros((T, B, H), self.dtype)
            dy[last, np.arange(B)] = dfeat
        if np.isfinite(dy).all():
            g, _, _ = self.rnn.backward(ctx, dy)
        else:  # a non-finite loss: the layer refuses such a dy; the training loop reports (or skips) the step
            g = {k: np.full_like(v, np.nan) for k, v in self.rnn.params.items()}
        grads.update(g)
        return loss, grads
