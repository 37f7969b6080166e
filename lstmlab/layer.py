"""The recurrent layer: stacked, optionally bidirectional, variable-length.

Conventions follow ``torch.nn.LSTM``: time-major ``(T, B, D)`` input unless
``batch_first``; output ``(T, B, num_directions * H)``; the state is a tuple
with one array per state variable of the variant (``(h, c)`` for the LSTM
family, ``(h,)`` for GRU), each ``(num_layers * num_directions, B, H)``,
ordered layer by layer, forward direction first.

Parameters are a flat mapping ``"layer{l}[.reverse].{name}"`` -> array, with
``name`` from the variant (``W``, ``b``, ``R``, ``b_R``, peepholes ``p_i``...).
With ``proj_size`` (:mod:`lstmlab.projection`) the output state and the output
have ``proj_size`` units, and each direction has a ``proj`` (proj_size, H).
"""
from __future__ import annotations

import weakref

import numpy as np

from . import backends, candidate_dropout, layernorm, memory, parallel, projection, regularise, validate
from .arrayops import HOST, is_device_array
from .init import init_params
from .registry import get_spec

DTYPES = (np.float32, np.float64)
#: Forwards of more than this many T*B*H values check their memory estimate first.
_CHECK_MEMORY_ABOVE = 1 << 22


class Context:
    """What :meth:`RNN.forward` keeps for :meth:`RNN.backward`."""
    xp = HOST          # where the stack's arrays live (arrayops.HOST, or the device namespace)
    perm_x = None      # the reversal index where the arrays live (bidirectional)
    own_params = True  # the layer's own parameters (else the caller's device arrays: device gradients)

    def __init__(self, tapes, perms, T, B, batch_first, backend, on_device=False, owner=None, version=0,
                 weight_masks=None, drop_masks=None, spec=None):
        self.tapes, self.perms = tapes, perms  # one engine tape per direction of each layer
        self.spec = spec  # the variant the tapes ran (with candidate dropout: its masked form)
        self.weight_masks = weight_masks  # per direction of each layer: {R name: DropConnect mask}, or None
        self.drop_masks = drop_masks      # per layer but the last: the dropout mask of its output, or None
        self.T, self.B, self.batch_first = T, B, batch_first
        self.backend = backend  # the backend that made the tapes runs their backward
        self.on_device = on_device  # device arrays came in: device arrays go out
        self.owner, self.version = owner, version  # the layer and parameter version that made it
        self.released = False

    def release(self) -> None:
        """Give every tape's buffers back to the workspace (once); the context is spent afterwards."""
        if not self.released:
            for tape in self.tapes:
                self.backend.release(tape)
            self.released = True


class Params(dict):
    """A layer's parameters, ``name -> array``: an assignment is checked and counted.

    Assigning ``params[name] = array`` checks the name, shape and dtype against
    the layer (a clear error, never a kernel handed the wrong buffer) and
    increments the layer's :attr:`RNN.params_version`, so a context made
    before the assignment is refused by :meth:`RNN.backward`. Updating an
    array in place (what the optimisers do) is not counted. Entries cannot be
    removed. Pickled or copied, it is a plain dict.
    """

    def __init__(self, layer, items=()):
        super().__init__()
        self._layer = weakref.ref(layer)
        for k, v in dict(items).items():
            super().__setitem__(k, v)

    def __setitem__(self, name, value):
        if dict.get(self, name) is value:  # ``params[k] *= 0.5`` updates in place, then stores the same array
            return
        layer = self._layer()
        if layer is not None:
            value = validate.check_param(layer, name, value)
            layer.params_version += 1
        super().__setitem__(name, value)

    def update(self, *args, **kw):
        for k, v in dict(*args, **kw).items():
            self[k] = v

    def setdefault(self, name, value=None):
        if name not in self:
            self[name] = value
        return self[name]

    def _refuse(self, *args, **kw):
        raise TypeError("params: entries cannot be removed from a layer's parameters (replace them, or use "
                        "set_params)")

    __delitem__ = pop = popitem = clear = _refuse

    def __reduce__(self):
        return dict, (dict(self),)


class RNN:
    """A stack of recurrent layers of one variant, on the CPU or a CUDA GPU.

    Parameters
    ----------
    variant : str or Variant subclass
        A registered name (``lstmlab.names()``) or a class.
    input_size, hidden_size : int
        D and H.
    num_layers : int, bidirectional : bool, batch_first : bool
        As in ``torch.nn.LSTM``.
    dtype : numpy.float32 or numpy.float64
    init : {"default", "torch", "chrono"}; forget_bias, t_max
        The bias scheme; see :mod:`lstmlab.init`.
    recurrent_init : {None, "default", "orthogonal", "identity"}; recurrent_gain
        The recurrent weights, independently of ``init``; None takes the
        variant's default ("identity" for the IRNN). "identity" (times
        ``recurrent_gain``) is for non-gated cells only. ``orthogonal=True``
        is an alias of ``recurrent_init="orthogonal"``.
    seed : int or numpy.random.Generator
    device : {"cpu", "cuda"}
        "cuda" runs the kernels of :mod:`lstmlab.cuda` (needs numba-cuda and a
        GPU, or the CUDA simulator); inputs may then be NumPy or CUDA device
        arrays, and outputs come back as the same kind. Parameters stay NumPy.
    cuda_kernels : {"step", "persistent"}
        With device="cuda": a launch per product and stage per step, or the
        persistent kernels (one cooperative launch per sequence, recurrent
        weights in shared memory; Diamos et al. 2016), which fall back to the
        step kernels with a warning when the weights do not fit on-chip.
    dropout : float in [0, 1)
        Dropout on the outputs of every layer but the last (``torch.nn.LSTM``'s).
    weight_drop : float in [0, 1)
        DropConnect on every recurrent matrix, one mask per forward (AWD-LSTM's
        weight drop).
    recurrent_dropout : float in [0, 1)
        Variational recurrent dropout (Gal & Ghahramani 2016): the input of
        every recurrent matrix times a mask drawn once per sequence, inside
        the compiled kernels.
    recurrent_dropout_form : {"variational", "semeniuta"}
        "semeniuta": ``recurrent_dropout`` drops the candidate only (the LSTM's
        g, the GRU's n), with a mask per step (Semeniuta et al. 2016,
        "Recurrent Dropout without Memory Loss"; :mod:`lstmlab.candidate_dropout`),
        for variants that declare a ``candidate_block``.
    zoneout : float in [0, 1), or {state name: float}
        Zoneout (Krueger et al. 2017) on every state variable, or on the
        named ones (``{"c": 0.5, "h": 0.05}`` for the LSTM): each unit keeps
        its previous value with that probability, per step, inside the
        compiled kernels.

    layer_norm : {None, "xh", "xh+cell", "gates"}
        Layer normalisation inside the cell (see :mod:`lstmlab.layernorm`):
        the input and recurrent pre-activations separately ("xh"; Ba et al.
        2016's eq. 20 without their cell normalisation), the same plus the cell before the output activation
        ("xh+cell"; Ba et al.'s eq. 22, haste's LayerNormLSTM), or each gate
        on its own ("gates"; TensorFlow contrib's LayerNormBasicLSTMCell). The
        input projection then has no ``b``; learnable gains and shifts per
        unit take its place. Deterministic: it acts in train and eval alike.
    proj_size : int
        0 (none), or the size of a projection of the output state (LSTMP;
        Sak et al. 2014; ``torch.nn.LSTM(proj_size=...)``): the output, the
        output state and what the recurrent matrices read have ``proj_size``
        units (see :mod:`lstmlab.projection`). For variants that read the
        output state only through their recurrent matrices.

    The four stochastic options act in training mode (``train()``, the default, as torch) and
    draw their masks from the forward's ``rng``; ``eval()`` gives the
    deterministic cell, which with zoneout is its expectation (the paper's
    rule). See :mod:`lstmlab.regularise`.
    """

    def __init__(self, variant, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 bidirectional: bool = False, batch_first: bool = False, dtype=np.float32,
                 init: str = "default", forget_bias: float | None = None, t_max: float | None = None,
                 orthogonal: bool = False, recurrent_init: str | None = None, recurrent_gain: float = 1.0,
                 seed=0, device: str = "cpu", cuda_kernels: str = "step", dropout: float = 0.0,
                 weight_drop: float = 0.0, recurrent_dropout: float = 0.0, zoneout=0.0, layer_norm=None,
                 proj_size: int = 0, recurrent_dropout_form: str = "variational"):
        self.layer_norm = layernorm.check_kind(layer_norm)
        self.spec = layernorm.normalise(get_spec(variant), self.layer_norm)
        self.backend = backends.select(device, cuda_kernels)
        self.device = device
        for arg, val in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if not isinstance(val, (int, np.integer)) or isinstance(val, bool) or val < 1:
                raise ValueError(f"{arg}: expected a positive int, got {val!r}")
        try:
            given = np.dtype(dtype) if dtype is not None else None  # np.dtype(None) would be float64
        except TypeError:
            given = None
        if given is None or given not in [np.dtype(d) for d in DTYPES]:
            raise TypeError(f"dtype: expected float32 or float64, got {given if given is not None else repr(dtype)}")
        for arg, val in (("bidirectional", bidirectional), ("batch_first", batch_first)):
            if not isinstance(val, (bool, np.bool_)):
                raise TypeError(f"{arg}: expected True or False, got {val!r}")
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        if self.layer_norm is not None and self.hidden_size < 2:
            raise ValueError(f"layer_norm={self.layer_norm!r}: normalises over the hidden units, so it needs "
                             f"hidden_size >= 2; got hidden_size={self.hidden_size} for variant {self.spec.name!r}")
        self.bidirectional, self.batch_first = bool(bidirectional), bool(batch_first)
        self.dtype = np.dtype(dtype)
        self.num_directions = 2 if bidirectional else 1
        if not isinstance(seed, np.random.Generator) and not (
                isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0):
            raise ValueError(f"seed: expected a non-negative int or a numpy.random.Generator, got {seed!r}")
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self._dropout, self._weight_drop = regularise.check_options(self.spec, dropout, weight_drop, self.num_layers)
        self._zoneout = regularise.check_zoneout(self.spec, zoneout)
        self._recurrent_dropout = regularise.check_recurrent(self.spec, "recurrent_dropout", recurrent_dropout)
        self.recurrent_dropout_form = candidate_dropout.check_form(recurrent_dropout_form)
        # the masked form's kernels, made (and checked) now so an unsuitable variant is refused at once
        self._masked_spec = candidate_dropout.masked(self.spec) if recurrent_dropout_form == "semeniuta" else None
        self.proj_size = projection.check(self.spec, proj_size, self.hidden_size, self._zoneout,
                                          self._variational_dropout)
        self.training = True
        # masks when forward is given no rng: a stream spawned from rng's seed, which draws nothing from rng
        # (the parameters below are what they were before the options existed)
        self._mask_rng = regularise.spawn_generator(rng)
        need = memory.param_count(self.spec, self.input_size, self.hidden_size, self.num_layers,
                                  self.num_directions) * 8 * 2  # drawn in float64, then cast
        memory.check_fits(f"RNN({self.spec.name!r}, input_size={self.input_size}, hidden_size={self.hidden_size}, "
                          f"num_layers={self.num_layers})", need, advice="use a smaller hidden_size or fewer layers")
        self.params_version = 0
        params = {}
        for prefix, d_in in self._blocks():
            p = init_params(self.spec, d_in, hidden_size, rng, dtype=self.dtype, scheme=init,
                            forget_bias=forget_bias, t_max=t_max, orthogonal=orthogonal,
                            recurrent_init=recurrent_init, recurrent_gain=recurrent_gain)
            if self.proj_size:
                p = projection.init_params(self.spec, p, self.hidden_size, self.proj_size, rng)
            params.update({f"{prefix}.{k}": v for k, v in p.items()})
        self._params = Params(self, params)
        self._built = True

    #: Fixed once the layer is made: its parameters and kernels depend on them.
    _FIXED = frozenset({"spec", "layer_norm", "input_size", "hidden_size", "num_layers", "bidirectional",
                        "num_directions", "dtype", "device", "backend", "proj_size", "recurrent_dropout_form"})

    def __setattr__(self, name, value):
        if name in self._FIXED and self.__dict__.get("_built"):
            raise AttributeError(f"{name}: fixed when the layer is made (its parameters and kernels depend on it); "
                                 f"make a new lstmlab.RNN, or copy parameters into one with set_params")
        super().__setattr__(name, value)

    @property
    def params(self) -> Params:
        """``"layer{l}[.reverse].{name}" -> array`` (see :class:`Params`)."""
        return self._params

    @params.setter
    def params(self, value):
        self.set_params(value)

    # -- structure -----------------------------------------------------------
    def _blocks(self):
        """(prefix, input size) for each direction of each layer, in state order."""
        for layer in range(self.num_layers):
            d_in = self.input_size if layer == 0 else self.output_size * self.num_directions
            for d in range(self.num_directions):
                yield f"layer{layer}" + (".reverse" if d else ""), d_in

    def block_params(self, prefix: str, params=None) -> dict:
        """One direction of one layer's parameters by their short names (``W``, ``R``, ...); ``prefix``
        as in :meth:`params` (``layer0``, ``layer1.reverse``); from ``params`` (full names) when given."""
        src = self.params if params is None else params
        return {n.split(".")[-1]: v for n, v in src.items() if n.rsplit(".", 1)[0] == prefix}

    def param_shapes(self) -> dict:
        shapes = {}
        for prefix, d_in in self._blocks():
            one = projection.param_shapes(self.spec, self.spec.param_shapes(d_in, self.hidden_size),
                                          self.hidden_size, self.proj_size)
            for k, s in one.items():
                shapes[f"{prefix}.{k}"] = s
        return shapes

    @property
    def output_size(self) -> int:
        """Units of each direction's output: ``proj_size`` with a projection, else ``hidden_size``."""
        return self.proj_size or self.hidden_size

    @property
    def state_sizes(self) -> tuple:
        """Units of each state variable (``state_names`` order): the output state has ``output_size``."""
        return (self.output_size,) + (self.hidden_size,) * (len(self.spec.state) - 1)

    @property
    def state_names(self) -> tuple:
        return self.spec.state

    def set_params(self, params: dict) -> None:
        """Replace all parameters; checks names, shapes and dtype, copies nothing silently."""
        self._params = Params(self, self.check_params(params))
        self.params_version += 1

    def check_params(self, params) -> dict:
        """``params`` checked against this layer's names, shapes and dtype (see :mod:`lstmlab.validate`)."""
        return validate.check_params(self, params)

    @property
    def dropout(self) -> float:
        """Dropout on the outputs of every layer but the last, in training mode (checked when set)."""
        return self._dropout

    @dropout.setter
    def dropout(self, p):
        self._dropout = regularise.check_options(self.spec, p, self._weight_drop, self.num_layers)[0]

    @property
    def weight_drop(self) -> float:
        """DropConnect on the recurrent matrices, in training mode (checked when set)."""
        return self._weight_drop

    @weight_drop.setter
    def weight_drop(self, p):
        self._weight_drop = regularise.check_options(self.spec, self._dropout, p, self.num_layers)[1]

    @property
    def recurrent_dropout(self) -> float:
        """Recurrent dropout in training mode (checked when set): on the recurrent matrices' inputs, or on
        the candidate with ``recurrent_dropout_form="semeniuta"``."""
        return self._recurrent_dropout

    @property
    def _variational_dropout(self) -> float:
        return self._recurrent_dropout if self.recurrent_dropout_form == "variational" else 0.0

    @recurrent_dropout.setter
    def recurrent_dropout(self, p):
        p = regularise.check_recurrent(self.spec, "recurrent_dropout", p)
        projection.check(self.spec, self.proj_size, self.hidden_size, self._zoneout,
                         p if self.recurrent_dropout_form == "variational" else 0.0)
        self._recurrent_dropout = p

    @property
    def zoneout(self):
        """Zoneout probabilities: one float for every state, or ``{state: p}`` (checked when set)."""
        return regularise.describe_zoneout(self.spec, self._zoneout)

    @zoneout.setter
    def zoneout(self, p):
        z = regularise.check_zoneout(self.spec, p)
        projection.check(self.spec, self.proj_size, self.hidden_size, z, self._variational_dropout)
        self._zoneout = z

    @property
    def stochastic(self) -> bool:
        """Whether an option is set that draws random masks in training mode (whatever the mode now)."""
        return bool(self._dropout or self._weight_drop or self._recurrent_dropout or any(self._zoneout))

    @property
    def draws_masks(self) -> bool:
        """Whether a forward in the current mode draws random masks (training with an option set)."""
        return self.training and self.stochastic

    def train(self, mode: bool = True) -> "RNN":
        """Training mode (dropout and weight drop act) or, with ``mode=False``, eval mode; returns the layer."""
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"mode: expected True or False, got {mode!r}")
        self.training = bool(mode)
        return self

    def eval(self) -> "RNN":
        """Eval mode: the deterministic cell (no dropout, no weight drop; zoneout's expectation); returns the layer."""
        return self.train(False)

    # -- compute -------------------------------------------------------------
    def forward(self, x, state=None, lengths=None, recompute=None, rng=None):
        """Run the stack.

        x: (T, B, D) (or (B, T, D) with batch_first), the layer's dtype, finite.
        state: None (zeros) or a tuple of arrays (L * dirs, B, H), one per state variable.
        lengths: None or (B,) ints in [1, T]; outputs past a sequence's end are
        zero and the final state is each sequence's state after its last step.

        recompute: None (keep every step for the backward) or a segment length
        K: keep only every K-th state and recompute the rest during the
        backward (:mod:`lstmlab.recompute`), for sequences too long for memory.
        rng: numpy Generator of the dropout, weight-drop, recurrent-dropout and zoneout masks
        (training mode with an option set); None draws from the layer's own stream.
        Returns ``(y, final_state, ctx)``; pass ``ctx`` to :meth:`backward`.
        """
        if recompute is not None and (not isinstance(recompute, (int, np.integer)) or isinstance(recompute, bool)
                                      or recompute < 1):
            raise ValueError(f"recompute: expected None or a positive int segment length, got {recompute!r}")
        if recompute is not None and self.device != "cpu":
            raise ValueError("recompute: checkpointed BPTT runs on the CPU only (device='cpu')")
        return self._forward(x, state, lengths, recompute, rng, None)

    __call__ = forward

    def _forward(self, x, state, lengths, recompute, rng, params):
        """:meth:`forward`; ``params``: None (the layer's own) or full-name device arrays to run with
        (the torch bridge's CUDA tensors), which keep the whole stack on the device."""
        xp, on_device = self._ops(x, params), False
        if not xp.resident:
            x, on_device = validate.to_host(self, x, "x")
            if isinstance(state, (tuple, list)):
                state = tuple(validate.to_host(self, v, "state")[0] for v in state)
        if lengths is not None:
            lengths, _ = validate.to_host(self, lengths, "lengths")
        x = validate.check_x(self, x, xp)
        T, B, _ = tuple(x.shape)
        L = validate.check_lengths(self, lengths, T, B)
        st = validate.check_state(self, state, B, xp=xp)
        if T * B * self.hidden_size > _CHECK_MEMORY_ABOVE and not xp.resident:  # host memory; not at B = 1
            est = memory.layer_bytes(self.spec, self.input_size, self.hidden_size, T if recompute is None else
                                     min(T, int(recompute)), B, self.dtype.itemsize, self.num_layers,
                                     self.num_directions, zoneout_steps=T if any(self._zoneout) else 0,
                                     mask_steps=T if self._masked_spec is not None and self.training
                                     and self._recurrent_dropout else 0)
            memory.check_fits(f"forward of x with T={T}, B={B}", est["total"], est,
                              advice="pass recompute=K (keeps the tape of K steps), or a smaller T or batch")
        perm = _reverse_index(L, T) if self.bidirectional else None
        perm_x = xp.index(perm) if perm is not None else None
        backend = self.backend if recompute is None else backends.Recompute(int(recompute))
        if xp.resident:
            backend = backends.CUDA(self.backend.kernels, resident=True)
        if self.proj_size:
            backend = projection.Projected(backend, self.hidden_size, self.proj_size)
        final = [xp.empty_like(s) for s in st]
        tapes = []
        inp = x
        k = 0
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng: expected None or a numpy.random.Generator, got {type(rng).__name__}")
        wdrop = self.weight_drop if self.training else 0.0
        drop = self.dropout if self.training else 0.0
        zprobs = self._zoneout if any(self._zoneout) else None
        rdrop = self.recurrent_dropout if self.training else 0.0
        semeniuta = bool(rdrop) and self._masked_spec is not None
        spec = self._masked_spec if semeniuta else self.spec
        if self.draws_masks and rng is None:
            rng = self._mask_rng
        wmasks = [] if wdrop else None
        dmasks = [] if drop else None
        for layer in range(self.num_layers):
            outs, calls = [], []
            for d in range(self.num_directions):
                prefix = f"layer{layer}" + (".reverse" if d else "")
                p = self.block_params(prefix, params)
                if wdrop:
                    p, m = regularise.drop_weights(self.spec, p, wdrop, rng, self.dtype, xp.mul)
                    wmasks.append(m)
                xin = inp if d == 0 else xp.reverse(inp, perm_x)
                s0 = [s[k + d] for s in st] if self.proj_size else xp.block_state(st, k + d)
                zm = None if zprobs is None else regularise.zone_mask(rng, zprobs, T, B, self.hidden_size,
                                                                      self.training, self.dtype)
                rm = regularise.input_masks(self.spec, rng, rdrop, B, self.hidden_size, self.dtype) \
                    if rdrop and not semeniuta else None
                sm = regularise.mask(rng, (T, B, self.hidden_size), rdrop, self.dtype) if semeniuta else None
                calls.append(lambda p=p, xin=xin, s0=s0, zm=zm, rm=rm, sm=sm: backend.forward(spec, p, xin, s0, L,
                                                                                             zm, rm, sm))
            results = parallel.run_directions(backend, calls)  # directions at once on CPU threads
            for d, (Y, fin, tape) in enumerate(results):
                if d == 1:
                    Y = xp.reverse(Y, perm_x)
                outs.append(Y)
                for i in range(len(fin)):
                    xp.set_row(final[i], k, fin[i])
                tapes.append(tape)
                k += 1
            inp = outs[0] if len(outs) == 1 else xp.concat(outs)
            if drop and layer + 1 < self.num_layers:
                m = regularise.mask(rng, tuple(inp.shape), drop, self.dtype)
                dmasks.append(m)
                inp = xp.mul(inp, m)
        y = xp.swap01(inp) if self.batch_first else inp
        ctx = Context(tapes, perm, T, B, self.batch_first, backend, on_device, self, self.params_version,
                      wmasks, dmasks, spec)
        ctx.xp, ctx.perm_x, ctx.own_params = xp, perm_x, params is None
        if on_device:  # device arrays in, device arrays out
            from numba import cuda
            return cuda.to_device(np.ascontiguousarray(y)), tuple(cuda.to_device(f) for f in final), ctx
        return y, tuple(final), ctx

    def _ops(self, x, params):
        """Where this call's stack runs (its array namespace): device arrays, or the caller's device
        parameters, on a CUDA layer stay on the device; a projected layer stages them through the host."""
        if self.device == "cuda" and not self.proj_size and (params is not None or is_device_array(x)):
            from .cuda.ops import DEVICE
            return DEVICE
        return HOST

    def stream(self, batch: int = 1, state=None):
        """A :class:`lstmlab.stream.Stream`: this layer run one step per call, its state kept.

        ``s = layer.stream(batch=1); y_t = s.step(x_t)`` for x_t (batch, input_size);
        ``s.reset()``; ``s.state``. Equal to :meth:`forward` over the same steps in eval mode
        (a stream never applies dropout or weight drop).
        """
        from .stream import Stream
        return Stream(self, batch, state)

    def backward(self, ctx: Context, dy=None, dstate=None, retain=False):
        """Exact gradients through the whole sequence (BPTT).

        dy: gradient of ``y`` (same shape), or None for zero; dstate: gradient
        of the final state (a tuple like the state) or None.
        retain: keep ``ctx`` usable for another backward. By default its
        buffers are recycled for the next forward (like PyTorch's
        ``retain_graph=False``), which saves re-faulting that memory every step.
        Returns ``(grads, dx, dstate0)``: grads has the keys of ``params``; dx has
        x's shape; dstate0 is a tuple like the state.
        """
        if not isinstance(ctx, Context):
            raise TypeError(f"ctx: expected the Context returned by forward, got {type(ctx).__name__}")
        if ctx.owner is not self:
            other = ctx.owner
            made = (f"a {other.spec.name!r} layer (input {other.input_size}, hidden {other.hidden_size})"
                    if isinstance(other, RNN) else "another layer")
            raise ValueError(f"ctx: made by the forward of {made}, not this {self.spec.name!r} layer (input "
                             f"{self.input_size}, hidden {self.hidden_size}); pass it to the backward of the layer "
                             f"whose forward returned it")
        if ctx.version != self.params_version:
            raise ValueError("ctx: the parameters were replaced (set_params or an assignment into params) after "
                             "the forward that made this context; run forward again")
        if ctx.released:
            raise RuntimeError("ctx: this forward's context was already used by a backward and its buffers "
                               "were recycled; run forward again, or pass retain=True to the first backward")
        T, B, H = ctx.T, ctx.B, self.output_size
        xp = ctx.xp
        if xp.resident:
            from .cuda.ops import as_device
            if dy is not None:
                dy = as_device(dy)
        else:
            if dy is not None:
                dy, _ = validate.to_host(self, dy, "dy")
            if dstate is not None and isinstance(dstate, (tuple, list)):
                dstate = tuple(validate.to_host(self, v, "dstate")[0] for v in dstate)
        shape_y = (B, T, H * self.num_directions) if ctx.batch_first else (T, B, H * self.num_directions)
        if dy is None:
            dy = xp.zeros(shape_y, self.dtype)
        if not xp.is_array(dy) or tuple(dy.shape) != shape_y or dy.dtype != self.dtype:
            where = "device " if xp.resident else ""
            raise ValueError(f"dy: expected a {self.dtype} {where}array of shape {shape_y}, got "
                             f"{getattr(dy, 'dtype', '?')} {getattr(dy, 'shape', type(dy).__name__)}")
        if not xp.all_finite(dy):  # as x, state and dstate: a NaN would only come back as NaN gradients
            raise ValueError("dy: contains NaN or Inf")
        ds = validate.check_state(self, dstate, B, name="dstate", xp=xp)
        if ctx.batch_first:
            dy = xp.swap01(dy)
        dy = xp.contiguous(dy)
        perm = ctx.perm_x
        grads, dstate0 = {}, [xp.empty_like(s) for s in ds]
        for layer in reversed(range(self.num_layers)):
            dx_total, calls = None, []
            for d in range(self.num_directions):
                k = layer * self.num_directions + d
                dyd = xp.take_last(dy, d * H, H) if self.num_directions > 1 else dy
                if d == 1:
                    dyd = xp.reverse(dyd, perm)
                dsk = [s[k] for s in ds] if self.proj_size else xp.block_state(ds, k)
                calls.append(lambda k=k, dyd=dyd, dsk=dsk: ctx.backend.backward(ctx.spec, ctx.tapes[k], dyd, dsk))
            results = parallel.run_directions(ctx.backend, calls)
            for d, (g, dx, d0) in enumerate(results):
                k = layer * self.num_directions + d
                prefix = f"layer{layer}" + (".reverse" if d else "")
                tape = ctx.tapes[k]
                if ctx.weight_masks is not None:
                    regularise.weight_grads(g, ctx.weight_masks[k], xp.mul)
                if not retain:
                    ctx.backend.release(tape)
                if d == 1:
                    dx = xp.reverse(dx, perm)
                dx_total = dx if dx_total is None else xp.add(dx_total, dx)
                for i in range(len(d0)):
                    xp.set_row(dstate0[i], k, d0[i])
                grads.update({f"{prefix}.{n}": v for n, v in g.items()})
            if ctx.drop_masks is not None and layer > 0:  # this layer's input was the dropped output below
                dx_total = xp.mul(dx_total, ctx.drop_masks[layer - 1])
            dy = xp.contiguous(dx_total)
        dx = xp.swap01(dy) if ctx.batch_first else dy
        ctx.released = not retain
        if xp.resident and ctx.own_params:  # the layer's own (host) parameters get host gradients
            grads = {k: xp.to_host(v) for k, v in grads.items()}
        if ctx.on_device:
            from numba import cuda
            return grads, cuda.to_device(np.ascontiguousarray(dx)), tuple(cuda.to_device(d) for d in dstate0)
        return grads, dx, tuple(dstate0)


def _reverse_index(L, T):
    """(T, B) time index reversing each sequence within its own length (an involution)."""
    t = np.arange(T)[:, None]
    return np.where(t < L[None, :], L[None, :] - 1 - t, t)
