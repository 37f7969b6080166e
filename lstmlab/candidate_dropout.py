r"""Recurrent dropout on the candidate only (Semeniuta et al. 2016), for any variant that names its candidate.

Semeniuta, Severyn & Barth (2016), "Recurrent Dropout without Memory Loss"
(COLING): instead of dropping the recurrent connections (which erases memory
a step at a time), drop only the new content a step writes,
:math:`c_t = f_t \odot c_{t-1} + i_t \odot d(g_t)` for the LSTM and
:math:`h_t = (1 - z_t) \odot d(n_t) + z_t \odot h_{t-1}` for the GRU, with
:math:`d(g) = m \odot g`, :math:`m \sim \mathrm{Bernoulli}(1-p)/(1-p)` drawn
per step, sequence and unit (inverted dropout: eval mode is the plain cell).

How any variant gets it. A variant declares its candidate's input block
(``candidate_block``: the LSTM's ``g``, the peephole family's ``z``, the
GRU's and MGU's ``n``, JANET's ``c``). :func:`masked` traces the forward of
the stage that reads ``x_<block>`` with sympy, finds the one activation
applied to that block's pre-activation (``tanh(x_g + a_g)``), multiplies it
by a per-step mask ``m_cand`` and writes the stage anew; the backward is
derived (:mod:`lstmlab.derive`), so the gradients are exact for the sampled
masks. The masks reach the kernels as the ``SM`` buffer (:mod:`lstmlab.emit`).
A variant without a candidate (the plain RNNs, whose whole state is new
content) is refused by name. A layer-normalised variant takes it too: the
activation is found in the stage that reads the normalised candidate.
"""
from __future__ import annotations

import dataclasses

from .variant import VariantError

__all__ = ["FORMS", "MASK", "check_form", "masked"]

#: ``recurrent_dropout_form`` values: Gal & Ghahramani's mask on the recurrent input, or Semeniuta et al.'s.
FORMS = ("variational", "semeniuta")
#: The step mask's name: stages read it as ``m_cand``.
MASK = "cand"
_CACHE: dict = {}


def check_form(form) -> str:
    if form not in FORMS:
        raise ValueError(f"recurrent_dropout_form: expected one of {FORMS}, got {form!r}")
    return form


def masked(spec):
    """The :class:`~lstmlab.spec.VariantSpec` of ``spec``'s variant with its candidate times the step mask
    ``m_cand`` (cached per class). ValueError naming the option and the variant when it has no candidate."""
    from .spec import describe
    cls = spec.cls
    if cls not in _CACHE:
        try:
            _CACHE[cls] = describe(_build(spec), f"{spec.name}_semeniuta")
        except VariantError as exc:
            raise ValueError(f"recurrent_dropout_form='semeniuta': variant {spec.name!r} cannot take it: "
                             f"{exc}") from exc
    return _CACHE[cls]


def _build(spec):
    from . import derive
    cls, block = spec.cls, spec.cls.candidate_block
    why = None
    if block is None:
        why = "it declares no candidate_block (the input block of the new content a step writes)"
    elif cls.step_masks:
        why = f"it already reads step masks {cls.step_masks}"
    if why:
        raise ValueError(f"recurrent_dropout_form='semeniuta': variant {spec.name!r} cannot take it: {why}")
    # the names the candidate's pre-activation enters a stage by: x_<block>, or a layer-normalised copy of it
    from .layernorm import block_args
    names = {f"x_{block}"} | set(block_args(cls, block))
    found = []
    for st in spec.stages:
        present = [a for a, _, _ in st.fwd_args if a in names]
        if not present:
            continue
        what = f"stage {st.index}'s forward"
        S, syms, outs = derive.trace(cls, getattr(cls, cls.get_stages()[st.index].forward), st.fwd_args, what)
        sp = S.sp
        acts = (S.sigmoid, sp.tanh, sp.exp, S.relu)
        keys = [syms[a] for a in present]
        nodes = {n for o in outs for n in sp.preorder_traversal(o)
                 if isinstance(n, acts) and any(k in n.args[0].free_symbols for k in keys)}
        inner = [n for n in nodes if not any(n.args[0].has(m) for m in nodes if m != n)]
        found.append((st, what, outs, inner))
    with_act = [f for f in found if f[3]]
    if len(with_act) != 1 or len(with_act[0][3]) != 1:
        n = sum(len(f[3]) for f in found)
        raise ValueError(f"recurrent_dropout_form='semeniuta': variant {spec.name!r} cannot take it: its "
                         f"candidate block {block!r} reaches the stages' outputs through {n} "
                         f"activations, not through one activation of its pre-activation (as "
                         f"tanh(x_{block} + a_{block})); a candidate without an activation is not supported")
    st, what, outs, inner = with_act[0]
    j = st.index
    declared = cls.get_stages()[j]
    sp = derive._sympy().sp
    m = sp.Symbol(f"m_{MASK}", real=True)
    # an output that is the activation itself (a saved g_act) stays unmasked: the backward then reads it
    # instead of saving the activation a second time
    new = [o if o == inner[0] else o.xreplace({inner[0]: m * inner[0]}) for o in outs]
    params = [a for a, kind, _ in st.fwd_args if kind != "fixed"] + [f"m_{MASK}"]
    name = f"_semeniuta_forward_{j}"
    fn = derive.function_from(cls, name, params, new, f"semeniuta_{j}")
    stages = list(cls.get_stages())
    stages[j] = dataclasses.replace(declared, forward=name, backward=None)
    # derive_backward stays None: only the rewritten stage (backward None) is derived, the others keep theirs
    ns = {name: staticmethod(fn), "stages": tuple(stages), "step_masks": (MASK,), "derive_backward": None,
          "candidate_dropout_of": cls, "__module__": cls.__module__,
          "__doc__": f"{cls.__name__} with Semeniuta et al.'s recurrent dropout on its candidate {block!r} "
                     f"(see lstmlab.candidate_dropout).\n\n{cls.__doc__ or ''}",
          "reference": f"{cls.reference}; candidate dropout (Semeniuta et al. 2016)".lstrip("; ")}
    return type(f"{cls.__name__}_Semeniuta", (cls,), ns)
