r"""Derive a stage's backward from its forward with sympy.

A variant may write only the forward pointwise maths of a stage. At
registration lstmlab traces that forward with sympy symbols for its
arguments, differentiates, and writes two plain scalar functions that replace
the stage's forward and backward; the engine compiles them like handwritten
ones (CPU, and CUDA where present).

Given outputs :math:`o_k = F_k(u_1, \dots, u_n)` of the stage's arguments
:math:`u_i` (``x_*``, ``a_*``, state, unit parameters, earlier outputs), the
backward is the vector-Jacobian product

.. math::  \bar u_i = \sum_k \bar o_k \, \partial F_k / \partial u_i .

What the backward reads. It cannot see ``a_*`` (the recurrent products) but it
can read saved values. So the derived forward also returns, as extra saved
outputs, every ``sigmoid``/``tanh``/``exp``/``relu`` application of the maths
(their derivatives are functions of their own values: :math:`s(1-s)`,
:math:`1-t^2`, :math:`e`, :math:`[r > 0]`) and any ``a_*`` still needed after that. Before the
backward is written, sub-expressions equal to a saved value or an output are
replaced by it, and common sub-expressions are shared (``sympy.cse``). For an
LSTM written forward-only this saves exactly what the handwritten backward
saves (i, f, g, o, tanh c), and the backward computes no transcendental.

Errors, raised as :class:`lstmlab.VariantError` naming the variant and the
operation: a branch on a value (``if``, comparisons, ``min``/``max``), a
``math`` function sympy has no counterpart for, and a derivative sympy leaves
unevaluated (``floor``, for example).
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import types

from . import kernel_files, scalar
from .binding import bind_function
from .variant import VariantError

#: ``math`` functions a derived forward may use (each maps to sympy's).
MATH_FUNCTIONS = ("exp", "log", "sqrt", "tanh", "sinh", "cosh", "sin", "cos", "tan", "atan", "asinh",
                  "expm1", "log1p", "fabs", "pi", "e")

_SYMPY = None


def _sympy():
    global _SYMPY
    if _SYMPY is None:
        import sympy

        class sigmoid(sympy.Function):  # noqa: N801 - printed as lstmlab.scalar.sigmoid
            """Logistic function; d sigmoid(x)/dx = sigmoid(x) (1 - sigmoid(x))."""

            def fdiff(self, argindex=1):
                s = sigmoid(self.args[0])
                return s * (1 - s)

        class relu_step(sympy.Function):  # noqa: N801 - printed as lstmlab.scalar.relu_step
            """1 where its argument (a relu's value) is positive, else 0; flat almost everywhere."""

            def fdiff(self, argindex=1):
                return sympy.Integer(0)

        class relu(sympy.Function):  # noqa: N801 - printed as lstmlab.scalar.relu
            """max(x, 0); d relu(x)/dx = relu_step(relu(x)), a function of its own value."""

            def fdiff(self, argindex=1):
                return relu_step(relu(self.args[0]))

        _SYMPY = types.SimpleNamespace(sp=sympy, sigmoid=sigmoid, relu=relu, relu_step=relu_step)
    return _SYMPY


def _math_module(sp):
    mod = types.ModuleType("lstmlab.derive.math", "math, for tracing a forward with sympy")
    names = dict(exp=sp.exp, log=sp.log, sqrt=sp.sqrt, tanh=sp.tanh, sinh=sp.sinh, cosh=sp.cosh, sin=sp.sin,
                 cos=sp.cos, tan=sp.tan, atan=sp.atan, asinh=sp.asinh, expm1=lambda x: sp.exp(x) - 1,
                 log1p=lambda x: sp.log(1 + x), fabs=sp.Abs, pi=sp.pi, e=sp.E)
    mod.__dict__.update(names)

    def missing(name):
        raise AttributeError(f"math.{name} has no symbolic counterpart (supported: {', '.join(MATH_FUNCTIONS)})")

    mod.__getattr__ = missing
    return mod


def needs_derivation(cls, stage) -> bool:
    """Whether ``stage`` of ``cls`` gets a derived backward.

    ``cls.derive_backward`` True forces it, False forbids it; None (default)
    derives when the stage's backward is missing or ``None``, or when the
    forward is defined in a subclass of the class that wrote the backward
    (an inherited backward would not match an overridden forward).
    """
    flag = getattr(cls, "derive_backward", None)
    if flag is not None:
        return bool(flag)
    if stage.backward is None:
        return True
    bwd_owner = _owner(cls, stage.backward)
    if bwd_owner is None or getattr(bwd_owner, stage.backward) is None:
        return True
    fwd_owner = _owner(cls, stage.forward)
    return fwd_owner is not None and fwd_owner is not bwd_owner and issubclass(fwd_owner, bwd_owner)


def _owner(cls, name):
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass
    return None


def trace(cls, fwd_fn, fwd_args, what: str):
    """``(sympy namespace, {argument: symbol}, [output expressions])``: ``fwd_fn`` run on sympy symbols.

    ``fwd_args`` as for :func:`derive_stage` (fixed arguments enter as their
    values); ``what`` names the function in errors (``"stage 0's forward"``).
    """
    S = _sympy()
    sp = S.sp
    C = cls.__name__
    syms = {a: sp.Symbol(a, real=True) for a, kind, _ in fwd_args if kind != "fixed"}
    call = [syms[a] if kind != "fixed" else key for a, kind, key in fwd_args]
    replace = {scalar.sigmoid: S.sigmoid, scalar.tanh: sp.tanh, scalar.exp: sp.exp, scalar.identity: lambda x: x,
               scalar.relu: S.relu, scalar.relu_step: S.relu_step, math: _math_module(sp)}
    traced = bind_function(cls, fwd_fn, replace=replace)
    try:
        outs = traced(*call)
    except TypeError as exc:
        if "truth value" in str(exc) or "Relational" in str(exc):
            raise VariantError(f"variant {C}: {what} branches on a value ({exc}); a derived "
                               f"backward needs branch-free maths (if/min/max/comparisons on arguments). Write "
                               f"the backward by hand, or use smooth functions") from exc
        raise VariantError(f"variant {C}: tracing {what} with sympy failed: {exc}") from exc
    except AttributeError as exc:
        raise VariantError(f"variant {C}: {what} uses an operation a derived backward cannot "
                           f"handle: {exc}") from exc
    if not isinstance(outs, tuple):
        raise VariantError(f"variant {C}: {what} must return a tuple, got {outs!r}")
    return S, syms, [sp.sympify(o) for o in outs]


def function_from(cls, name: str, params: list, exprs: list, tag: str):
    """A plain scalar function ``name(params) -> tuple(exprs)`` printed from sympy expressions, from a file in
    the kernel cache (so a traceback through it shows its lines); ``tag`` makes the file's name."""
    sp = _sympy().sp
    code = f"# written by lstmlab for {cls.__name__}\n{_function_source(sp, name, params, exprs)}"
    return _exec(cls, code, tag)[name]


def _exec(cls, code: str, tag: str) -> dict:
    ns = {"sigmoid": scalar.sigmoid, "tanh": scalar.tanh, "exp": scalar.exp, "relu": scalar.relu,
          "relu_step": scalar.relu_step, "math": math, "__name__": f"lstmlab.derived.{cls.__name__}"}
    digest = hashlib.sha256(code.encode()).hexdigest()[:20]
    path = kernel_files.write_once(kernel_files.module_name("lstmlab_derived", f"{cls.__name__}_{tag}", digest), code)
    exec(compile(code, str(path), "exec"), ns)  # noqa: S102 - our own source
    return ns


def derive_stage(cls, stage, index: int, fwd_fn, fwd_args, state: tuple, last: bool):
    """A stage whose forward and backward are generated from ``fwd_fn``'s maths.

    ``fwd_args`` is the forward's binding ``(name, kind, key)`` as computed by
    :func:`lstmlab.spec.describe`. Returns ``(new_stage, forward, backward)``:
    the stage with outputs extended by the saved values, and the two plain
    functions (also attached to ``cls`` as static methods).
    """
    S, syms, outs = trace(cls, fwd_fn, fwd_args, f"stage {index}'s forward")
    sp = S.sp
    C = cls.__name__
    if len(outs) != len(stage.outputs):
        raise VariantError(f"variant {C}: stage {index}'s forward must return a tuple of {len(stage.outputs)} "
                           f"values {stage.outputs}, got {len(outs)}")
    nst = len(state) if last else 0

    # values the backward may read, by symbol: outputs (new state as <s>_new)
    readable_name = {}
    for k, o in enumerate(stage.outputs):
        readable_name[o] = f"{o}_new" if k < nst else o
    out_sym = {o: sp.Symbol(readable_name[o], real=True) for o in stage.outputs}

    # saved transcendental applications, in order of appearance
    apps = []
    for expr in outs:
        for node in sp.preorder_traversal(expr):
            if isinstance(node, (S.sigmoid, sp.tanh, sp.exp, S.relu)) and node not in apps:
                apps.append(node)
    subst = {}
    for o, expr in zip(stage.outputs, outs):
        if not expr.is_number:
            subst.setdefault(expr, out_sym[o])
    extra_names, extra_exprs = [], []
    for n, node in enumerate(apps):
        if node in subst:
            continue
        name = f"_sv{index}_{n}"
        extra_names.append(name)
        extra_exprs.append(node)
        subst[node] = sp.Symbol(name, real=True)

    dsym = {o: sp.Symbol(f"d_{o}", real=True) for o in stage.outputs}
    grads = []
    for a, kind, _ in fwd_args:
        if kind == "fixed":
            grads.append(sp.Integer(0))
            continue
        g = sum((dsym[o] * sp.diff(expr, syms[a]) for o, expr in zip(stage.outputs, outs)), sp.Integer(0))
        if g.has(sp.Derivative):
            bad = next(iter(g.atoms(sp.Derivative)))
            raise VariantError(f"variant {C}: stage {index}'s forward uses an operation sympy cannot "
                               f"differentiate: {bad.args[0]}")
        grads.append(g.xreplace(subst))
    # anything the backward cannot read (a_*) becomes a saved value too
    for a, kind, _ in fwd_args:
        if kind == "a" and any(g.has(syms[a]) for g in grads):
            name = f"_sv{index}_{a}"
            extra_names.append(name)
            extra_exprs.append(syms[a])
            grads = [g.xreplace({syms[a]: sp.Symbol(name, real=True)}) for g in grads]

    new_outputs = tuple(stage.outputs) + tuple(extra_names)
    fname, bname = f"_derived_forward_{index}", f"_derived_backward_{index}"
    fsrc = _function_source(sp, fname, [a for a, _, _ in fwd_args], outs + extra_exprs)
    used = set().union(*(g.free_symbols for g in grads)) if grads else set()
    readable = ([a for a, kind, _ in fwd_args if kind in ("x", "state", "param", "out", "units", "mask")]
                + [readable_name[o] for o in stage.outputs] + list(extra_names))
    bargs = [r for r in readable if sp.Symbol(r, real=True) in used]
    bargs += [f"d_{o}" for o in stage.outputs if dsym[o] in used]
    unknown = {str(s) for s in used} - set(bargs)
    if unknown:  # pragma: no cover - guarded by the substitutions above
        raise VariantError(f"variant {C}: derived backward of stage {index} needs {sorted(unknown)}")
    bsrc = _function_source(sp, bname, bargs, grads)
    code = f"# derived by lstmlab from {C}.{stage.forward}\n{fsrc}\n\n{bsrc}"
    ns = _exec(cls, code, str(index))
    fwd, bwd = ns[fname], ns[bname]
    fwd.__lstmlab_source__ = bwd.__lstmlab_source__ = code
    setattr(cls, fname, staticmethod(fwd))
    setattr(cls, bname, staticmethod(bwd))
    new_stage = dataclasses.replace(stage, outputs=new_outputs, forward=fname, backward=bname)
    return new_stage, fwd, bwd


def _function_source(sp, name, params, exprs):
    """Python source of ``def name(params): ... return (exprs)`` with shared sub-expressions."""
    printer = _printer(sp)
    sig = list(params)  # fixed arguments stay positional: the engine passes their values
    reps, reduced = sp.cse(exprs, symbols=sp.numbered_symbols("_c"), optimizations="basic")
    lines = [f"def {name}({', '.join(sig)}):"]
    lines += [f"    {printer.doprint(s)} = {printer.doprint(e)}" for s, e in reps]
    lines.append("    return (" + "".join(f"{printer.doprint(e)}, " for e in reduced) + ")")
    return "\n".join(lines) + "\n"


def _printer(sp):
    from sympy.printing.pycode import PythonCodePrinter

    class Printer(PythonCodePrinter):
        def _print_sigmoid(self, e):
            return f"sigmoid({self._print(e.args[0])})"

        def _print_tanh(self, e):
            return f"tanh({self._print(e.args[0])})"

        def _print_relu(self, e):
            return f"relu({self._print(e.args[0])})"

        def _print_relu_step(self, e):
            return f"relu_step({self._print(e.args[0])})"

        def _print_exp(self, e):
            return f"exp({self._print(e.args[0])})"

        def _print_Float(self, e):
            return repr(float(e))

        def _print_Rational(self, e):
            return repr(float(e))

        def _print_Integer(self, e):
            return f"{int(e)}.0"

        def _print_Exp1(self, e):
            return repr(math.e)

        def _print_Pow(self, e, rational=False):
            base, ex = e.args
            if ex.is_Integer and 1 < int(ex) <= 4:
                # parenthesised: in a denominator, a/(c*c) must not print as a/c*c
                b = self.parenthesize(base, 100)
                return "(" + "*".join([b] * int(ex)) + ")"
            if ex.is_Integer and int(ex) == -1:
                return f"1.0/{self.parenthesize(base, 100)}"
            if ex == sp.Rational(1, 2):
                return f"math.sqrt({self._print(base)})"
            if ex == sp.Rational(3, 2):  # a layer norm's variance gradient: no pow call per unit
                return f"({self.parenthesize(base, 100)}*math.sqrt({self._print(base)}))"
            if ex == -sp.Rational(1, 2):
                return f"(1.0/math.sqrt({self._print(base)}))"
            return super()._print_Pow(e, rational)

    return Printer({"fully_qualified_modules": True, "standard": "python3"})
