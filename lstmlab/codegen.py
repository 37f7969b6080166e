"""Generate the source of a variant's time-loop kernels from its spec.

The engine knows stages, products and named values, never a particular
variant. For each variant this module writes two plain functions, later
compiled by Numba:

``forward(x, WT, b, <RT_p, rb_p, P_p, A_p, PM_p for each product p>, U, L, Z, S, Y, XP, ZM, ZC)``
    ``XP = x @ W.T + b`` in one GEMM per C = ``XP.shape[0]`` steps (C = T
    keeps the whole projection), then for each step and stage: one GEMM
    per product (``A_p = P_p[t] @ R_p.T``) and one fused pointwise pass.
``backward(XP, Z, S, <R_p, dA_p, Q_p, PM_p for each p>, U, L, dY, dXP, dU, G, Gn, ZM, ZC)``
    exact BPTT: per step and stage (in reverse) one fused pointwise backward,
    then one GEMM per product (``Q_p = dA_p[t] @ R_p``) sending gradients to
    the product's sources. Weight gradients are whole-sequence GEMMs done by
    the caller afterwards.

``PM_p``: product p's input mask (recurrent dropout; no rows without it);
``SM``: per-step masks, after ``ZC``, only for a variant that declares ``step_masks``;
``ZM, ZC``: zoneout's mask (no rows without zoneout) and the new states
before it (see :mod:`lstmlab.emit`). The options run as passes of their own
over their masks' rows, so the plain cell's loops are the same with or
without them.

The buffers and the per-unit statements are :mod:`lstmlab.emit`'s, shared
with the CUDA generator; this module adds the CPU's loops and scratch rows.

No Python objects, allocation or dispatcher calls happen inside the loops:
the pointwise functions are compiled into the kernel.
"""
from __future__ import annotations

from . import config, emit
from .emit import StageCode


def _lines(indent, items):
    pad = " " * indent
    return [pad + s for s in items]


def _with_scratch(lines, scratch, before, dtype_of):
    """Allocate the scratch rows once, before the time loop (``before``).

    ``IN``/``OUT`` rows are HP wide, H rounded up to :data:`lstmlab.config.POINTWISE_PAD`:
    the compute loop runs over all HP lanes so that LLVM's vector loop runs at
    small H; the pad lanes stay zero on input and are never stored. A blocked
    stage's ``BIN``/``BOUT`` rows are :data:`lstmlab.config.POINTWISE_BLOCK` wide
    (:func:`_blocked_unit_loops`); ``ACC`` holds the row sums' lane sums (:func:`_row_sum`).
    """
    k = lines.index(before)
    pad = config.POINTWISE_PAD
    # the array dtype: a float32 layer's pointwise maths stays float32 (16 SIMD lanes)
    alloc = [f"    HP = -(-H // {pad}) * {pad}", f"    VB = {config.POINTWISE_BLOCK}", f"    VP = {pad}",
             f"    ACC = np.zeros({pad}, np.float64)"]
    alloc += [f"    {name} = np.zeros(({rows}, {config.POINTWISE_BLOCK if name.startswith('B') else 'HP'}), "
              f"{dtype_of})" for name, rows in scratch]
    return "\n".join(lines[:k] + alloc + lines[k:]) + "\n"


def _args(lay):
    """The per-product arguments, each followed by ", " (none for a step without products)."""
    return "".join(f"RT{i}, rb{i}, P{i}, A{i}, PM{i}, " for i, _, _ in lay.prods)


def _row_gemv_rule(n_cols: str) -> str:
    """A boolean expression: this step's product is done one batch row at a time (see config)."""
    terms = [f"({n_cols} >= {n} and B <= {b})" for n, b in config.ROW_GEMV_MAX_BATCH]
    return " or ".join(terms) or "False"


def _product(a, m, out, rows, lines):
    """``out = a @ m`` for this step: one GEMV per batch row when ``rows``, else one GEMM."""
    lines += [f"if {rows}:", "    for bb in range(B):", f"        np.dot({a}[bb], {m}, {out}[bb])",
              "else:", f"    np.dot({a}, {m}, {out})"]


def _moves_loop(moves, result_name=None, next_step="t + 1 < T"):
    """Each :class:`~lstmlab.emit.Move` as its own loop over j (guard outside the loop)."""
    out = []
    for m in moves:
        *guard, line = emit.render_move(m, result_name, None, next_step)
        loop = ["for j in range(H):", "    " + line.strip()]
        out += guard + ["    " + x for x in loop] if guard else loop
    return out


def _unit_loops(name, code: StageCode, blocked=False):
    """A stage's pass for batch row bb as loops over j, through scratch rows.

    gather -> compute -> scatter: the compute loop reads and writes only the
    kernel's own scratch rows ``IN<k>``/``OUT<k>``, so LLVM vectorises it
    without runtime alias checks (with them it gave up: too many pointers).
    One loop per row: a single loop over all rows needs too many alias checks.
    ``blocked``: the pass runs in blocks (:func:`_blocked_unit_loops`); see :func:`_blocks`.
    """
    if blocked:
        return _blocked_unit_loops(name, code)
    out = []
    out += [x for e in code.sums_before for x in _row_sum(e)]  # a reduce stage's output grads
    for n, (_, src) in enumerate(code.loads):
        out += ["for j in range(H):", f"    IN{name}[{n}, j] = {src}"]
    res = [f"r{n}" for n in range(code.n_results)]
    out += ["for j in range(HP):", "    " + emit.render_call(code, lambda n: f"IN{name}[{n}, j]", res)]
    out += [f"    OUT{name}[{n}, j] = r{n}" for n in range(code.n_results)]
    out += _moves_loop(code.stores, lambda n: f"OUT{name}[{n}, j]")
    return out + [x for e in code.sums_after for x in _row_sum(e)]  # a reduce stage's terms


def _row_sum(expr: str) -> list:
    """Replace the H-long row ``expr`` (in j) by its sum, broadcast (as :func:`lstmlab.emit.render_row_sum`).

    Summed in VP float64 partial sums, one per lane, then those added: one
    running sum is a chain of dependent adds LLVM may not reorder (strict
    floating point), 4 cycles per unit; the lanes' sums vectorise.
    """
    return ["for k in range(VP):", "    ACC[k] = 0.0", "nf = H - H % VP", "for j0 in range(0, nf, VP):",
            "    for k in range(VP):", "        j = j0 + k", f"        ACC[k] += {expr}", "rs = 0.0",
            "for k in range(VP):", "    rs += ACC[k]", "for j in range(nf, H):", f"    rs += {expr}",
            "for j in range(H):", f"    {expr} = rs"]


def _blocked_unit_loops(name, code: StageCode):
    """:func:`_unit_loops` for a stage reading and writing many rows, in blocks of VB units.

    Its scratch rows ``BIN<k>``/``BOUT<k>`` are VB wide with VB a literal, so
    their stride is a constant: all rows of one array form one pointer group
    and the vectoriser's runtime alias checks stay few. With runtime strides
    each row is its own group, and past LLVM's limit of checks the loop ran
    scalar (the layer-normalised LSTM's main stage: 21 rows in, 7 out).
    """
    out = [x for e in code.sums_before for x in _row_sum(e)]
    blk = ["nj = min(VB, H - j0)", "nv = min(VB, -(-nj // VP) * VP)"]
    for n, (_, src) in enumerate(code.loads):
        blk += ["for jj in range(nj):", "    j = j0 + jj", f"    BIN{name}[{n}, jj] = {src}"]
    res = [f"r{n}" for n in range(code.n_results)]
    blk += ["for jj in range(nv):", "    " + emit.render_call(code, lambda n: f"BIN{name}[{n}, jj]", res)]
    blk += [f"    BOUT{name}[{n}, jj] = r{n}" for n in range(code.n_results)]
    for m in code.stores:
        *guard, line = emit.render_move(m, lambda n: f"BOUT{name}[{n}, jj]", None, "t + 1 < T")
        loop = ["for jj in range(nj):", "    j = j0 + jj", "    " + line.strip()]
        blk += guard + ["    " + x for x in loop] if guard else loop
    out += ["for j0 in range(0, H, VB):"] + ["    " + x for x in blk]
    return out + [x for e in code.sums_after for x in _row_sum(e)]


# On the CPU an option's pass runs over its mask's rows (none without the option), not under a flag:
# LLVM unswitched the time loop on a loop-invariant flag, and the plain cell's forward became ~15 %
# slower at (T, B, D, H) = (200, 1, 1, 8) with the pass never taken.
_ZONE_ON = "t < ZM.shape[0]"
_OPTION_ARGS = "ZM, ZC"


def _option_args(spec) -> str:
    """The kernels' trailing arguments: zoneout's, then ``SM`` for a variant with step masks."""
    return _OPTION_ARGS + (", SM" if spec.cls.step_masks else "")


def _option_pass(cond, moves):
    """An option's pass over the running rows, each move its own loop over j, under ``if <cond>:``."""
    return [f"if {cond}:", "    for bb in range(B):", "        if t < L[bb]:"] + \
        ["            " + x for x in _moves_loop(moves)]


def _mask_pass(i, moves):
    """Recurrent dropout's pass: over the rows of product i's mask (none without the option)."""
    return [f"for bb in range(PM{i}.shape[0]):", "    if t < L[bb]:"] + ["        " + x for x in _moves_loop(moves)]


def _blocks(code: StageCode, forward: bool) -> bool:
    """Whether a stage's pass runs in blocks: a forward stage reading n rows and writing m with
    n * m over :data:`lstmlab.config.ALIAS_CHECK_LIMIT`. Measured (100, 32, 1, 128), one thread:
    forwards gain (layer-normalised LSTM "gates" 29.2 -> 20.4 ms, "xh" 45.2 -> 24.8 ms), backwards
    lose (peephole 11.7 -> 14.3 ms, nig 9.3 -> 11.7 ms, "gates" 25.3 -> 29.2 ms), so only forwards do."""
    return forward and len(code.loads) * code.n_results > config.ALIAS_CHECK_LIMIT


def _scratch(code: StageCode, name, blocked=False):
    if blocked:
        return [(f"BIN{name}", max(len(code.loads), 1)), (f"BOUT{name}", code.n_results)]
    return [(f"IN{name}", max(len(code.loads), 1)), (f"OUT{name}", code.n_results)]


def forward_source(spec) -> str:
    lay = emit.layout(spec)
    G = len(spec.inputs)
    out = [
        f"def forward(x, WT, b, {_args(lay)}U, L, Z, S, Y, XP, {_option_args(spec)}):",
        "    T = x.shape[0]",
        "    B = x.shape[1]",
        "    D = x.shape[2]",
        "    H = Y.shape[2]",
        "    C = XP.shape[0]",
    ]
    out += [f"    rows{i} = {_row_gemv_rule(f'RT{i}.shape[1]')}" for i, _, _ in lay.prods]
    init = emit.init_product_moves(lay)
    if init:  # products fed by the previous state start from the initial state
        out += _lines(4, ["for bb in range(B):"]) + _lines(8, _moves_loop(init))
    out += ["    for t in range(T):",
            # the input projection of the next C steps in one GEMM (C = T when
            # the backward reads x_k and the whole projection is kept)
            "        if t % C == 0:",
            "            n = min(C, T - t)",
            f"            np.dot(x[t:t + n].reshape((n * B, D)), WT, XP[:n].reshape((n * B, {G} * H)))",
            "            for tt in range(n):",
            "                for bb in range(B):",
            f"                    for k in range({G} * H):",
            "                        XP[tt, bb, k] += b[k]",
            "        tc = t % C"]
    scratch = []
    for st in spec.stages:
        for i, p in lay.stage_products(st.index):
            out += _lines(8, _mask_pass(i, emit.input_mask_moves(lay, i, p)))
            _product(f"P{i}[t]", f"RT{i}", f"A{i}", f"rows{i}", step := [])
            out += _lines(8, step)
        code = emit.forward_stage(lay, st, xp_step="tc")
        blocked = _blocks(code, forward=True)
        scratch += _scratch(code, st.index, blocked)
        out += _lines(8, ["for bb in range(B):", "    if t < L[bb]:"]) + \
            _lines(16, _unit_loops(st.index, code, blocked))
        if code.carry:
            out += _lines(12, ["else:"]) + _lines(16, _moves_loop(code.carry))
    out += _lines(8, _option_pass(_ZONE_ON, emit.zone_moves(lay)))
    out.append("    return 0")
    return _with_scratch(out, scratch, "    for t in range(T):", "Z.dtype")


def backward_source(spec) -> str:
    lay = emit.layout(spec)
    pargs = "".join(f"R{i}, dA{i}, Q{i}, PM{i}, " for i, _, _ in lay.prods)
    out = [
        f"def backward(XP, Z, S, {pargs}U, L, dY, dXP, dU, G, Gn, {_option_args(spec)}):",
        "    T = Z.shape[0] - 1",
        "    B = Z.shape[1]",
        "    H = dY.shape[2]",
        *[f"    rows{i} = {_row_gemv_rule(f'R{i}.shape[0]')}" for i, _, _ in lay.prods],
        "    for t in range(T - 1, -1, -1):",
        "        G[:, :, :] = 0.0",
    ]
    out += _lines(8, ["for bb in range(B):", "    if t < L[bb]:"]) + _lines(16, _moves_loop(emit.ADD_DY))
    out += _lines(8, _option_pass(_ZONE_ON, emit.zone_grad_moves(lay)))
    scratch = []
    for st in reversed(spec.stages):
        code = emit.backward_stage(lay, st)
        scratch += _scratch(code, st.index)
        out += _lines(8, ["for bb in range(B):", "    if t < L[bb]:"]) + _lines(16, _unit_loops(st.index, code))
        for i, p in lay.stage_products(st.index):
            _product(f"dA{i}[t]", f"R{i}", f"Q{i}", f"rows{i}", step := [])
            out += _lines(8, step)
            out += _lines(8, _mask_pass(i, emit.grad_mask_moves(lay, i, p)))
            adds = [emit.render_move(m, None, None, None)[0] for m in emit.product_grad_moves(lay, i, p)]
            out += _lines(8, ["for bb in range(B):", "    if t < L[bb]:", "        for j in range(H):"])
            out += _lines(20, adds)
    out += _lines(8, ["for bb in range(B):", "    if t < L[bb]:"]) + _lines(16, _moves_loop(emit.carry_grad_moves(lay)))
    out.append("    return 0")
    return _with_scratch(out, scratch, "    for t in range(T - 1, -1, -1):", "Z.dtype")


def step_source(spec) -> str:
    """``step(x_t, <forward's arguments>) -> bool``: one streaming step around ``forward`` (T = 1).

    When ``x_t`` (B, D) has rows: False (nothing done) if it holds a NaN or Inf,
    else it is copied into ``x[0]``; then ``forward`` runs and the state is
    carried (``Z[0] = Z[1]``). ``x_t`` with no rows: ``x`` already holds the
    input (a stacked layer's input is the output buffer of the layer below).
    """
    lay = emit.layout(spec)
    sig = f"x, WT, b, {_args(lay)}U, L, Z, S, Y, XP, {_option_args(spec)}"
    return "\n".join([
        f"def step(x_t, {sig}):",
        "    if x_t.shape[0]:",
        "        for i in range(x_t.shape[0]):",
        "            for k in range(x_t.shape[1]):",
        "                v = x_t[i, k]",
        "                if v - v != 0:",
        "                    return False",
        "        for i in range(x_t.shape[0]):",
        "            for k in range(x_t.shape[1]):",
        "                x[0, i, k] = x_t[i, k]",
        f"    forward({sig})",
        "    Z[0] = Z[1]",
        "    return True",
    ]) + "\n"


def module_source(spec) -> str:
    head = (f"# Generated by lstmlab for variant {spec.name!r} "
            f"({spec.cls.__module__}.{spec.cls.__qualname__}). Do not edit.\n"
            "import numpy as np\n\n")
    return head + forward_source(spec) + "\n\n" + backward_source(spec) + "\n\n" + step_source(spec)
