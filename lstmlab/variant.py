"""The variant contract: what a gated recurrent cell declares.

The checks of a class against it are :mod:`lstmlab.spec`; how its functions
are bound for the compilers is :mod:`lstmlab.binding`.

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
* a unit parameter name; an output of an earlier stage;
* ``n_units``: the layer's hidden size H, as a float (for means over units
  in a ``kind="reduce"`` stage, see :class:`Stage`).

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

from dataclasses import dataclass

__all__ = ["Variant", "Stage", "Product", "VariantError"]


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
    """Products, then one fused pass ``forward``/``backward``.

    ``kind="pointwise"``: each output is the forward's value at unit (b, j).
    ``kind="reduce"``: a reduction across units, for statistics such as a
    layer norm's mean and variance. Each output ``o`` is the sum over the
    layer's H units of the forward's value, ``o[b] = sum_j f(args[b, j])``,
    and later stages read it at every unit. The backward is written (or
    derived) for one term: ``d_<o>`` is then the gradient of the sum, the
    same at every unit. A reduce stage is not the final stage, has no
    products, and no product reads its outputs.
    """
    products: tuple
    outputs: tuple
    forward: str = "forward"
    backward: str | None = "backward"
    kind: str = "pointwise"


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
    #: False: the input projection is ``W x_t`` with no bias ``b`` (a layer-normalised
    #: variant, whose shifts come after the normalisation; see :mod:`lstmlab.layernorm`).
    input_bias: bool = True
    #: Where each input block's bias lives when there is no ``b``: block -> unit parameter
    #: (the initialisers put the forget bias there).
    block_bias: dict | None = None
    #: The state variable holding the memory cell, for ``layer_norm="xh+cell"``, which
    #: normalises it before :meth:`cell_output`; None: the variant has no such cell.
    cell_state: str | None = None
    #: The input block of the candidate value, the new content a step writes into the state
    #: (the LSTM's ``g``, the GRU's ``n``), for Semeniuta et al.'s recurrent dropout
    #: (:mod:`lstmlab.candidate_dropout`); None: the variant has no such candidate.
    candidate_block: str | None = None
    #: Names of per-step masks a stage function reads as ``m_<name>`` (one value per step, row
    #: and unit, from the kernels' ``SM`` buffer); set by :mod:`lstmlab.candidate_dropout`.
    step_masks: tuple = ()
    #: Derive the pointwise backward with sympy (lstmlab.derive): None (default)
    #: derives it for a stage without a backward, or whose forward overrides the
    #: one the inherited backward was written for; True always; False never.
    derive_backward: bool | None = None

    @classmethod
    def init_unit_param(cls, name: str, hidden: int, rng):
        """Initial value, shape ``(hidden,)``, of unit parameter ``name``; None means zeros.

        Override for parameters that must not start at zero (IndRNN's ``u``)."""
        return None

    #: A static method ``cell_output(c, ...)``: how the output ``h`` is made from the new cell
    #: value ``c`` (further arguments name outputs of the final stage), for
    #: ``layer_norm="xh+cell"``, which passes it the normalised cell; checked against the forward.
    cell_output = None

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        cls._spec = None  # each class describes itself lazily, once

    @classmethod
    def get_stages(cls) -> tuple:
        if cls.stages is not None:
            return tuple(cls.stages)
        return (Stage(products=(Product(("h",), tuple(cls.inputs)),),
                      outputs=tuple(cls.state) + tuple(cls.saved)),)
