r"""Layer normalisation for any variant, built from the stage model's reduce stages.

:func:`normalise` turns a variant into its layer-normalised form: a subclass
whose stages normalise the pre-activations its own pointwise maths reads,
then call that maths unchanged. Nothing here names a variant; the engine,
both code generators, recording and the torch module see an ordinary variant
with ``kind="reduce"`` stages, and every backward is derived by sympy
(:mod:`lstmlab.derive`), so the gradients are exact.

With :math:`\mathrm{LN}(v; g, \beta) = g \odot (v - \mu) / \sqrt{\sigma^2 + \epsilon} + \beta`,
:math:`\mu, \sigma^2` the mean and variance over the normalised group (per
batch row and step), :math:`\epsilon = 10^{-5}`, three definitions circulate:

``"xh"``
    The input and the recurrent pre-activations normalised separately, each
    over all the blocks a stage reads (for the LSTM all four gates):
    :math:`x'_k = \mathrm{LN}(W x_t; g^x, \beta)_k`, :math:`a'_k = \mathrm{LN}(R h_{t-1}; g^a)_k`.
    This is eq. 20 of Ba, Kiros & Hinton's (2016, arXiv:1607.06450)
    supplementary LN-LSTM, which always adds their eq. 22 (``"xh+cell"``);
    their Sec. 3.1 RNN normalises the joint sum :math:`W x + R h` instead.
    PyTorch's fastrnns ``LayerNormLSTMCell`` normalises the same two terms but
    also normalises the new cell and carries it normalised to the next step,
    which none of these three forms does.
``"xh+cell"``
    As ``"xh"``, and the new cell normalised before the output activation,
    :math:`h_t = o_t \odot \tanh(\mathrm{LN}(c_t; g^c, \beta^c))`, while the
    carried :math:`c_t` stays unnormalised: Ba et al. (2016) eq. 22, and
    haste's ``LayerNormLSTM``. Needs a variant that declares ``cell_state``
    and ``cell_output`` (the LSTM family does).
``"gates"``
    Each gate's pre-activation :math:`x_k + a_k` normalised on its own,
    over its H units with its own gain and shift, like TensorFlow contrib's
    ``LayerNormBasicLSTMCell``; that cell also normalises the new cell and
    carries it normalised, while ``"gates"`` leaves the cell unnormalised.
    (TF Addons' ``LayerNormLSTMCell`` is Ba et al.'s form, ``"xh+cell"``.) Needs a variant
    whose maths reads each block only through ``x_k + a_k`` (checked
    numerically; the GRU's ``x_n + r * a_n`` is refused).

The input projection then has no bias ``b``: the shift :math:`\beta` after the
normalisation takes its place (a bias before it would be subtracted out with
the mean), and the initialisers put the forget bias there. Gains start at 1,
shifts at 0. Parameters are unit vectors ``(H,)`` named
``ln_gx_<block>``, ``ln_bx_<block>``, ``ln_ga_<block>`` ("xh"),
``ln_g_<block>``, ``ln_b_<block>`` ("gates"), ``ln_gc``, ``ln_bc`` (cell);
a second stage's carry its index (``ln1_...``).

The variance stage's terms carry :math:`\epsilon / H` each, so its sum is
:math:`\sigma^2 + \epsilon` and the normalising stage reads no float
constant: in a float32 layer its maths stays float32 (a float64 literal there
made the sigmoids and tanhs float64, at half the SIMD lanes).
"""
from __future__ import annotations

import math
import random

from .variant import Stage, VariantError

__all__ = ["KINDS", "normalise", "check_kind", "block_args"]

KINDS = ("xh", "xh+cell", "gates")
EPS = 1e-5
_CACHE: dict = {}


def check_kind(kind):
    """``kind`` validated (None or "" means no layer norm); raises ValueError naming the option."""
    if kind is None or kind == "" or kind is False:
        return None
    if kind not in KINDS:
        raise ValueError(f"layer_norm: expected one of {KINDS} or None, got {kind!r}")
    return kind


def normalise(spec, kind):
    """The :class:`~lstmlab.spec.VariantSpec` of ``spec``'s variant with layer norm ``kind``.

    Cached per (variant class, kind). Raises ValueError naming the option and
    the variant when the variant's structure cannot take ``kind``.
    """
    from .spec import describe
    kind = check_kind(kind)
    if kind is None:
        return spec
    if getattr(spec.cls, "layer_norm", None):
        raise ValueError(f"layer_norm={kind!r}: variant {spec.name!r} is already layer-normalised "
                         f"({spec.cls.layer_norm!r})")
    key = (spec.cls, kind)
    if key not in _CACHE:
        cls = _build(spec, kind)
        try:
            _CACHE[key] = describe(cls, f"{spec.name}_ln_{kind.replace('+', '_')}")
        except VariantError as exc:
            raise ValueError(f"layer_norm={kind!r}: variant {spec.name!r} cannot take it: {exc}") from exc
    return _CACHE[key]


def block_args(cls, block: str) -> tuple:
    """The argument names by which a layer-normalised class's stages read ``block``'s copied
    pre-activation (``ln_x_g``; ``ln_g`` under "gates"), for each stage prefix; () for other classes."""
    if not getattr(cls, "layer_norm", None):
        return ()
    return tuple(f"{_prefix(j)}{k}" for j in range(len(cls.get_stages())) for k in (f"x_{block}", block))


def _prefix(j):
    return "ln_" if j == 0 else f"ln{j}_"


def _build(spec, kind):
    cls = spec.cls
    C = cls.__name__
    declared = cls.get_stages()
    last_j = len(spec.stages) - 1
    cell = kind == "xh+cell"
    if cell:
        _check_cell(spec)
    if kind == "gates":
        _check_sum_structure(spec, kind)
    stages, methods, gains, shifts, block_bias = [], {}, [], [], {}
    for j, st in enumerate(spec.stages):
        P = _prefix(j)
        n_out = len(declared[j].outputs)
        xs = [spec.inputs[key] for _, k, key in st.fwd_args if k == "x"]
        as_ = [key for _, k, key in st.fwd_args if k == "a"]
        if kind == "gates":
            groups = {f"{b}": [(f"{P}{b}", b)] for b in dict.fromkeys(xs + as_)}
        else:
            groups = {}
            if xs:
                groups["x"] = [(f"{P}x_{b}", b) for b in xs]
            if as_:
                groups["a"] = [(f"{P}a_{b}", b) for b in as_]
        if st.kind == "reduce" or not groups:
            raise ValueError(f"layer_norm={kind!r}: variant {spec.name!r}'s stage {j} reads no input block and "
                             f"no product (or is a reduce stage); layer norm normalises pre-activations")
        # 1. the products and copies of what is normalised (x_k may be read by one stage only)
        members = [m for g in groups.values() for m, _ in g]
        cargs = [f"x_{b}" for b in xs] + [f"a_{b}" for b in as_]
        if kind == "gates":
            vals = [" + ".join(([f"x_{b}"] if b in xs else []) + ([f"a_{b}"] if b in as_ else []))
                    for b in groups]
        else:
            vals = cargs
        methods[f"_ln_copy{j}"] = _function(f"_ln_copy{j}", cargs, [], vals)
        stages.append(Stage(products=tuple(declared[j].products), outputs=tuple(members),
                            forward=f"_ln_copy{j}", backward=None))
        # 2, 3. each group's mean and variance over its units (a reduce stage each)
        mus = {g: f"{P}mu_{g}" for g in groups}
        vrs = {g: f"{P}var_{g}" for g in groups}
        methods[f"_ln_mu{j}"] = _function(
            f"_ln_mu{j}", members + ["n_units"], [],
            [f"({' + '.join(m for m, _ in groups[g])}) / ({len(groups[g])}.0 * n_units)" for g in groups])
        stages.append(Stage((), tuple(mus.values()), forward=f"_ln_mu{j}", backward=None, kind="reduce"))
        methods[f"_ln_var{j}"] = _function(
            f"_ln_var{j}", members + list(mus.values()) + ["n_units"], [],
            [f"({' + '.join(f'({m} - {mus[g]}) * ({m} - {mus[g]})' for m, _ in groups[g])}) / "
             f"({len(groups[g])}.0 * n_units) + LN_EPS / n_units" for g in groups])
        stages.append(Stage((), tuple(vrs.values()), forward=f"_ln_var{j}", backward=None, kind="reduce"))
        # 4. the variant's own maths on the normalised values
        norm = {}
        for g, ms in groups.items():
            for m, b in ms:
                if kind == "gates":
                    gn, sh = f"{P}g_{b}", f"{P}b_{b}"
                elif g == "x":
                    gn, sh = f"{P}gx_{b}", f"{P}bx_{b}"
                else:
                    gn, sh = f"{P}ga_{b}", None
                gains.append(gn)
                expr = f"({m} - {mus[g]}) * {gn} / math.sqrt({vrs[g]})"
                if sh is not None:
                    shifts.append(sh)
                    expr += f" + {sh}"
                    block_bias[b] = sh
                norm[(g, m)] = expr
        call = []
        for a, k, key in st.fwd_args:
            if k == "x":
                b = spec.inputs[key]
                g = b if kind == "gates" else "x"
                m = f"{P}{b}" if kind == "gates" else f"{P}x_{b}"
                call.append(norm[(g, m)])
            elif k == "a":
                call.append("0.0" if kind == "gates" else norm[("a", f"{P}a_{key}")])
            elif k == "fixed":
                call.append(repr(float(key)))
            else:
                call.append(a)
        outer = members + list(mus.values()) + list(vrs.values()) + \
            [n for g in groups for m, b in groups[g] for n in _params_of(kind, g, P, b)] + \
            [a for a, k, _ in st.fwd_args if k not in ("x", "a", "fixed")]
        outer = list(dict.fromkeys(outer))
        methods[f"_ln_orig{j}"] = st.forward
        outs = list(declared[j].outputs)
        if cell and j == last_j:
            # the final maths becomes a mid-step stage: the new states (but h) and what cell_output reads
            c_arg, *rest = _cell_args(cls)
            keep = [f"ln_new_{s}" for s in spec.state[1:]] + rest
            picks = [spec.state.index(s) for s in spec.state[1:]] + [outs.index(r) for r in rest]
            methods[f"_ln_w{j}"] = _function(f"_ln_w{j}", outer, [f"_r = _ln_orig{j}({', '.join(call)})"],
                                             [f"_r[{i}]" for i in picks])
            stages.append(Stage((), tuple(keep), forward=f"_ln_w{j}", backward=None))
            new_c = f"ln_new_{cls.cell_state}"
            methods["_ln_muc"] = _function("_ln_muc", [new_c, "n_units"], [], [f"{new_c} / n_units"])
            stages.append(Stage((), ("ln_mu_c",), forward="_ln_muc", backward=None, kind="reduce"))
            methods["_ln_varc"] = _function("_ln_varc", [new_c, "ln_mu_c", "n_units"], [],
                                            [f"({new_c} - ln_mu_c) * ({new_c} - ln_mu_c) / n_units + LN_EPS / n_units"])
            stages.append(Stage((), ("ln_var_c",), forward="_ln_varc", backward=None, kind="reduce"))
            gains.append("ln_gc")
            shifts.append("ln_bc")
            methods["_ln_cellout"] = cls.cell_output
            hexpr = (f"_ln_cellout(({new_c} - ln_mu_c) * ln_gc / math.sqrt(ln_var_c) + ln_bc"
                     + "".join(f", {r}" for r in rest) + ")")
            finals = [hexpr] + [f"ln_new_{s}" for s in spec.state[1:]]
            methods["_ln_out"] = _function("_ln_out", keep + ["ln_mu_c", "ln_var_c", "ln_gc", "ln_bc"], [], finals)
            stages.append(Stage((), tuple(spec.state), forward="_ln_out", backward=None))
        else:
            methods[f"_ln_w{j}"] = _function(f"_ln_w{j}", outer, [f"_r = _ln_orig{j}({', '.join(call)})"],
                                             [f"_r[{i}]" for i in range(n_out)])
            stages.append(Stage((), tuple(outs), forward=f"_ln_w{j}", backward=None))
    new_params = tuple(dict.fromkeys(gains + shifts))
    clash = [n for n in new_params if n in cls.unit_params]
    if clash:
        raise ValueError(f"layer_norm={kind!r}: variant {spec.name!r} already has unit parameters {clash}")
    gain_set = frozenset(gains)
    base_init = cls.init_unit_param.__func__

    def init_unit_param(klass, name, hidden, rng):
        if name in gain_set:
            import numpy as np
            return np.ones(hidden)
        if name in new_params:
            return None
        return base_init(klass, name, hidden, rng)

    ns = {k: staticmethod(v) for k, v in methods.items()}
    ns.update(stages=tuple(stages), unit_params=tuple(cls.unit_params) + new_params, saved=(),
              derive_backward=True, input_bias=False, block_bias=dict(block_bias), layer_norm=kind,
              layer_norm_of=cls, LN_EPS=EPS, init_unit_param=classmethod(init_unit_param),
              __doc__=f"{C} with layer norm {kind!r} (see lstmlab.layernorm).\n\n{cls.__doc__ or ''}",
              __module__=cls.__module__,
              reference=f"{cls.reference}; layer norm {kind!r} (lstmlab.layernorm)".lstrip("; "))
    return type(f"{C}_LN_{kind.replace('+', '_')}", (cls,), ns)


def _params_of(kind, g, P, b):
    if kind == "gates":
        return [f"{P}g_{b}", f"{P}b_{b}"]
    return [f"{P}gx_{b}", f"{P}bx_{b}"] if g == "x" else [f"{P}ga_{b}"]


def _function(name, args, body, returns):
    """A plain function from source lines (traced by sympy, never compiled as written)."""
    lines = [f"def {name}({', '.join(args)}):"] + [f"    {b}" for b in body]
    lines.append("    return (" + "".join(f"{r}, " for r in returns) + ")")
    ns = {"math": math}
    exec(compile("\n".join(lines) + "\n", f"<lstmlab.layernorm {name}>", "exec"), ns)  # noqa: S102
    return ns[name]


def _cell_args(cls):
    import inspect
    fn = cls.cell_output
    if isinstance(fn, staticmethod):
        fn = fn.__func__
    return list(inspect.signature(fn).parameters)


def _random_call(spec, st, rnd):
    return [key if k == "fixed" else rnd.uniform(-1.5, 1.5) for _, k, key in st.fwd_args]


def _check_cell(spec):
    """``xh+cell`` needs ``cell_state`` and a ``cell_output`` that reproduces the forward's output."""
    cls = spec.cls
    if cls.cell_state is None or cls.cell_output is None or cls.cell_state not in spec.state:
        raise ValueError(f"layer_norm='xh+cell': variant {spec.name!r} declares no memory cell "
                         f"(cell_state and cell_output); use 'xh' or 'gates'")
    from .binding import bind_function
    st = spec.stages[-1]
    declared = cls.get_stages()[-1].outputs
    c_arg, *rest = _cell_args(cls)
    missing = [r for r in rest if r not in declared]
    if missing:
        raise ValueError(f"layer_norm='xh+cell': {cls.__name__}.cell_output reads {missing}, which are not "
                         f"outputs of the final stage {tuple(declared)}")
    fwd = bind_function(cls, st.forward)
    out_fn = bind_function(cls, cls.cell_output)
    rnd = random.Random(0)
    for _ in range(5):
        outs = fwd(*_random_call(spec, st, rnd))
        named = dict(zip(declared, outs))
        h = out_fn(named[cls.cell_state], *[named[r] for r in rest])
        if not math.isclose(h, outs[0], rel_tol=1e-9, abs_tol=1e-12):
            raise ValueError(f"layer_norm='xh+cell': variant {spec.name!r}'s output {spec.state[0]!r} is not "
                             f"{cls.__name__}.cell_output of its cell ({h!r} against {outs[0]!r}); override "
                             f"cell_output to say how the output is made from the cell")


def _check_sum_structure(spec, kind):
    """``gates`` replaces (x_k, a_k) by (LN(x_k + a_k), 0): valid only if the maths reads their sum."""
    from .binding import bind_function
    rnd = random.Random(1)
    for j, st in enumerate(spec.stages):
        fwd = bind_function(spec.cls, st.forward)
        xs = {spec.inputs[key]: i for i, (_, k, key) in enumerate(st.fwd_args) if k == "x"}
        as_ = {key: i for i, (_, k, key) in enumerate(st.fwd_args) if k == "a"}
        for b in as_:
            if b not in xs:
                raise ValueError(f"layer_norm={kind!r}: variant {spec.name!r}'s block {b!r} gets its recurrent "
                                 f"product in stage {j} but its input projection elsewhere; a gate "
                                 f"pre-activation x + a is not formed in one place (use 'xh')")
        for _ in range(4):
            args = _random_call(spec, st, rnd)
            moved = list(args)
            for b, i in as_.items():
                moved[xs[b]] += moved[i]
                moved[i] = 0.0
            o1, o2 = fwd(*args), fwd(*moved)
            if not all(math.isclose(u, v, rel_tol=1e-9, abs_tol=1e-12) for u, v in zip(o1, o2)):
                why = "per-gate normalisation is not defined for it; use 'xh'"
                raise ValueError(f"layer_norm={kind!r}: variant {spec.name!r}'s stage {j} does not read its "
                                 f"gates only through x_k + a_k (the GRU's x_n + r * a_n, for example): {why}")
