"""Step-by-step inference with state kept between calls (streaming), at small-batch latency."""
from __future__ import annotations

import numpy as np

from . import engine, hostside


class Stream:
    """A layer run one time step per call, its state kept: ``y_t = stream.step(x_t)``.

    Made by :meth:`lstmlab.RNN.stream`. Every buffer, the weights' transposed
    views and the compiled entry point are prepared once; a step writes
    ``x_t`` into the input buffer, runs the forward kernel of each layer for
    one step and carries the state. The kernels are those of the forward: the
    outputs equal forwards of one step at a time bit for bit, and a
    whole-sequence forward to rounding (its input projection is one GEMM over
    many steps).

    x_t : (B, input_size) in the layer's dtype (or (input_size,) when B = 1).
    Returns y_t : (B, hidden_size), a new array (or (hidden_size,)); proj_size with a projection.
    ``state`` : the current state, a tuple like :meth:`lstmlab.RNN.forward`'s.
    ``reset(state=None)`` : back to zeros (or to ``state``).

    The weights are read where they live: an update in place (an optimiser's)
    is seen by the next step; replacing the parameters (``set_params``) is
    picked up too. Forward only (no tape); bidirectional layers cannot stream.
    With a projection (``proj_size``) the kernels run with R·P, formed when the
    stream prepares: after updating R or ``proj`` in place, call
    :meth:`refresh` (replacing the parameters needs nothing); ``y_t`` and the
    output state have ``proj_size`` units.
    It always runs the deterministic cell, as eval mode does: a layer's
    ``dropout`` and ``weight_drop`` are not applied, and its ``zoneout`` is
    its expectation (the layer's zoneout at each step, as it is set now).
    """

    def __init__(self, layer, batch: int = 1, state=None):
        if layer.bidirectional:
            raise ValueError("stream: a bidirectional layer needs the whole sequence (its reverse direction reads "
                             "the future); stream a unidirectional one")
        if layer.device != "cpu":
            raise ValueError(f"stream: runs on the CPU layer only (this one is device={layer.device!r})")
        if not isinstance(batch, (int, np.integer)) or isinstance(batch, bool) or batch < 1:
            raise ValueError(f"batch: expected a positive int, got {batch!r}")
        self.layer, self.batch = layer, int(batch)
        self._shape = (self.batch, layer.input_size)
        spec, dt, H, B = layer.spec, layer.dtype, layer.hidden_size, self.batch
        self._nst = len(spec.state)
        self._ker = engine.kernels(spec)
        self._L = np.ones(B, np.int64)
        self._Y = [np.zeros((1, B, H), dt) for _ in range(layer.num_layers)]
        self._proj = layer.proj_size
        # each layer's projected output r_t = P h_t, the input of the layer above (with a projection)
        self._R = [np.zeros((1, B, self._proj), dt) for _ in range(layer.num_layers)] if self._proj else None
        # a layer's input buffer is the output buffer of the layer below: nothing is copied between them
        self._x = [np.zeros((1, B, layer.input_size), dt)] + (self._R or self._Y)[:-1]
        self._none = np.zeros((0, 0), dt)  # "no new input" for the layers above the first
        self._Z = [np.zeros((2, B, self._nst * H), dt) for _ in range(layer.num_layers)]
        self._S = [np.empty((1, B, len(spec.saved) * H), dt) for _ in range(layer.num_layers)]
        self._XP = [np.empty((1, B, len(spec.inputs) * H), dt) for _ in range(layer.num_layers)]
        self._P = [[np.zeros((1, B, len(p.source) * H), dt) for p in spec.products] for _ in range(layer.num_layers)]
        self._A = [[np.empty((B, layer.params[f"layer{l}.{p.name}"].shape[0]), dt) for p in spec.products]
                   for l in range(layer.num_layers)]
        self._version = self._zprobs = None
        self.reset(state)

    def _prepare(self):
        """Argument lists per layer: views of the parameters (transposed, not copied), and zoneout's."""
        spec, layer, H = self.layer.spec, self.layer, self.layer.hidden_size
        from .regularise import zone_mask
        # eval-mode zoneout: the constant mask p_s and a buffer for the new states (else Z[1:] and no mask)
        zprobs, B, dt = layer._zoneout, self.batch, layer.dtype
        self._zone = [(zone_mask(None, zprobs, 1, B, H, False, dt), np.empty((1, B, self._nst * H), dt))
                      if any(zprobs) else (engine.no_mask(dt), Z[1:]) for Z in self._Z]
        self._zprobs = zprobs
        self._args, self._units, self._U, self._PT = [], [], [], []
        for l in range(layer.num_layers):
            p = layer.block_params(f"layer{l}")
            if self._proj:  # the kernels read R P (formed here, see refresh); the output is projected per step
                from .projection import effective_params
                self._PT.append(p["proj"].T)
                p = effective_params(spec, p, H, self._proj)
            args = [self._x[l], p["W"].T, hostside.input_bias(spec, p, layer.dtype)]
            masks = hostside.input_masks(spec, None, self.batch, H, layer.dtype)  # no rows: no recurrent dropout
            for i, pr in enumerate(spec.products):
                args += [p[pr.name].T, hostside.product_bias(pr, p, layer.dtype), self._P[l][i], self._A[l][i],
                         masks[i]]
            self._units.append([p[u] for u in spec.unit_params])
            self._U.append(hostside.unit_matrix(spec, p, H, layer.dtype))
            args += [self._U[l], self._L, self._Z[l], self._S[l], self._Y[l], self._XP[l], *self._zone[l]]
            self._args.append(tuple(args))
        self._version = layer.params_version

    def refresh(self) -> None:
        """Prepare again from the layer's parameters as they are now (after an update in place of a
        projected layer's R or ``proj``; anything else is seen without it)."""
        self._prepare()

    def reset(self, state=None) -> None:
        """Zero the state, or set it: a tuple of (num_layers, B, size) arrays like forward's ``state``."""
        from . import validate
        st = validate.check_state(self.layer, state, self.batch)
        for l in range(self.layer.num_layers):
            first = st[0][l]
            if self._proj:  # the kernels carry the unprojected h: lift r_0 (see lstmlab.projection)
                from .projection import lift_matrix
                proj = self.layer.params[f"layer{l}.proj"]
                first = (first.astype(np.float64) @ lift_matrix(proj)).astype(first.dtype) \
                    if np.any(first) else np.zeros((self.batch, self.layer.hidden_size), first.dtype)
                self._R[l][0] = st[0][l]
            self._Z[l][0] = hostside.pack_state(np.ascontiguousarray(np.stack([first] + [s[l] for s in st[1:]])))

    @property
    def state(self) -> tuple:
        """The state after the last step: a tuple of (num_layers, B, size) arrays (copies)."""
        H = self.layer.hidden_size
        per = [hostside.unpack_state(Z[0], self._nst, H) for Z in self._Z]
        out = [np.stack([s[i] for s in per]) for i in range(self._nst)]
        if self._proj:  # the output state is the projected one, r = P h
            out[0] = np.stack([R[0] for R in self._R])
        return tuple(out)

    def step(self, x_t) -> np.ndarray:
        layer = self.layer
        if self._version != layer.params_version or self._zprobs is not layer._zoneout:
            self._prepare()  # new parameters, or a new zoneout setting
        squeeze = False
        if type(x_t) is not np.ndarray or x_t.shape != self._shape or x_t.dtype != layer.dtype:
            if isinstance(x_t, np.ndarray) and x_t.ndim == 1 and self.batch == 1:
                x_t, squeeze = x_t[None], True
            if not isinstance(x_t, np.ndarray) or x_t.shape != self._shape or x_t.dtype != layer.dtype:
                raise ValueError(f"x_t: expected a {layer.dtype} array of shape {self._shape} (the stream's batch "
                                 f"and the layer's input size), got "
                                 f"{getattr(x_t, 'dtype', type(x_t).__name__)} {getattr(x_t, 'shape', '')}")
        drive, xin = self._ker.step, x_t
        for l in range(layer.num_layers):
            if self._units[l]:  # per-unit parameters are stacked: re-read them (an update in place)
                for i, u in enumerate(self._units[l]):
                    self._U[l][i] = u
            if not drive(xin, *self._args[l]):
                raise ValueError("x_t: contains NaN or Inf")
            if self._proj:
                np.dot(self._Y[l][0], self._PT[l], out=self._R[l][0])
            xin = self._none
        y = (self._R or self._Y)[-1][0].copy()
        return y[0] if squeeze else y
