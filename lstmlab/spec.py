"""A variant class validated against the contract, and how the engine binds it.

:func:`describe` checks a :class:`~lstmlab.variant.Variant` subclass once
(names, stages, products, the pointwise functions' arguments, class
options), derives missing backwards with sympy (:mod:`lstmlab.derive`),
calls every stage once on scalars, and returns its :class:`VariantSpec`:
what the code generators and the engines read. Errors are
:class:`~lstmlab.variant.VariantError` naming the class and the declaration
at fault.
"""
from __future__ import annotations

import inspect
import math
import types
from dataclasses import dataclass, field

from .binding import bind_arguments, bind_function
from .derive import derive_stage, needs_derivation
from .init import RECURRENT_INITS
from .variant import Product, Stage, Variant, VariantError

__all__ = ["StageSpec", "VariantSpec", "describe"]


@dataclass
class StageSpec:
    index: int
    products: tuple
    outputs: tuple
    fwd_args: tuple          # (name, kind, key) kind in x,a,state,param,out,units,fixed
    bwd_args: tuple          # (name, kind, key) kind in x,state,param,out,units,newstate,grad,fixed
    forward: types.FunctionType = None   # bound pure-Python functions
    backward: types.FunctionType = None
    kind: str = "pointwise"
    row_outputs: tuple = ()  # a reduce stage's declared outputs: sums over the units


@dataclass
class VariantSpec:
    cls: type
    name: str
    inputs: tuple
    state: tuple
    unit_params: tuple
    stages: tuple
    saved: tuple                      # non-state outputs of all stages, storage order
    products: tuple = field(default_factory=tuple)

    @property
    def n_gates(self):
        return len(self.inputs)

    def param_shapes(self, input_size: int, hidden: int) -> dict:
        """Parameter name -> shape for one direction of one layer."""
        H = hidden
        shapes = {"W": (len(self.inputs) * H, input_size)}
        if self.cls.input_bias:
            shapes["b"] = (len(self.inputs) * H,)
        for p in self.products:
            shapes[p.name] = (len(p.targets) * H, len(p.source) * H)
            if p.bias:
                shapes["b_" + p.name] = (len(p.targets) * H,)
        for u in self.unit_params:
            shapes[u] = (H,)
        return shapes


def _check_names(cls, what, names):
    if not isinstance(names, tuple) or not all(isinstance(n, str) and n.isidentifier() for n in names):
        raise VariantError(f"{cls.__name__}.{what} must be a tuple of identifier strings, got {names!r}")
    if len(set(names)) != len(names):
        raise VariantError(f"{cls.__name__}.{what} has duplicate names: {names!r}")


def _method(cls, name, what):
    raw = inspect.getattr_static(cls, name, None)
    if raw is None:
        raise VariantError(f"{cls.__name__} declares stage {what} {name!r} but has no such static method")
    if not isinstance(raw, staticmethod):
        raise VariantError(f"{cls.__name__}.{name} must be a @staticmethod of named scalars, got {type(raw).__name__}")
    return raw.__func__


def _check_declarations(cls) -> tuple:
    C = cls.__name__
    for what in ("inputs", "state", "unit_params", "saved", "step_masks"):
        _check_names(cls, what, getattr(cls, what))
    if not cls.inputs:
        raise VariantError(f"{C}.inputs must name at least one gate block, got ()")
    if not cls.state:
        raise VariantError(f"{C}.state must name at least one state variable, got ()")
    stages = cls.get_stages()
    if not stages or not all(isinstance(s, Stage) for s in stages):
        raise VariantError(f"{C}.stages must be a non-empty tuple of Stage, got {stages!r}")
    if len(set(cls.inputs) | set(cls.state) | set(cls.unit_params)) != \
            len(cls.inputs) + len(cls.state) + len(cls.unit_params):
        raise VariantError(f"{C}: inputs, state and unit_params must not share names")
    return stages


STAGE_KINDS = ("pointwise", "reduce")
#: An argument of this name reads the layer's hidden size H as a float (a mean over units divides by it).
UNITS = "n_units"


def _check_kind(cls, k, st, last):
    C = cls.__name__
    if st.kind not in STAGE_KINDS:
        raise VariantError(f"{C}.stages[{k}].kind: expected one of {STAGE_KINDS}, got {st.kind!r}")
    if st.kind == "reduce" and last:
        raise VariantError(f"{C}.stages[{k}]: a 'reduce' stage cannot be the final stage (it outputs sums "
                           f"over units, the final stage outputs the state)")
    if st.kind == "reduce" and st.products:
        raise VariantError(f"{C}.stages[{k}]: a 'reduce' stage has no products; put them in a pointwise "
                           f"stage before it")


def _check_products(cls, k, st, known_outputs, prod_names, taken, row_values=()) -> set:
    """Validate stage ``k``'s products; returns the blocks they target."""
    C = cls.__name__
    targets = set()
    for p in st.products:
        if not isinstance(p, Product):
            raise VariantError(f"{C}.stages[{k}].products must hold Product, got {p!r}")
        _check_names(cls, f"product {p.name!r} source", tuple(p.source))
        _check_names(cls, f"product {p.name!r} targets", tuple(p.targets))
        for s in p.source:
            if s not in cls.state and s not in known_outputs:
                raise VariantError(f"{C}: product {p.name!r} reads {s!r}, which is neither a state "
                                   f"variable nor an output of an earlier stage")
            if s in row_values:
                raise VariantError(f"{C}: product {p.name!r} reads {s!r}, a sum over units from a 'reduce' "
                                   f"stage; products read per-unit values only")
        if p.name in prod_names or p.name in ("W", "b") or p.name in taken:
            raise VariantError(f"{C}: product name {p.name!r} is used twice or clashes")
        prod_names.add(p.name)
        targets.update(p.targets)
    return targets


def _common(cls, a, known):
    """The kinds both a forward and a backward may bind: x_<block>, state, unit parameter, output."""
    if a.startswith("x_") and a[2:] in cls.inputs:
        return "x", cls.inputs.index(a[2:])
    if a in cls.state:
        return "state", cls.state.index(a)
    if a in cls.unit_params:
        return "param", cls.unit_params.index(a)
    if a in known:
        return "out", a
    if a == UNITS:
        return "units", None
    if a.startswith("m_") and a[2:] in cls.step_masks:
        return "mask", cls.step_masks.index(a[2:])
    return None


def _bind_forward(cls, st, fwd, targets, known_outputs):
    def resolve(a):
        if a.startswith("a_") and a[2:] in targets:
            return "a", a[2:]
        return _common(cls, a, known_outputs)
    hint = (f"names nothing this variant declares (blocks x_{{{','.join(cls.inputs)}}}, "
            f"a_{{{','.join(sorted(targets))}}}, state {cls.state}, unit_params {cls.unit_params}, earlier "
            f"outputs {tuple(known_outputs)}) and has no default")
    return bind_arguments(cls, fwd, st.forward, resolve, hint)


def _bind_backward(cls, st, bwd, known_outputs, own_saved, last):
    def resolve(a):
        if a.startswith("d_") and a[2:] in st.outputs:
            return "grad", a[2:]
        found = _common(cls, a, set(known_outputs) | own_saved)
        if found is None and last and a.endswith("_new") and a[:-4] in cls.state:
            return "newstate", cls.state.index(a[:-4])
        return found
    hint = ("is not available to a backward (use x_*, previous state, unit params, outputs of this or earlier "
            "stages, <state>_new in the final stage, or d_<output>)")
    return bind_arguments(cls, bwd, st.backward, resolve, hint)


def _check_class_options(cls):
    C = cls.__name__
    if not isinstance(cls.gated, bool):
        raise VariantError(f"{C}.gated must be True or False, got {cls.gated!r}")
    if cls.recurrent_init not in RECURRENT_INITS:
        raise VariantError(f"{C}.recurrent_init must be one of {RECURRENT_INITS}, got {cls.recurrent_init!r}")
    if cls.recurrent_init == "identity" and cls.gated:
        raise VariantError(f"{C}.recurrent_init = 'identity' needs gated = False (an identity R pins a gated "
                           f"cell's gates); got a gated class")
    _check_names(cls, "recurrent_unit_params", cls.recurrent_unit_params)
    stray = [u for u in cls.recurrent_unit_params if u not in cls.unit_params]
    if stray:
        raise VariantError(f"{C}.recurrent_unit_params {stray} are not unit_params {cls.unit_params!r}")
    for attr in ("forget_block", "input_block", "candidate_block"):
        blk = getattr(cls, attr)
        if blk is not None and blk not in cls.inputs:
            raise VariantError(f"{C}.{attr} = {blk!r} is not one of inputs {cls.inputs!r}")
    if cls.step_masks and cls.__dict__.get("candidate_dropout_of") is None:
        # their masks are drawn by the layer for the forms it builds (lstmlab.candidate_dropout) only
        raise VariantError(f"{C}.step_masks = {cls.step_masks!r}: per-step masks are set by "
                           f"lstmlab.candidate_dropout, not declared by a variant; remove step_masks")


def describe(cls, name: str | None = None) -> VariantSpec:
    """Validate ``cls`` against the contract and return its binding spec.

    Raises :class:`VariantError` naming the class and the declaration at fault.
    """
    if not (isinstance(cls, type) and issubclass(cls, Variant)):
        raise VariantError(f"variant must be a subclass of lstmlab.Variant, got {cls!r}")
    if cls.__dict__.get("_spec") is not None and (name is None or cls._spec.name == name):
        return cls._spec
    C = cls.__name__
    stages = _check_declarations(cls)
    taken = set(cls.inputs) | set(cls.state) | set(cls.unit_params)
    prefixed = {"x_" + b for b in cls.inputs}
    known_outputs = {}          # output name -> stage index
    products, specs, saved = [], [], []
    bound_x, prod_names, row_values = set(), set(), set()
    for k, st in enumerate(stages):
        last = k == len(stages) - 1
        _check_names(cls, f"stages[{k}].outputs", tuple(st.outputs))
        _check_kind(cls, k, st, last)
        if last and tuple(st.outputs[:len(cls.state)]) != tuple(cls.state):
            raise VariantError(f"{C}: the final stage's outputs must start with the state {cls.state!r}, "
                               f"got {st.outputs!r}")
        own = st.outputs[len(cls.state):] if last else st.outputs
        for o in own:
            if o in taken or o in known_outputs or o in prefixed:
                raise VariantError(f"{C}.stages[{k}]: output {o!r} clashes with another declared name")
        targets = _check_products(cls, k, st, known_outputs, prod_names, taken, row_values)
        products += [(k, p) for p in st.products]
        fwd = _method(cls, st.forward, "forward")
        fwd_args = _bind_forward(cls, st, fwd, targets, known_outputs)
        for a, kind, _ in fwd_args:
            if kind == "x":
                if a in bound_x:
                    raise VariantError(f"{C}: {a!r} is read by two stages; each input block belongs to one")
                bound_x.add(a)
        for t in targets:
            if not any(kind == "a" and key == t for _, kind, key in fwd_args):
                raise VariantError(f"{C}.{st.forward} must take a_{t}: stage {k} computes it")
        if needs_derivation(cls, st):
            st, fwd, bwd = derive_stage(cls, st, k, fwd, fwd_args, tuple(cls.state), last)
            own = st.outputs[len(cls.state):] if last else st.outputs
        elif cls.derive_backward is False and inspect.getattr_static(cls, st.backward, None) is None:
            raise VariantError(f"{C} declares stage backward {st.backward!r} but has no such static method "
                               f"(and derive_backward is False)")
        else:
            bwd = _method(cls, st.backward, "backward")
        own_saved = set(own) if not last else set(st.outputs[len(cls.state):])
        bwd_args = _bind_backward(cls, st, bwd, known_outputs, own_saved, last)
        rows = tuple(stages[k].outputs) if st.kind == "reduce" else ()
        row_values.update(rows)
        specs.append(StageSpec(k, tuple(st.products), tuple(st.outputs), fwd_args, bwd_args,
                               bind_function(cls, fwd), bind_function(cls, bwd), st.kind, rows))
        for o in own:
            known_outputs[o] = k
            saved.append(o)
        if last:
            saved += [o for o in st.outputs[len(cls.state):] if o not in saved]
    unused = [b for b in cls.inputs if "x_" + b not in bound_x]
    if unused:
        raise VariantError(f"{C}: input blocks {unused} are declared but no stage's forward reads x_<block>")
    spec = VariantSpec(cls, name or C.lower(), tuple(cls.inputs), tuple(cls.state), tuple(cls.unit_params),
                       tuple(specs), tuple(saved), tuple(p for _, p in products))
    _check_class_options(cls)
    _trial_call(spec)
    cls._spec = spec
    return spec


def _trial_call(spec):
    """Call each stage once in Python so arity mistakes surface at registration."""
    C = spec.cls.__name__
    for st in spec.stages:
        args = [0.1 if kind != "fixed" else key for _, kind, key in st.fwd_args]
        try:
            out = st.forward(*args)
        except Exception as exc:  # noqa: BLE001 - reported with context
            raise VariantError(f"{C}: calling forward of stage {st.index} on scalars failed: {exc!r}") from exc
        if not isinstance(out, tuple) or len(out) != len(st.outputs):
            raise VariantError(f"{C}: forward of stage {st.index} must return a tuple of {len(st.outputs)} "
                               f"values {st.outputs}, got {out!r}")
        args = [0.1 if kind != "fixed" else key for _, kind, key in st.bwd_args]
        try:
            grads = st.backward(*args)
        except Exception as exc:  # noqa: BLE001
            raise VariantError(f"{C}: calling backward of stage {st.index} on scalars failed: {exc!r}") from exc
        if not isinstance(grads, tuple) or len(grads) != len(st.fwd_args):
            raise VariantError(f"{C}: backward of stage {st.index} must return {len(st.fwd_args)} gradients "
                               f"(one per forward argument {[a for a, _, _ in st.fwd_args]}), got {grads!r}")
        if not all(isinstance(g, (int, float)) and math.isfinite(g) for g in grads):
            raise VariantError(f"{C}: backward of stage {st.index} returned non-scalars or non-finite values")
