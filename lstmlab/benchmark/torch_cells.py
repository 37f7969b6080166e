"""PyTorch baselines: what a researcher would write for a variant today.

* :func:`generic_cell` runs any registered variant in PyTorch: its own
  pointwise maths (the same Python source lstmlab compiles) bound to torch
  ops, the input projection as one matmul, the recurrent products per step,
  and autograd for the backward; ``compiled=True`` wraps the step in
  ``torch.compile``. This is the eager / torch.compile custom cell.
* :func:`peephole_script` is a handwritten peephole LSTM as a
  ``torch.jit.script`` function over the whole sequence (the fastrnns style);
  :func:`peephole_compiled` is the same step under ``torch.compile``.
  (torch.compile of the generic cell works for self-contained maths such as
  lstm and gru; it cannot guard helpers bound from a class, like peephole's.)
* :func:`nn_module` is ``torch.nn.LSTM`` / ``torch.nn.GRU`` (oneDNN / ATen).

Every factory returns a zero-argument callable doing forward + backward of a
sum loss, the same work as :func:`lstmlab.benchmark.timing.lstmlab_step`.
torch is imported lazily: lstmlab never needs it.
"""
from __future__ import annotations

import math
import types

import numpy as np

from .. import scalar
from ..binding import bind_function
from ..registry import get_spec


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("torch is not installed: `lstmlab bench --against torch` needs it "
                          "(python3 -m pip install torch), or run `lstmlab bench --against none`") from exc
    # one compiled graph per size, variant and first/later step: past dynamo's
    # default limit of 8 it silently falls back to eager, which is not what we time
    torch._dynamo.config.recompile_limit = 256
    return torch


def _torch_math(torch):
    mod = types.ModuleType("lstmlab.benchmark.torch_math")
    mod.__dict__.update({k: v for k, v in vars(math).items() if not k.startswith("__")})
    mod.exp, mod.tanh, mod.log, mod.sqrt = torch.exp, torch.tanh, torch.log, torch.sqrt
    mod.expm1, mod.log1p = torch.expm1, torch.log1p
    return mod


def _data(torch, T, B, D, seed):
    x = np.random.default_rng(seed).standard_normal((T, B, D)).astype(np.float32)
    return torch.from_numpy(x)


def _make_step(torch, spec, params, H, input_masks=None):
    """One step of ``spec`` in torch: (projected input (B, G*H), states) -> new states.

    ``input_masks``: {product name: (B, len(source)*H) mask} multiplying each product's input.
    """
    replace = {scalar.sigmoid: torch.sigmoid, scalar.tanh: torch.tanh, scalar.exp: torch.exp, scalar.relu: torch.relu,
               math: _torch_math(torch)}
    fwd = [bind_function(spec.cls, st.forward, replace=replace) for st in spec.stages]
    unit = [params[u] for u in spec.unit_params]
    state_names = spec.state

    def step(xp, states):
        vals = {}
        for st, f in zip(spec.stages, fwd):
            a = {}
            for p in st.products:
                src = [vals[s] if s in vals else states[state_names.index(s)] for s in p.source]
                src = src[0] if len(src) == 1 else torch.cat(src, 1)
                if input_masks:
                    src = src * input_masks[p.name]
                out = src @ params[p.name].t()
                if p.bias:
                    out = out + params["b_" + p.name]
                for q, tgt in enumerate(p.targets):
                    blk = out[:, q * H:(q + 1) * H]
                    a[tgt] = blk if tgt not in a else a[tgt] + blk
            args = []
            for _, kind, key in st.fwd_args:
                if kind == "x":
                    args.append(xp[:, key * H:(key + 1) * H])
                elif kind == "a":
                    args.append(a[key])
                elif kind == "state":
                    args.append(states[key])
                elif kind == "param":
                    args.append(unit[key])
                elif kind == "out":
                    args.append(vals[key])
                else:
                    args.append(key)
            res = f(*args)
            if st is spec.stages[-1]:
                return tuple(res[:len(state_names)])
            vals.update(zip(st.outputs, res))

    return step


def _sequence(torch, spec, params, step, x):
    T, B, D = x.shape
    H = params["W"].shape[0] // len(spec.inputs)
    xp = (x.reshape(T * B, D) @ params["W"].t() + params["b"]).reshape(T, B, -1)
    states = tuple(torch.zeros(B, H, dtype=x.dtype) for _ in spec.state)
    ys = []
    for t in range(T):
        states = step(xp[t], states)
        ys.append(states[0])
    return torch.stack(ys)


def generic_forward(variant: str, params: dict, x: np.ndarray) -> np.ndarray:
    """Outputs (T, B, H) of the PyTorch cell of ``variant`` for lstmlab-named ``params``, from zero state.

    Checks that the baseline computes the same function as lstmlab.
    """
    torch = _torch()
    spec = get_spec(variant)
    tp = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in params.items()}
    H = tp["W"].shape[0] // len(spec.inputs)
    with torch.no_grad():
        return _sequence(torch, spec, tp, _make_step(torch, spec, tp, H), torch.from_numpy(x)).numpy()


def generic_cell(variant: str, T: int, B: int, D: int, H: int, compiled: bool = False, seed: int = 0):
    """Forward + backward of ``variant`` as a per-step PyTorch cell (eager or torch.compile)."""
    torch = _torch()
    spec = get_spec(variant)
    g = torch.Generator().manual_seed(seed)
    k = 1.0 / math.sqrt(H)
    params = {n: ((torch.rand(*s, generator=g) * 2 - 1) * k).requires_grad_()
              for n, s in spec.param_shapes(D, H).items()}
    step = _make_step(torch, spec, params, H)
    run_step = torch.compile(step, dynamic=False) if compiled else step
    x = _data(torch, T, B, D, seed)

    def fb():
        _sequence(torch, spec, params, run_step, x).sum().backward()
        for p in params.values():
            p.grad = None

    return fb


#: The regularisation options as a PyTorch user writes them around a custom cell (see :func:`option_cell`).
TORCH_OPTIONS = ("dropout", "weight_drop", "recurrent_dropout", "zoneout")


def option_cell(variant: str, option: str, T: int, B: int, D: int, H: int, p: float = 0.3, seed: int = 0):
    """Forward + backward of a 2-layer stack of ``variant``'s eager PyTorch cell with one regulariser.

    ``option``: "dropout" (``F.dropout`` between the layers), "weight_drop"
    (``F.dropout`` on each recurrent matrix per forward, AWD-LSTM's
    WeightDrop), "recurrent_dropout" (one mask per sequence on each product's
    input) or "zoneout" (``s = z * s_prev + (1 - z) * s_new``, Bernoulli z per
    step). Masks are drawn in torch every call, as in training.
    """
    torch = _torch()
    if option not in TORCH_OPTIONS:
        raise ValueError(f"option: expected one of {TORCH_OPTIONS}, got {option!r}")
    spec = get_spec(variant)
    g = torch.Generator().manual_seed(seed)
    k = 1.0 / math.sqrt(H)
    layers = [{n: ((torch.rand(*s, generator=g) * 2 - 1) * k).requires_grad_()
               for n, s in spec.param_shapes(D if l == 0 else H, H).items()} for l in range(2)]
    x = _data(torch, T, B, D, seed)
    F = torch.nn.functional

    def layer_seq(params, inp):
        params = dict(params)
        if option == "weight_drop":
            for pr in spec.products:
                params[pr.name] = F.dropout(params[pr.name], p)
        step = _make_step(torch, spec, params, H)
        masks = {}
        if option == "recurrent_dropout":  # each product's input, one mask per sequence
            masks = {pr.name: F.dropout(torch.ones(B, len(pr.source) * H), p) for pr in spec.products}
            step = _make_step(torch, spec, params, H, masks)
        n = inp.shape[-1]
        xp = (inp.reshape(T * B, n) @ params["W"].t() + params["b"]).reshape(T, B, -1)
        states = tuple(torch.zeros(B, H) for _ in spec.state)
        ys = []
        for t in range(T):
            new = step(xp[t], states)
            if option == "zoneout":
                z = [(torch.rand(B, H) < p).to(x.dtype) for _ in new]
                new = tuple(zi * s + (1 - zi) * ns for zi, s, ns in zip(z, states, new))
            states = new
            ys.append(states[0])
        return torch.stack(ys)

    def fb():
        h = layer_seq(layers[0], x)
        if option == "dropout":
            h = F.dropout(h, p)
        layer_seq(layers[1], h).sum().backward()
        for ps in layers:
            for t in ps.values():
                t.grad = None

    return fb


def _peephole_step(xp, h, c, R, p_i, p_f, p_o):
    """One vanilla (peephole) LSTM step in torch; module-level so torch.compile can guard it."""
    import torch
    z, i, f, o = (xp + h @ R.t()).chunk(4, 1)
    z = torch.tanh(z)
    i = torch.sigmoid(i + p_i * c)
    f = torch.sigmoid(f + p_f * c)
    c = z * i + c * f
    o = torch.sigmoid(o + p_o * c)
    return torch.tanh(c) * o, c


def _peephole_params(torch, D, H, seed):
    g = torch.Generator().manual_seed(seed)
    k = 1.0 / math.sqrt(H)
    return [((torch.rand(*s, generator=g) * 2 - 1) * k).requires_grad_()
            for s in [(4 * H, D), (4 * H,), (4 * H, H), (H,), (H,), (H,)]]


def peephole_compiled(T: int, B: int, D: int, H: int, seed: int = 0):
    """Greff et al.'s vanilla (peephole) LSTM, its step under torch.compile."""
    torch = _torch()
    step = torch.compile(_peephole_step, dynamic=False)
    W, b, R, p_i, p_f, p_o = ps = _peephole_params(torch, D, H, seed)
    x = _data(torch, T, B, D, seed)

    def fb():
        xp = (x.reshape(T * B, D) @ W.t() + b).reshape(T, B, 4 * H)
        h = c = torch.zeros(B, H)
        ys = []
        for t in range(T):
            h, c = step(xp[t], h, c, R, p_i, p_f, p_o)
            ys.append(h)
        torch.stack(ys).sum().backward()
        for p in ps:
            p.grad = None

    return fb


def peephole_script(T: int, B: int, D: int, H: int, seed: int = 0):
    """Greff et al.'s vanilla (peephole) LSTM as one torch.jit.script sequence function."""
    torch = _torch()

    @torch.jit.script
    def seq(x, W, b, R, p_i, p_f, p_o):
        T, B = x.shape[0], x.shape[1]
        H = R.shape[1]
        xp = (x.reshape(T * B, -1) @ W.t() + b).reshape(T, B, 4 * H)
        h = torch.zeros(B, H)
        c = torch.zeros(B, H)
        ys = []
        for t in range(T):
            g = xp[t] + h @ R.t()
            z, i, f, o = g.chunk(4, 1)
            z = torch.tanh(z)
            i = torch.sigmoid(i + p_i * c)
            f = torch.sigmoid(f + p_f * c)
            c = z * i + c * f
            o = torch.sigmoid(o + p_o * c)
            h = torch.tanh(c) * o
            ys.append(h)
        return torch.stack(ys)

    ps = _peephole_params(torch, D, H, seed)
    x = _data(torch, T, B, D, seed)

    def fb():
        seq(x, *ps).sum().backward()
        for p in ps:
            p.grad = None

    for _ in range(3):  # TorchScript's profiling executor optimises after a few runs
        fb()
    return fb


def nn_module(kind: str, T: int, B: int, D: int, H: int, seed: int = 0):
    """Forward + backward of ``torch.nn.LSTM`` (kind 'lstm') or ``torch.nn.GRU`` ('gru')."""
    torch = _torch()
    torch.manual_seed(seed)
    mod = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](D, H)
    x = _data(torch, T, B, D, seed)

    def fb():
        out, _ = mod(x)
        out.sum().backward()
        mod.zero_grad(set_to_none=True)

    return fb
