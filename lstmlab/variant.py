"""The variant contract: what a gated recurrent cell declares, and its checks.

A variant is a subclass of :class:`Variant`. It declares

``inputs``
    names of the gate blocks fed by the input projection. The engine computes
    ``W x_t + b`` for the whole sequence in one GEMM; block ``k`` is
    ``x_<k>`` in the pointwise maths. ``W`` has shape ``(len(inputs)*H, D)``.
``state``
    the recurrent state, e.g. ``("h", "c")``. ``state[0]`` is the layer output.
``unit_params``
    per-unit parameter vectors of shape ``(H,)`` (e.g. peephole weights).
``stages``
    the step as a sequence of :class:`Stage`. Each stage first runs its
    recurrent matrix products (:class:`Product`: a matrix times a vector of
    previous-state values or values produced earlier in this step), then one
    fused pointwise pass. One stage covers the LSTM family; a gate applied to
    the state before a second product (MGU, reset-before GRU) is a second
    stage. Left as ``None``, a variant gets one stage with one product
    ``R`` from ``h`` to every input block, and outputs ``state + saved``.
``saved``
    (single-stage default only) values the forward keeps for the backward.

Pointwise maths
---------------
Each stage names a forward and a backward static method, plain scalar Python
(``math`` and :mod:`lstmlab.scalar`), compiled per unit ``(b, j)``.
The forward's arguments are bound **by name**:

* ``x_<k>``: input projection of block ``k`` (bias included);
* ``a_<k>``: sum of this stage's recurrent products targeting ``k``;
* a state name: that state's value at the previous step;
* a unit parameter name; an output of an earlier stage.

An argument with a Python default that names nothing declared takes its
default (that is how Greff et al.'s variants drop a gate). The forward returns
a tuple in the order of the stage's ``outputs``; the final stage's outputs
start with the new ``state``.

The backward is the vector-Jacobian product: it may take any of the names the
forward could bind (except ``a_*``), the stage's own non-state outputs, and
``d_<o>`` for each output ``o`` of its stage (the gradient flowing into it),
and returns the gradients of the forward's arguments, in the forward's order.
The final stage's backward may also read the new state as ``<name>_new``.

Inside pointwise functions, bare names resolve first against the class:
ALL-CAPS constants and static methods of the variant (and its bases) shadow
module globals, so a subclass changes one constant or helper and inherits the
rest. Bound this way the function stays a pure function of named scalars.
"""
from __future__ import annotations

import inspect
import math
import types
from dataclasses import dataclass, field

__all__ = ["Variant", "Stage", "Product", "VariantError", "describe"]


class VariantError(TypeError):
    """A variant class breaks the contract (raised when it is registered)."""


@dataclass(frozen=True)
class Product:
    """A recurrent matrix product ``a = R @ concat(source) (+ b_R)``.

    ``R`` has shape ``(len(targets)*H, len(source)*H)``; the parameter is named
    ``name`` and its bias (when ``bias``) ``"b_" + name``.
    """
    source: tuple
    targets: tuple
    name: str = "R"
    bias: bool = False


@dataclass(frozen=True)
class Stage:
    """Products, then one fused pointwise pass ``forward``/``backward``."""
    products: tuple
    outputs: tuple
    forward: str = "forward"
    backward: str | None = "backward"
    kind: str = "pointwise"  # room for per-step reductions (layer norm) later


class Variant:
    """Base class of all gated recurrent cells. See the module docstring."""

    #: Citation shown in listings.
    reference: str = ""
    inputs: tuple = ()
    state: tuple = ("h",)
    unit_params: tuple = ()
    saved: tuple = ()
    stages: tuple | None = None
    #: Blocks used by initialisers: forget-gate bias, chrono (b_i = -b_f).
    forget_block: str | None = None
    input_block: str | None = None
    #: Default forget-gate bias (Gers et al. 2000; Jozefowicz et al. 2015).
    forget_bias: float = 1.0
    #: False for cells without gates (Elman, IRNN, IndRNN); only those accept
    #: ``recurrent_init="identity"``, which would pin a gated cell's gates open.
    gated: bool = True
    #: The recurrent initialisation a layer uses when given none
    #: ("default", "orthogonal" or "identity"; see :mod:`lstmlab.init`).
    recurrent_init: str = "default"
    #: Unit parameters that act as a diagonal recurrent matrix (IndRNN's ``u``):
    #: ``recurrent_init="identity"`` sets them to the gain.
    recurrent_unit_params: tuple = ()
    #: Derive the pointwise backward with sympy (lstmlab.derive): None (default)
    #: derives it for a stage without a backward, or whose forward overrides the
    #: one the inherited backward was written for; True always; False never.
    derive_backward: bool | None = None

    @classmethod
    def init_unit_param(cls, name: str, hidden: int, rng):
        """Initial value, shape ``(hidden,)``, of unit parameter ``name``; None means zeros.

        Override for parameters that must not start at zero (IndRNN's ``u``)."""
        return None

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        cls._spec = None  # each class describes itself lazily, once

    @classmethod
    def get_stages(cls) -> tuple:
        if cls.stages is not None:
            return tuple(cls.stages)
        return (Stage(products=(Product(("h",), tuple(cls.inputs)),),
                      outputs=tuple(cls.state) + tuple(cls.saved)),)


# ---------------------------------------------------------------------------
# Description: validate a class once and compute how the engine binds it.

@dataclass
class StageSpec:
    index: int
    products: tuple
    outputs: tuple
    fwd_args: tuple          # (name, kind, key) kind in x,a,state,param,out,fixed
    bwd_args: tuple          # (name, kind, key) kind in x,state,param,out,grad,fixed
    forward: types.FunctionType = None   # bound pure-Python functions
    backward: types.FunctionType = None


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
        shapes = {"W": (len(self.inputs) * H, input_size), "b": (len(self.inputs) * H,)}
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


def _class_namespace(cls) -> dict:
    """ALL-CAPS constants and static methods visible to the pointwise maths."""
    ns = {}
    for klass in reversed(cls.__mro__):
        if klass in (object, Variant):
            continue
        for key, val in vars(klass).items():
            if key.startswith("__"):
                continue
            if isinstance(val, staticmethod):
                ns[key] = val.__func__
            elif key.isupper() and isinstance(val, (bool, int, float)):
                ns[key] = val
    return ns


def bind_function(cls, fn, wrap=None, replace=None, _seen=None):
    """A copy of ``fn`` whose globals see the class namespace first.

    ``wrap`` turns each helper (a static method ``fn`` calls) into what the
    target needs (``numba.njit`` for the CPU); helpers are bound recursively.
    ``replace`` maps global helpers or modules (``math``) to the target's own
    versions, used as they are (the CPU's vectorisable sigmoid, for example).
    """
    _seen = {} if _seen is None else _seen
    replace = replace or {}
    ns = _class_namespace(cls)
    glb = dict(fn.__globals__)
    for name in fn.__code__.co_names:
        if name in ns:
            val = ns[name]
        elif _replaceable(glb.get(name)) and glb[name] in replace:
            glb[name] = replace[glb[name]]
            continue
        elif wrap is not None and isinstance(glb.get(name), types.FunctionType):
            val = glb[name]  # a plain-Python helper such as lstmlab.scalar.sigmoid
        else:
            continue
        if isinstance(val, types.FunctionType):
            if val not in _seen:
                _seen[val] = None  # guard recursion
                bound = bind_function(cls, val, wrap, replace, _seen)
                _seen[val] = wrap(bound) if wrap else bound
            val = _seen[val]
        glb[name] = val
    new = types.FunctionType(fn.__code__, glb, fn.__name__, fn.__defaults__, fn.__closure__)
    new.__qualname__ = f"{cls.__qualname__}.{fn.__name__}"
    new.__doc__ = fn.__doc__
    return new


def _replaceable(val):
    return isinstance(val, (types.FunctionType, types.ModuleType))


def _method(cls, name, what):
    raw = inspect.getattr_static(cls, name, None)
    if raw is None:
        raise VariantError(f"{cls.__name__} declares stage {what} {name!r} but has no such static method")
    if not isinstance(raw, staticmethod):
        raise VariantError(f"{cls.__name__}.{name} must be a @staticmethod of named scalars, got {type(raw).__name__}")
    return raw.__func__


def describe(cls, name: str | None = None) -> VariantSpec:
    """Validate ``cls`` against the contract and return its binding spec.

    Raises :class:`VariantError` naming the class and the declaration at fault.
    """
    if not (isinstance(cls, type) and issubclass(cls, Variant)):
        raise VariantError(f"variant must be a subclass of lstmlab.Variant, got {cls!r}")
    if cls.__dict__.get("_spec") is not None and (name is None or cls._spec.name == name):
        return cls._spec
    C = cls.__name__
    for what in ("inputs", "state", "unit_params", "saved"):
        _check_names(cls, what, getattr(cls, what))
    if not cls.inputs:
        raise VariantError(f"{C}.inputs must name at least one gate block, got ()")
    if not cls.state:
        raise VariantError(f"{C}.state must name at least one state variable, got ()")
    stages = cls.get_stages()
    if not stages or not all(isinstance(s, Stage) for s in stages):
        raise VariantError(f"{C}.stages must be a non-empty tuple of Stage, got {stages!r}")
    taken = set(cls.inputs) | set(cls.state) | set(cls.unit_params)
    prefixed = {"x_" + b for b in cls.inputs}
    if len(taken) != len(cls.inputs) + len(cls.state) + len(cls.unit_params):
        raise VariantError(f"{C}: inputs, state and unit_params must not share names")

    known_outputs = {}          # output name -> stage index
    products, specs, saved = [], [], []
    bound_x, prod_names = set(), set()
    for k, st in enumerate(stages):
        last = k == len(stages) - 1
        _check_names(cls, f"stages[{k}].outputs", tuple(st.outputs))
        if st.kind != "pointwise":
            raise VariantError(f"{C}.stages[{k}].kind: only 'pointwise' is supported, got {st.kind!r}")
        if last and tuple(st.outputs[:len(cls.state)]) != tuple(cls.state):
            raise VariantError(f"{C}: the final stage's outputs must start with the state {cls.state!r}, "
                               f"got {st.outputs!r}")
        own = st.outputs[len(cls.state):] if last else st.outputs
        for o in own:
            if o in taken or o in known_outputs or o in prefixed:
                raise VariantError(f"{C}.stages[{k}]: output {o!r} clashes with another declared name")
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
            if p.name in prod_names or p.name in ("W", "b") or p.name in taken:
                raise VariantError(f"{C}: product name {p.name!r} is used twice or clashes")
            prod_names.add(p.name)
            targets.update(p.targets)
            products.append((k, p))
        fwd = _method(cls, st.forward, "forward")
        fsig = inspect.signature(fwd)
        fwd_args = []
        for a, prm in fsig.parameters.items():
            if a.startswith("x_") and a[2:] in cls.inputs:
                if a in bound_x:
                    raise VariantError(f"{C}: {a!r} is read by two stages; each input block belongs to one")
                bound_x.add(a)
                fwd_args.append((a, "x", cls.inputs.index(a[2:])))
            elif a.startswith("a_") and a[2:] in targets:
                fwd_args.append((a, "a", a[2:]))
            elif a in cls.state:
                fwd_args.append((a, "state", cls.state.index(a)))
            elif a in cls.unit_params:
                fwd_args.append((a, "param", cls.unit_params.index(a)))
            elif a in known_outputs:
                fwd_args.append((a, "out", a))
            elif prm.default is not inspect.Parameter.empty:
                fwd_args.append((a, "fixed", float(prm.default)))
            else:
                raise VariantError(f"{C}.{st.forward}: argument {a!r} names nothing this variant declares "
                                   f"(blocks x_{{{','.join(cls.inputs)}}}, a_{{{','.join(sorted(targets))}}}, "
                                   f"state {cls.state}, unit_params {cls.unit_params}, earlier outputs "
                                   f"{tuple(known_outputs)}) and has no default")
        for t in targets:
            if not any(kind == "a" and key == t for _, kind, key in fwd_args):
                raise VariantError(f"{C}.{st.forward} must take a_{t}: stage {k} computes it")
        from .derive import derive_stage, needs_derivation  # sympy is imported only when needed
        if needs_derivation(cls, st):
            st, fwd, bwd = derive_stage(cls, st, k, fwd, tuple(fwd_args), tuple(cls.state), last)
            own = st.outputs[len(cls.state):] if last else st.outputs
        elif cls.derive_backward is False and inspect.getattr_static(cls, st.backward, None) is None:
            raise VariantError(f"{C} declares stage backward {st.backward!r} but has no such static method "
                               f"(and derive_backward is False)")
        else:
            bwd = _method(cls, st.backward, "backward")
        bwd_args = []
        own_saved = set(own) if not last else set(st.outputs[len(cls.state):])
        for a, prm in inspect.signature(bwd).parameters.items():
            if a.startswith("d_") and a[2:] in st.outputs:
                bwd_args.append((a, "grad", a[2:]))
            elif a.startswith("x_") and a[2:] in cls.inputs:
                bwd_args.append((a, "x", cls.inputs.index(a[2:])))
            elif a in cls.state:
                bwd_args.append((a, "state", cls.state.index(a)))
            elif a in cls.unit_params:
                bwd_args.append((a, "param", cls.unit_params.index(a)))
            elif a in known_outputs or a in own_saved:
                bwd_args.append((a, "out", a))
            elif last and a.endswith("_new") and a[:-4] in cls.state:
                bwd_args.append((a, "newstate", cls.state.index(a[:-4])))
            elif prm.default is not inspect.Parameter.empty:
                bwd_args.append((a, "fixed", float(prm.default)))
            else:
                raise VariantError(f"{C}.{st.backward}: argument {a!r} is not available to a backward "
                                   f"(use x_*, previous state, unit params, outputs of this or earlier "
                                   f"stages, <state>_new in the final stage, or d_<output>)")
        specs.append(StageSpec(k, tuple(st.products), tuple(st.outputs), tuple(fwd_args), tuple(bwd_args),
                               bind_function(cls, fwd), bind_function(cls, bwd)))
        for o in own:
            known_outputs[o] = k
            saved.append(o)
        if last:
            for o in st.outputs[len(cls.state):]:
                if o not in saved:
                    saved.append(o)
    unused = [b for b in cls.inputs if "x_" + b not in bound_x]
    if unused:
        raise VariantError(f"{C}: input blocks {unused} are declared but no stage's forward reads x_<block>")
    spec = VariantSpec(cls, name or C.lower(), tuple(cls.inputs), tuple(cls.state), tuple(cls.unit_params),
                       tuple(specs), tuple(saved), tuple(p for _, p in products))
    if not isinstance(cls.gated, bool):
        raise VariantError(f"{C}.gated must be True or False, got {cls.gated!r}")
    from .init import RECURRENT_INITS
    if cls.recurrent_init not in RECURRENT_INITS:
        raise VariantError(f"{C}.recurrent_init must be one of {RECURRENT_INITS}, got {cls.recurrent_init!r}")
    if cls.recurrent_init == "identity" and cls.gated:
        raise VariantError(f"{C}.recurrent_init = 'identity' needs gated = False (an identity R pins a gated "
                           f"cell's gates); got a gated class")
    _check_names(cls, "recurrent_unit_params", cls.recurrent_unit_params)
    stray = [u for u in cls.recurrent_unit_params if u not in cls.unit_params]
    if stray:
        raise VariantError(f"{C}.recurrent_unit_params {stray} are not unit_params {cls.unit_params!r}")
    for attr in ("forget_block", "input_block"):
        blk = getattr(cls, attr)
        if blk is not None and blk not in cls.inputs:
            raise VariantError(f"{C}.{attr} = {blk!r} is not one of inputs {cls.inputs!r}")
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
