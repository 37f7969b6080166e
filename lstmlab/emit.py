"""The emission core shared by the CPU and CUDA code generators.

The generated kernels of both backends do the same things per step, for each
unit ``(bb, j)`` (batch row ``bb``, hidden unit ``j``) of a sequence still
running (``t < L[bb]``): read a stage's arguments, call its pointwise
function, write its outputs. This module says *what* each of those
statements is, once, as backend-neutral :class:`Move` records and
:class:`StageCode`; the CPU generator (:mod:`lstmlab.codegen`) wraps them in
loops over ``j`` with scratch rows, the CUDA one (:mod:`lstmlab.cuda.codegen`)
in one thread per unit.

Buffers (C-contiguous; H hidden units, B batch, T steps) and their names in
every generated kernel:

``XP (T or C, B, len(inputs)*H)``  input projection ``W x_t + b``
``Z (T+1, B, nstate*H)``           state history (``Z[0]`` the initial state)
``S (T, B, nsaved*H)``             values the forward keeps for the backward
``P<i> (T, B, len(source)*H)``     product i's input at each step
``A<i> (B, len(targets)*H)``       product i's result this step, ``P_i[t] @ R_i.T``
``PM<i> (B, len(source)*H)``       product i's input mask, one per sequence (variational
                                   recurrent dropout, Gal & Ghahramani 2016), read only with the
                                   option (no rows on the CPU, flag ``rdo`` on CUDA):
                                   ``P_i[t] *= PM_i`` before the product, ``Q_i *= PM_i``
                                   before its gradient is scattered
``rb<i> (len(targets)*H,)``        product i's bias (zeros when it has none)
``Y (T, B, H)``                    output, zero past a sequence's length
``U (n_unit_params, H)``           per-unit parameters; ``L (B,)`` lengths
``SM (T, B, nmask*H)``             per-step masks a stage reads as ``m_<name>`` (Semeniuta et al.'s
                                   recurrent dropout); an argument of the kernels of variants
                                   that declare ``step_masks`` only
``G (nstate + n_mid, B, H)``       gradient accumulators: previous state, mid-step outputs
``Gn (nstate, B, H)``              gradient of the new state, carried between steps
``dXP``, ``dA<i>``, ``dU``, ``Q<i>`` their gradients; ``Q_i = dA_i[t] @ R_i``

``ZC (T, B, nstate*H)``            the cell's new state before zoneout (what a backward's
                                   ``<state>_new`` reads); without zoneout a view of ``Z[1:]``
``ZM (T, B, nstate*H)``            zoneout (Krueger et al. 2017), read only with zoneout
                                   (flag ``zon`` on CUDA): 1 keeps the previous state, 0 takes the
                                   new one (training), or the probability (eval);
                                   ``Z[t+1] = ZM*Z[t] + (1-ZM)*ZC[t]``

One kernel serves every setting: the options' statements are passes of their
own (:func:`zone_moves`, :func:`input_mask_moves`, :func:`zone_grad_moves`,
:func:`grad_mask_moves`; on CUDA under ``if zon:`` / ``if rdo:``, on the CPU
over the masks' rows), so no variant compiles twice and the plain cell's
loops are the same with or without them.

Step ``t`` of stage ``k`` is then: the products of the stage, one pointwise
pass (:func:`forward_stage`); in the backward, stages in reverse, one
pointwise pass (:func:`backward_stage`) then, per product, ``Q_i`` and its
scatter into ``G`` (:func:`product_grad_moves`).
"""
from __future__ import annotations

from dataclasses import dataclass

#: ``Move.guard`` value: only when step t + 1 exists (the next product input).
NEXT_STEP = "next_step"
#: The conditions of the options' passes: flags, 1 with zoneout / recurrent dropout, else 0 (the CPU
#: generator tests zoneout by the mask's rows instead, see :mod:`lstmlab.codegen`).
ZONE_ON = "zon"
RDO_ON = "rdo"
#: The arguments the CUDA persistent kernels end with.
OPTION_ARGS = "ZM, ZC, zon, rdo"


@dataclass(frozen=True)
class Layout:
    """Index maps of a variant's buffers (see the module docstring)."""
    state: tuple          # state names; state[0] is the output
    slot: dict            # saved value -> its row block in S
    mids: tuple           # outputs of non-final stages, in order
    acc: dict             # state or mid output -> its row in G
    prods: tuple          # (global index, stage index, Product)
    n_stages: int

    def stage_products(self, k: int) -> list:
        """``[(global index, Product)]`` of stage ``k``."""
        return [(i, p) for i, s, p in self.prods if s == k]

    @property
    def n_grad_rows(self) -> int:
        return len(self.state) + len(self.mids)


def layout(spec) -> Layout:
    """The :class:`Layout` of a validated :class:`~lstmlab.spec.VariantSpec`."""
    state = tuple(spec.state)
    mids = tuple(o for st in spec.stages[:-1] for o in st.outputs)
    acc = {s: i for i, s in enumerate(state)}
    acc.update({o: len(state) + i for i, o in enumerate(mids)})
    prods = []
    for st in spec.stages:
        for p in st.products:
            prods.append((len(prods), st.index, p))
    return Layout(state, {o: i for i, o in enumerate(spec.saved)}, mids, acc, tuple(prods), len(spec.stages))


@dataclass(frozen=True)
class Move:
    """One statement for unit (bb, j): ``dst op src``.

    ``src`` is an expression, or an int: the pointwise call's result of that
    index. ``op`` is "=" or "+="; ``atomic``: a per-unit parameter gradient
    summed over the batch (threads of one j add concurrently on a GPU);
    ``guard``: :data:`NEXT_STEP` or None.
    """
    dst: str
    src: object
    op: str = "="
    atomic: bool = False
    guard: str | None = None


@dataclass(frozen=True)
class StageCode:
    """One stage's pointwise pass for unit (bb, j) at step t.

    ``loads``: ``(name, expression)`` read before the call; ``call``: the
    function name and its arguments, each ``("load", i)`` (the i-th load) or
    ``("literal", text)``; ``n_results`` values come back, and ``stores`` write
    them. ``carry``: for the final stage, what replaces the step past a
    sequence's end (the state is carried, the output stays zero).

    ``sums_before``/``sums_after``: expressions in ``j`` (one H-long row of a
    buffer each) replaced by their sum over j, broadcast back to every j,
    before the loads or after the stores (:func:`render_row_sum`). A reduce
    stage's forward sums its stored terms after; its backward sums the
    gradients of its outputs before.
    """
    loads: tuple
    call: str
    call_args: tuple
    n_results: int
    stores: tuple
    carry: tuple = ()
    sums_before: tuple = ()
    sums_after: tuple = ()


def arg_source(lay: Layout, kind, key, mine, last, xp_step="t"):
    """The expression that reads a pointwise argument for unit (bb, j) at step t.

    ``mine``: the stage's products ``(index, Product)``; ``xp_step``: the row
    of XP holding step t. Returns None for a gradient nothing downstream
    produces (it is 0).
    """
    if kind == "x":
        return f"XP[{xp_step}, bb, {key} * H + j]"
    if kind == "a":
        return " + ".join(f"A{i}[bb, {p.targets.index(key)} * H + j] + rb{i}[{p.targets.index(key)} * H + j]"
                          for i, p in mine if key in p.targets)
    if kind == "state":
        return f"Z[t, bb, {key} * H + j]"
    if kind == "newstate":
        return f"ZC[t, bb, {key} * H + j]"
    if kind == "param":
        return f"U[{key}, j]"
    if kind == "units":
        return "(H * 1.0)"
    if kind == "mask":
        return f"SM[t, bb, {key} * H + j]"
    if kind == "out":
        return f"S[t, bb, {lay.slot[key]} * H + j]"
    if last and key in lay.state:  # grad of the new state
        return f"Gn[{lay.state.index(key)}, bb, j]"
    if key in lay.acc:  # grad of an intermediate output
        return f"G[{lay.acc[key]}, bb, j]"
    return None


def grad_moves(lay: Layout, kind, key, mine, result: int) -> list:
    """Where the gradient of a pointwise argument (result ``result``) goes."""
    if kind == "x":
        return [Move(f"dXP[t, bb, {key} * H + j]", result)]
    if kind == "a":
        return [Move(f"dA{i}[t, bb, {p.targets.index(key)} * H + j]", result) for i, p in mine if key in p.targets]
    if kind == "state":
        return [Move(f"G[{key}, bb, j]", result, "+=")]
    if kind == "param":
        return [Move(f"dU[{key}, j]", result, "+=", atomic=True)]
    if kind == "out":
        return [Move(f"G[{lay.acc[key]}, bb, j]", result, "+=")]
    return []  # a fixed argument


def _call(args, lay, mine, last, xp_step, fixed_grad):
    loads, call_args = [], []
    for a, kind, key in args:
        src = None if kind == "fixed" else arg_source(lay, kind, key, mine, last, xp_step)
        if src is None:  # a fixed value, or the gradient of a saved value nothing downstream reads
            call_args.append(("literal", repr(key) if kind == "fixed" else fixed_grad))
            continue
        call_args.append(("load", len(loads)))
        loads.append((a, src))
    return tuple(loads), tuple(call_args)


def forward_stage(lay: Layout, st, xp_step="t") -> StageCode:
    """Stage ``st``'s forward pass: read arguments, call ``f<k>``, store the outputs."""
    last = st.index == lay.n_stages - 1
    nst = len(lay.state)
    mine = lay.stage_products(st.index)
    loads, call_args = _call(st.fwd_args, lay, mine, last, xp_step, None)
    stores, carry = [], []
    for n, o in enumerate(st.outputs):
        if last and n < nst:
            stores.append(Move(f"Z[t + 1, bb, {n} * H + j]", n))
            if n == 0:
                stores.append(Move("Y[t, bb, j]", n))
            dest_t, guard = "t + 1", NEXT_STEP
        else:
            stores.append(Move(f"S[t, bb, {lay.slot[o]} * H + j]", n))
            dest_t, guard = "t", None
        for i, _, p in lay.prods:
            if o in p.source:
                stores.append(Move(f"P{i}[{dest_t}, bb, {p.source.index(o)} * H + j]", n, guard=guard))
    if last:  # past the sequence's end the state (and the products it feeds) is carried
        carry = [Move(f"Z[t + 1, bb, {s} * H + j]", f"Z[t, bb, {s} * H + j]") for s in range(nst)]
        for i, _, p in lay.prods:
            if any(s in lay.state for s in p.source):
                carry += [Move(f"P{i}[t + 1, bb, {q} * H + j]", f"P{i}[t, bb, {q} * H + j]", guard=NEXT_STEP)
                          for q in range(len(p.source))]
    sums = tuple(f"S[t, bb, {lay.slot[o]} * H + j]" for o in st.row_outputs)
    return StageCode(loads, f"f{st.index}", call_args, len(st.outputs), tuple(stores), tuple(carry), (), sums)


def backward_stage(lay: Layout, st) -> StageCode:
    """Stage ``st``'s backward pass: call ``bw<k>``, send each argument's gradient on."""
    last = st.index == lay.n_stages - 1
    mine = lay.stage_products(st.index)
    loads, call_args = _call(st.bwd_args, lay, mine, last, "t", "0.0")
    stores = [m for n, (_, kind, key) in enumerate(st.fwd_args) for m in grad_moves(lay, kind, key, mine, n)]
    # every unit read the broadcast sum: its gradient is the sum of theirs
    sums = tuple(f"G[{lay.acc[o]}, bb, j]" for o in st.row_outputs)
    return StageCode(loads, f"bw{st.index}", call_args, len(st.fwd_args), tuple(stores), (), sums)


def init_product_moves(lay: Layout) -> list:
    """Step 0's product inputs read from the initial state."""
    return [Move(f"P{i}[0, bb, {q} * H + j]", f"Z[0, bb, {lay.state.index(s)} * H + j]")
            for i, _, p in lay.prods for q, s in enumerate(p.source) if s in lay.state]


def zone_moves(lay: Layout) -> list:
    """Zoneout's forward (under :data:`ZONE_ON`), after the final stage of a running sequence's step.

    The stage stored the cell's new states in ``Z[t+1]`` (and the output and
    the next products' inputs from them); this keeps them in ``ZC[t]`` and
    replaces each by ``ZM * Z[t] + (1 - ZM) * ZC[t]`` (exact for a 0/1 mask),
    then rewrites what was stored from them.
    """
    nst = len(lay.state)
    out = [Move(f"ZC[t, bb, {s} * H + j]", f"Z[t + 1, bb, {s} * H + j]") for s in range(nst)]
    for s in range(nst):
        z = f"ZM[t, bb, {s} * H + j]"
        out.append(Move(f"Z[t + 1, bb, {s} * H + j]", f"{z} * Z[t, bb, {s} * H + j] + (1.0 - {z}) * "
                                                        f"ZC[t, bb, {s} * H + j]"))
    out.append(Move("Y[t, bb, j]", "Z[t + 1, bb, j]"))
    out += [Move(f"P{i}[t + 1, bb, {q} * H + j]", f"Z[t + 1, bb, {lay.state.index(s)} * H + j]", guard=NEXT_STEP)
            for i, _, p in lay.prods for q, s in enumerate(p.source) if s in lay.state]
    return out


def input_mask_moves(lay: Layout, i: int, p) -> list:
    """Recurrent dropout (under :data:`RDO_ON`): product i's input at step t times its mask, before the product."""
    return [Move(f"P{i}[t, bb, {q} * H + j]", f"P{i}[t, bb, {q} * H + j] * PM{i}[bb, {q} * H + j]")
            for q in range(len(p.source))]


def grad_mask_moves(lay: Layout, i: int, p) -> list:
    """Recurrent dropout's backward (under :data:`RDO_ON`): ``Q_i`` times the mask, before its scatter."""
    return [Move(f"Q{i}[bb, {q} * H + j]", f"Q{i}[bb, {q} * H + j] * PM{i}[bb, {q} * H + j]")
            for q in range(len(p.source))]


def product_grad_moves(lay: Layout, i: int, p) -> list:
    """``Q_i``'s columns back to the product's sources in G."""
    return [Move(f"G[{lay.acc[s]}, bb, j]", f"Q{i}[bb, {q} * H + j]", "+=") for q, s in enumerate(p.source)]


#: The output gradient enters the state gradient at each valid step.
ADD_DY = (Move("Gn[0, bb, j]", "dY[t, bb, j]", "+="),)


def zone_grad_moves(lay: Layout) -> list:
    """Zoneout's backward (under :data:`ZONE_ON`), after the output gradient entered: split Gn.

    ``z * Gn`` goes to the previous state (G), ``(1 - z) * Gn`` stays as the
    candidate's gradient, which the final stage's backward reads.
    """
    out = []
    for s in range(len(lay.state)):
        z = f"ZM[t, bb, {s} * H + j]"
        out += [Move(f"G[{s}, bb, j]", f"{z} * Gn[{s}, bb, j]", "+="),
                Move(f"Gn[{s}, bb, j]", f"(1.0 - {z}) * Gn[{s}, bb, j]")]
    return out


def carry_grad_moves(lay: Layout) -> list:
    """After a step's backward, the previous state's gradient becomes the new Gn."""
    return [Move(f"Gn[{s}, bb, j]", f"G[{s}, bb, j]") for s in range(len(lay.state))]


def render_call(code: StageCode, load_name, result_names) -> str:
    """``r0, r1, = f0(<args>)`` with the backend's names for loads and results."""
    args = [load_name(v) if how == "load" else v for how, v in code.call_args]
    return f"{', '.join(result_names)}, = {code.call}({', '.join(args)})"


def render_move(m: Move, result_name, atomic, next_step_cond) -> list:
    """A :class:`Move` as source lines, guard included.

    ``result_name(n)`` names result n; ``atomic(dst, src)`` renders an atomic
    add (None: a plain ``+=``); ``next_step_cond`` is the backend's test for
    "step t + 1 exists".
    """
    src = result_name(m.src) if isinstance(m.src, int) else m.src
    if m.atomic and atomic is not None:
        line = atomic(m.dst, src)
    else:
        line = f"{m.dst} {m.op} {src}"
    if m.guard == NEXT_STEP:
        return [f"if {next_step_cond}:", "    " + line]
    return [line]


def render_row_sum(expr: str, acc: str = "rs") -> list:
    """Replace the H-long row ``expr`` (in j) by its sum, broadcast: one owner per row.

    The CPU runs it inside its loop over the batch; CUDA in a kernel with one
    thread per batch row, so no two threads touch one row.
    """
    return [f"{acc} = 0.0", "for j in range(H):", f"    {acc} += {expr}", "for j in range(H):", f"    {expr} = {acc}"]
