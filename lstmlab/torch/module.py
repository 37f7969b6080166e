"""The ``nn.Module`` and the ``autograd.Function`` that run lstmlab's kernels for torch tensors."""
from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from .. import torch_compat
from ..layer import RNN
from ..registry import get_spec

_NUMPY = {torch.float32: np.float32, torch.float64: np.float64}
_TORCH = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}
_CLASSES: dict = {}


def _torch_name(name: str) -> str:
    """lstmlab's ``layer0.reverse.W`` as a torch parameter name (no dots): ``layer0_reverse_W``."""
    return name.replace(".", "_")


def _is_bias(short: str) -> bool:
    return short == "b" or short.startswith("b_")


class _Tape:
    """One forward's lstmlab context; gives the buffers back when autograd frees the graph."""

    def __init__(self, layer, ctx):
        self.layer, self.ctx = layer, ctx

    def __del__(self):
        ctx = getattr(self, "ctx", None)
        if ctx is not None:
            ctx.release()


class _Apply(torch.autograd.Function):
    """(x, state..., params...) -> (y, final state...), forward and BPTT by lstmlab's kernels.

    CPU tensors are shared with NumPy without copies (``Tensor.numpy()`` on
    detached tensors; nothing is written into them); outputs are new tensors.
    """

    @staticmethod
    def forward(ctx, module, layer, lengths, rng, n_state, x, *tensors):
        states, params = tensors[:n_state], tensors[n_state:]
        ctx.device = x.device
        if x.is_cuda:  # numba.cuda views of the tensors' memory: the stack stays on the GPU
            dev = {n: _as_device(t) for n, t in zip(module._names, params)}
            st = tuple(_as_device(s) for s in states) if n_state else None
            y, final, lctx = layer._forward(_as_device(x), st, lengths, None, rng, dev)
        else:
            module._bind(layer, params)
            st = tuple(s.detach().numpy() for s in states) if n_state else None
            y, final, lctx = layer.forward(x.detach().numpy(), st, lengths, rng=rng)
        ctx.tape = _Tape(layer, lctx)
        ctx.n_state = n_state
        ctx.names = module._names
        ctx.save_for_backward(x, *tensors)  # torch's version counters catch an in-place change before backward
        return (_tensor(y, x.device), *(_tensor(f, x.device) for f in final))

    @staticmethod
    @once_differentiable
    def backward(ctx, dy, *dfinal):
        ctx.saved_tensors  # noqa: B018 - raises if an input was modified in place since the forward
        layer, lctx = ctx.tape.layer, ctx.tape.ctx
        arr = _as_device if ctx.device.type == "cuda" else (lambda t: t.detach().contiguous().numpy())
        dyn = arr(dy) if dy is not None else None
        ds = tuple(arr(torch.zeros((layer.num_layers * layer.num_directions, lctx.B, size),
                                   dtype=_TORCH[layer.dtype], device=ctx.device))
                   if d is None else arr(d) for d, size in zip(dfinal, layer.state_sizes))
        # retain the tape only when autograd keeps the graph (retain_graph, gradcheck) and may call this
        # again; else its buffers go back to the workspace now, not when the graph is freed (often after
        # the next forward, which would then take fresh, page-faulting memory)
        keep = _keep_graph()
        grads, dx, d0 = layer.backward(lctx, dyn, ds, retain=keep)
        dparams = [_tensor(grads[n], ctx.device) for n in ctx.names]
        dstates = [_tensor(d, ctx.device) for d in d0] if ctx.n_state else []
        return (None, None, None, None, None, _tensor(dx, ctx.device), *dstates, *dparams)


def _keep_graph() -> bool:
    """Whether the running backward keeps its graph (``retain_graph``); True when torch cannot say."""
    probe = getattr(torch._C._autograd, "_get_current_graph_task_keep_graph", None)
    try:
        return True if probe is None else bool(probe())
    except RuntimeError:  # not inside a graph task
        return True


def _as_device(t):
    """A CUDA tensor's memory as a numba.cuda device array (``__cuda_array_interface__``; no copy)."""
    from numba import cuda
    return cuda.as_cuda_array(t.detach().contiguous())


def _tensor(a, device):
    """A NumPy array (shared, no copy) or a numba.cuda device array (``__cuda_array_interface__``, no copy)
    as a torch tensor on ``device``."""
    if isinstance(a, np.ndarray):
        return torch.from_numpy(a)
    return torch.as_tensor(a, device=device)


class Recurrent(nn.Module):
    r"""A stack of recurrent layers of any registered lstmlab variant, as a ``torch.nn`` module.

    The constructor and the call follow ``torch.nn.LSTM``::

        Recurrent(variant, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                  dropout=0.0, bidirectional=False, device=None, dtype=None, *, init="torch", **options)
        output, state = module(input, state=None)

    - ``input``: (T, B, input_size), (B, T, input_size) with ``batch_first``, an
      unbatched (T, input_size), or a ``PackedSequence`` (then ``output`` is one too).
    - ``state``: None (zeros), or the variant's state variables, each
      (num_layers * num_directions, B, hidden_size) (the output state
      ``proj_size`` with a projection, as torch's): one tensor when the
      variant has one (``h``, as ``nn.GRU``), else a tuple in the variant's
      state order (``(h, c)`` for the LSTM family, as ``nn.LSTM``).
    - ``output``: (T, B, num_directions * hidden_size), the top layer's ``h``
      (``proj_size`` instead of hidden_size with ``proj_size=``, LSTMP as ``nn.LSTM``'s);
      ``state``: the final state, same form as the given one.

    Parameters are ``nn.Parameter`` s named after lstmlab's (``layer0_W``,
    ``layer0_reverse_R``, ...; the weights are (gates * H, D) and (gates * H, H)
    as in torch), so torch optimisers, ``state_dict``, ``.to(torch.float64)``,
    ``.double()`` and ``.train()/.eval()`` work as usual. ``bias=False`` keeps
    the biases at zero as buffers. ``init``: lstmlab's scheme ("torch":
    uniform in :math:`\pm 1/\sqrt{H}` as nn.LSTM; "default", "chrono", see
    :mod:`lstmlab.init`), drawn from torch's random generator (so
    ``torch.manual_seed`` decides it); ``options`` go to :class:`lstmlab.RNN`
    (``forget_bias``, ``recurrent_init``, ...).

    For ``lstm``, ``gru``, ``rnn`` and ``irnn``, :meth:`load_state_dict` also
    takes a ``torch.nn.LSTM`` / ``GRU`` / ``RNN`` state_dict
    (:mod:`lstmlab.torch_compat`), and :meth:`torch_state_dict` gives one back.

    Forward and backward run lstmlab's compiled kernels on the CPU, float32 or
    float64; gradients are exact (BPTT), for the input, the initial state and
    every parameter. ``dropout`` is torch's (on the outputs of every layer but
    the last, in training mode); ``weight_drop=p`` (an option of
    :class:`lstmlab.RNN`) drops recurrent connections as AWD-LSTM does, and
    ``zoneout=p`` (or ``{state: p}``) zones out the state inside the kernels.
    Their masks come from torch's random generator, so ``torch.manual_seed``
    decides them; ``.eval()`` gives the deterministic cell (zoneout's
    expectation).

    CUDA: a module moved to the GPU (``device="cuda"`` or ``.to("cuda")``) runs
    lstmlab's numba.cuda kernels on the tensors where they are: inputs,
    states and parameters are handed over through
    ``__cuda_array_interface__`` and outputs and gradients come back as CUDA
    tensors, with no copy through the host (it needs ``lstmlab[cuda]``; a
    projection, ``proj_size``, runs on the CPU only for now).
    """

    def __init__(self, variant, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, device=None,
                 dtype=None, *, init: str = "torch", **options):
        super().__init__()
        if not isinstance(bias, bool):
            raise TypeError(f"bias: expected True or False, got {bias!r}")
        dtype = torch.get_default_dtype() if dtype is None else dtype
        if dtype not in _NUMPY:
            raise TypeError(f"dtype: expected torch.float32 or torch.float64, got {dtype}")
        device = torch.device(device) if device is not None else torch.device("cpu")
        self._check_device(device, "device")
        self.spec = get_spec(variant)
        self.variant = self.spec.name
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.bidirectional = bias, batch_first, bidirectional
        seed = int(torch.randint(0, 2**62, (), dtype=torch.int64))  # torch.manual_seed decides the init
        self._options = dict(num_layers=num_layers, bidirectional=bidirectional, dropout=dropout, **options)
        proto = RNN(self.variant, input_size, hidden_size, dtype=_NUMPY[dtype], init=init, seed=seed,
                    **self._options)
        self.dropout = proto.dropout  # validated by lstmlab.RNN
        self.proj_size = proto.proj_size
        self._sizes = proto.state_sizes
        self._layers = {proto.dtype: proto}
        self._names = list(proto.params.keys())
        for name in self._names:
            value = torch.from_numpy(proto.params[name].copy()).to(device)
            if not bias and _is_bias(name.rsplit(".", 1)[1]):
                self.register_buffer(_torch_name(name), torch.zeros_like(value))
            else:
                self.register_parameter(_torch_name(name), nn.Parameter(value))
        self._bound = {}

    def _check_device(self, dev, what):
        if dev.type not in ("cpu", "cuda"):
            raise NotImplementedError(f"{what}: lstmlab.torch runs on the CPU and on CUDA GPUs, got {dev}")
        if dev.type == "cuda" and getattr(self, "proj_size", 0):
            raise NotImplementedError(f"{what}: a projected module (proj_size={self.proj_size}) runs on the CPU "
                                      f"only for now, got {dev}")

    # -- lstmlab layers per dtype and device --------------------------------------------
    def _layer(self, np_dtype, device="cpu"):
        dt = np.dtype(np_dtype)
        key = dt if device == "cpu" else (dt, device)
        if key not in self._layers:
            with warnings.catch_warnings():  # the first layer made already warned about these options
                warnings.simplefilter("ignore", UserWarning)
                self._layers[key] = RNN(self.variant, self.input_size, self.hidden_size, dtype=dt, seed=0,
                                        device=device, **self._options)
        return self._layers[key]

    def _tensors(self):
        return [getattr(self, _torch_name(n)) for n in self._names]

    def _bind(self, layer, tensors):
        """Point the lstmlab layer at the tensors' memory (no copy), when it is not already."""
        key = tuple(t.data_ptr() for t in tensors)
        if self._bound.get(id(layer)) != key:
            layer.set_params({n: t.detach().numpy() for n, t in zip(self._names, tensors)})
            self._bound[id(layer)] = key

    # -- the call ----------------------------------------------------------------
    def forward(self, input, state=None):
        packed = isinstance(input, PackedSequence)
        lengths = None
        if packed:
            x, lens = pad_packed_sequence(input, batch_first=False)
            lengths = lens.numpy().astype(np.int64)
            unbatched = False
        else:
            if not isinstance(input, torch.Tensor):
                raise TypeError(f"input: expected a torch.Tensor or PackedSequence, got {type(input).__name__}")
            if input.dim() not in (2, 3):
                raise ValueError(f"input: expected a 2-D (unbatched) or 3-D tensor, got {input.dim()}-D "
                                 f"{tuple(input.shape)}")
            unbatched = input.dim() == 2
            x = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if self.batch_first else input)
        params = self._tensors()
        self._check_device(x.device, "input")
        if x.device != params[0].device:
            raise RuntimeError(f"input: on {x.device}, but the module's parameters are on {params[0].device}; "
                               f"move one of them with .to()")
        if x.dtype != params[0].dtype:
            raise TypeError(f"input: expected dtype {params[0].dtype} (the module's; .to() converts either), got "
                            f"{x.dtype}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got "
                             f"{x.shape[-1]}")
        layer = self._layer(_NUMPY[x.dtype], x.device.type)
        layer.train(self.training)
        if layer.dropout != self.dropout:  # as nn.LSTM, the attribute is read at each call (checked by the layer)
            layer.dropout = self.dropout
        rng = None
        if layer.draws_masks:  # masks from torch's generator (manual_seed)
            rng = np.random.default_rng(int(torch.randint(0, 2**62, (), dtype=torch.int64)))
        states = self._states(state, x.shape[1], x.dtype, unbatched, x.device)
        x = x.contiguous()
        out = _Apply.apply(self, layer, lengths, rng, len(states), x, *[s.contiguous() for s in states], *params)
        y, final = out[0], out[1:]
        if packed:
            idx = input.sorted_indices
            if idx is None:
                y = pack_padded_sequence(y, lens, enforce_sorted=True)
            else:
                p = pack_padded_sequence(y.index_select(1, idx), lens.index_select(0, idx.cpu()),
                                         enforce_sorted=True)
                y = PackedSequence(p.data, p.batch_sizes, input.sorted_indices, input.unsorted_indices)
        elif unbatched:
            y, final = y.squeeze(1), tuple(f.squeeze(1) for f in final)
        elif self.batch_first:
            y = y.transpose(0, 1)
        return y, (final[0] if len(final) == 1 else tuple(final))

    def _states(self, state, B, dtype, unbatched, dev):
        names = self.spec.state
        if state is None:
            return []
        given = (state,) if isinstance(state, torch.Tensor) else state
        if not isinstance(given, (tuple, list)) or len(given) != len(names) or \
                not all(isinstance(s, torch.Tensor) for s in given):
            form = "a tensor" if len(names) == 1 else f"a tuple of {len(names)} tensors ({', '.join(names)})"
            raise TypeError(f"state: variant {self.variant!r} expects {form}, got {type(state).__name__}")
        L = self.num_layers * (2 if self.bidirectional else 1)
        out = []
        for n, s, size in zip(names, given, self._sizes):
            want = (L, size) if unbatched else (L, B, size)
            if s.device != dev:
                raise RuntimeError(f"state {n}: on {s.device}, but the input is on {dev}; move it with .to()")
            if tuple(s.shape) != want:
                raise ValueError(f"state {n}: expected size {want}, got {tuple(s.shape)}")
            if s.dtype != dtype:
                raise TypeError(f"state {n}: expected dtype {dtype} (the input's), got {s.dtype}")
            out.append(s.unsqueeze(1) if unbatched else s)
        return out

    def extra_repr(self) -> str:
        s = f"{self.variant!r}, {self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        for k in ("batch_first", "bidirectional"):
            if getattr(self, k):
                s += f", {k}=True"
        if not self.bias:
            s += ", bias=False"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        return s

    # -- torch's own LSTM / GRU / RNN weights ---------------------------------------------
    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """As ``nn.Module.load_state_dict``; a ``torch.nn.LSTM/GRU/RNN`` state_dict is converted first."""
        if any(k.startswith("weight_ih_l") for k in state_dict):
            state_dict = self._from_torch(state_dict)
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def _from_torch(self, sd):
        layer = self._layers[next(iter(self._layers))]
        arrays = {k: v.detach().cpu().numpy() for k, v in sd.items()}
        if not self.bias:  # torch's bias=False module has no bias keys: zeros stand in
            for k in [k for k in arrays if k.startswith("weight_ih_l")]:
                suffix, rows = k[len("weight_ih"):], arrays[k].shape[0]
                arrays.setdefault(f"bias_ih{suffix}", np.zeros(rows, arrays[k].dtype))
                arrays.setdefault(f"bias_hh{suffix}", np.zeros(rows, arrays[k].dtype))
        ours = torch_compat.from_torch(layer, arrays)
        return {_torch_name(k): torch.from_numpy(np.ascontiguousarray(v)).to(self._tensors()[0].dtype)
                for k, v in ours.items()}

    def torch_state_dict(self) -> dict:
        """A ``torch.nn.LSTM/GRU/RNN`` state_dict with this module's function (lstm, gru, rnn, irnn)."""
        dt = self._tensors()[0].dtype
        layer = self._layer(_NUMPY[dt])
        if self._tensors()[0].is_cuda:  # host copies for the conversion (not bound: they would go stale)
            layer.set_params({n: t.detach().cpu().numpy() for n, t in zip(self._names, self._tensors())})
            self._bound.pop(id(layer), None)
        else:
            self._bind(layer, self._tensors())
        return {k: torch.from_numpy(v) for k, v in torch_compat.to_torch(layer).items()}


def module_class(variant) -> type:
    """The ``nn.Module`` class of ``variant``: :class:`Recurrent` with the variant fixed.

    Its constructor is ``torch.nn.LSTM``'s: ``(input_size, hidden_size, num_layers=1, bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None, **options)``.
    """
    name = get_spec(variant).name
    if name not in _CLASSES:
        def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                     bidirectional=False, device=None, dtype=None, **options):
            Recurrent.__init__(self, name, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                               bidirectional, device, dtype, **options)
        title = "".join(p.capitalize() for p in name.replace("-", "_").split("_"))
        _CLASSES[name] = type(title, (Recurrent,), {"__init__": __init__, "__module__": __name__,
                                                    "__doc__": f"lstmlab's {name!r} variant as a torch module "
                                                               f"(see Recurrent)."})
    return _CLASSES[name]


