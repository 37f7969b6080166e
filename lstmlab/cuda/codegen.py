"""Generate a variant's CUDA pointwise kernels from its spec (one thread per unit).

For each stage ``k`` two kernels, launched once per step with ``B * H``
threads, thread ``(b, j)``:

``fwd{k}(t, XP, Z, S, Y, U, L, <A_p, rb_p, P_p for each product p>)``
    reads the stage's arguments exactly as the CPU kernel does, calls the
    variant's forward (a device function), writes the new state, output,
    saved values and the next products' inputs; past a sequence's end the
    final stage carries the state.
``bwd{k}(t, XP, Z, S, U, L, G, Gn, dXP, dU, <dA_p for each p>)``
    the variant's backward; per-unit parameter gradients are summed over the
    batch with atomic adds.

plus ``addq{p}`` (send a product's input gradient ``Q_p`` to its sources),
``init_p`` (first step's product inputs), ``add_dy`` and ``carry_g`` (the
state gradient between steps). The layout of every buffer is the CPU
engine's (see :mod:`lstmlab.codegen`), so the two backends share the maths
and differ only in how steps are launched.
"""
from __future__ import annotations

from ..codegen import _layout, arg_source, grad_targets


def _thread(lines):
    return ["    idx = cuda.grid(1)", "    B = L.shape[0]", "    if idx >= B * H:", "        return",
            "    bb = idx // H", "    j = idx - bb * H"] + lines


def _init_p_body(spec, lay):
    body = []
    for i, _, p in lay["prods"]:
        for q, s in enumerate(p.source):
            if s in lay["state"]:
                body.append(f"P{i}[0, bb, {q} * H + j] = Z[0, bb, {lay['state'].index(s)} * H + j]")
    return body or ["pass"]


def _fwd_body(spec, lay, st):
    """Statements for unit (bb, j) of stage ``st`` at step t (the step kernel's and the persistent one's)."""
    state, slot, prods = lay["state"], lay["slot"], lay["prods"]
    nst = len(state)
    last = st.index == len(spec.stages) - 1
    mine = [(i, p) for i, k, p in prods if k == st.index]
    names, lines = [], []
    for a, kind, key in st.fwd_args:
        if kind == "fixed":
            names.append(repr(key))
            continue
        names.append("v_" + a)
        lines.append(f"v_{a} = {arg_source(lay, kind, key, mine, last)}")
    res = [f"r{n}" for n in range(len(st.outputs))]
    lines.append(f"{', '.join(res)}, = f{st.index}({', '.join(names)})")
    for n, o in enumerate(st.outputs):
        if last and n < nst:
            lines.append(f"Z[t + 1, bb, {n} * H + j] = r{n}")
            if n == 0:
                lines.append(f"Y[t, bb, j] = r{n}")
            for i, _, p in prods:
                if o in p.source:
                    lines += ["if t + 1 < Z.shape[0] - 1:",
                              f"    P{i}[t + 1, bb, {p.source.index(o)} * H + j] = r{n}"]
        else:
            lines.append(f"S[t, bb, {slot[o]} * H + j] = r{n}")
            for i, _, p in prods:
                if o in p.source:
                    lines.append(f"P{i}[t, bb, {p.source.index(o)} * H + j] = r{n}")
    body = ["if t < L[bb]:"] + ["    " + x for x in lines]
    if last:
        carry = [f"for s in range({nst}):", "    Z[t + 1, bb, s * H + j] = Z[t, bb, s * H + j]"]
        for i, _, p in prods:
            if any(s in state for s in p.source):
                carry += ["if t + 1 < Z.shape[0] - 1:", f"    for q in range({len(p.source)}):",
                          f"        P{i}[t + 1, bb, q * H + j] = P{i}[t, bb, q * H + j]"]
        body += ["else:"] + ["    " + x for x in carry]
    return body


def _bwd_body(spec, lay, st):
    prods = lay["prods"]
    last = st.index == len(spec.stages) - 1
    mine = [(i, p) for i, k, p in prods if k == st.index]
    names, lines = [], []
    for a, kind, key in st.bwd_args:
        src = None if kind == "fixed" else arg_source(lay, kind, key, mine, last)
        if src is None:  # a fixed value, or the gradient of a saved value nothing downstream reads
            names.append(repr(key) if kind == "fixed" else "0.0")
            continue
        names.append("w_" + a)
        lines.append(f"w_{a} = {src}")
    res = [f"g{n}" for n in range(len(st.fwd_args))]
    lines.append(f"{', '.join(res)}, = bw{st.index}({', '.join(names)})")
    for n, (a, kind, key) in enumerate(st.fwd_args):
        for target, accumulate in grad_targets(lay, kind, key, mine):
            if isinstance(target, tuple):  # per-unit parameter: summed over the batch's threads
                lines.append(f"cuda.atomic.add(dU, ({target[1]}, j), g{n})")
            else:
                lines.append(f"{target} {'+=' if accumulate else '='} g{n}")
    return ["if t < L[bb]:"] + ["    " + x for x in lines]


def _addq_body(lay, i, p):
    return ["if t < L[bb]:"] + [f"    G[{lay['acc'][s]}, bb, j] += Q{i}[bb, {q} * H + j]"
                                 for q, s in enumerate(p.source)]


_ADD_DY = ["if t < L[bb]:", "    Gn[0, bb, j] += dY[t, bb, j]"]


def _carry_body(nst):
    return ["if t < L[bb]:", f"    for s in range({nst}):", "        Gn[s, bb, j] = G[s, bb, j]"]


def _ind(lines, n):
    return [" " * n + x for x in lines]


def module_source(spec) -> str:
    """The step kernels: one launch per stage, product and step."""
    lay = _layout(spec)
    prods = lay["prods"]
    nst = len(lay["state"])
    out = [f"# CUDA kernels generated by lstmlab for variant {spec.name!r}. Do not edit.", ""]
    allp = "".join(f", P{i}" for i, _, _ in prods)
    out += [f"def init_p(Z, L, H{allp}):"] + _thread(_ind(_init_p_body(spec, lay), 4)) + [""]
    for st in spec.stages:
        mine = [i for i, k, _ in prods if k == st.index]
        args = "".join(f", A{i}, rb{i}" for i in mine)
        out += [f"def fwd{st.index}(t, XP, Z, S, Y, U, L, H{allp}{args}):"]
        out += _thread(_ind(_fwd_body(spec, lay, st), 4)) + [""]
    for st in reversed(spec.stages):
        mine = [i for i, k, _ in prods if k == st.index]
        dargs = "".join(f", dA{i}" for i in mine)
        out += [f"def bwd{st.index}(t, XP, Z, S, U, L, H, G, Gn, dXP, dU{dargs}):"]
        out += _thread(_ind(_bwd_body(spec, lay, st), 4)) + [""]
    for i, _, p in prods:
        out += [f"def addq{i}(t, Q{i}, G, L, H):"] + _thread(_ind(_addq_body(lay, i, p), 4)) + [""]
    out += ["def add_dy(t, Gn, dY, L, H):"] + _thread(_ind(_ADD_DY, 4)) + [""]
    out += ["def carry_g(t, Gn, G, L, H):"] + _thread(_ind(_carry_body(nst), 4)) + [""]
    return "\n".join(out) + "\n"


def _grid_loop(body, n="B * H"):
    """Grid-stride loop over units (bb, j) around ``body``."""
    return [f"for u in range(gtid, {n}, gsize):", "    bb = u // H", "    j = u - bb * H"] + _ind(body, 4)


def persistent_source(spec) -> str:
    """Persistent kernels (Diamos et al. 2016): the whole time loop in one launch.

    ``pfwd``/``pbwd`` run every step inside one cooperative launch, with a
    grid-wide barrier (``cuda.cg.this_grid().sync()``) between the phases of a
    step. Each block loads its slice of every recurrent matrix into shared
    memory once: rows (output units) for the forward products, columns for the
    backward's ``dA @ R``, so the weights stay on-chip for the whole sequence.
    ``sh`` is dynamic shared memory sized by the launcher; ``rpb``/``cpb`` are
    the rows/columns per block of each product (launcher-computed).
    """
    lay = _layout(spec)
    prods = lay["prods"]
    nst = len(lay["state"])
    allp = "".join(f", P{i}" for i, _, _ in prods)
    allr = "".join(f", R{i}, rb{i}, A{i}" for i, _, _ in prods)
    pre = ["    g = cuda.cg.this_grid()", "    blk = cuda.blockIdx.x", "    nblk = cuda.gridDim.x",
           "    tx = cuda.threadIdx.x", "    nth = cuda.blockDim.x", "    gtid = blk * nth + tx",
           "    gsize = nblk * nth", "    B = L.shape[0]", "    T = Z.shape[0] - 1",
           "    sh = cuda.shared.array(0, SHARED_DTYPE)"]
    out = [f"# Persistent CUDA kernels generated by lstmlab for variant {spec.name!r}. Do not edit.", ""]
    # forward
    body = list(pre) + ["    off = 0"]
    for i, _, p in prods:
        body += [f"    N{i} = R{i}.shape[0]", f"    K{i} = R{i}.shape[1]", f"    r0_{i} = blk * rpb{i}",
                 f"    o{i} = off", f"    for e in range(tx, rpb{i} * K{i}, nth):",
                 f"        r = r0_{i} + e // K{i}", "        if r < N%d:" % i,
                 f"            sh[o{i} + e] = R{i}[r, e % K{i}]", f"    off += rpb{i} * K{i}"]
    body += ["    cuda.syncthreads()"] + _ind(_grid_loop(_init_p_body(spec, lay)), 4) + ["    g.sync()"]
    body += ["    for t in range(T):"]
    for st in spec.stages:
        mine = [i for i, k, _ in prods if k == st.index]
        for i in mine:  # this block's rows of A_i = P_i[t] @ R_i.T, R_i's rows from shared memory
            body += _ind([f"for e in range(tx, B * rpb{i}, nth):", f"    bb = e // rpb{i}",
                          f"    rl = e - bb * rpb{i}", f"    r = r0_{i} + rl", f"    if r < N{i}:",
                          "        acc = 0.0", f"        for k in range(K{i}):",
                          f"            acc += P{i}[t, bb, k] * sh[o{i} + rl * K{i} + k]",
                          f"        A{i}[bb, r] = acc"], 8)
        if mine:
            body.append("        g.sync()")
        body += _ind(_grid_loop(_fwd_body(spec, lay, st)), 8) + ["        g.sync()"]
    out += [f"def pfwd(XP, Z, S, Y, U, L, H{allp}{allr}{''.join(f', rpb{i}' for i, _, _ in prods)}):"] + body + [""]
    # backward
    alld = "".join(f", R{i}, dA{i}, Q{i}" for i, _, _ in prods)
    body = list(pre) + ["    off = 0"]
    for i, _, p in prods:
        body += [f"    N{i} = R{i}.shape[0]", f"    K{i} = R{i}.shape[1]", f"    c0_{i} = blk * cpb{i}",
                 f"    o{i} = off", f"    for e in range(tx, N{i} * cpb{i}, nth):",
                 f"        n = e // cpb{i}", f"        c = c0_{i} + e - n * cpb{i}", f"        if c < K{i}:",
                 f"            sh[o{i} + e] = R{i}[n, c]", f"    off += N{i} * cpb{i}"]
    body += ["    cuda.syncthreads()", "    NG = G.shape[0]", "    for t in range(T - 1, -1, -1):"]
    body += _ind(["for e in range(gtid, NG * B * H, gsize):", "    s = e // (B * H)", "    r = e - s * (B * H)",
                  "    G[s, r // H, r - (r // H) * H] = 0.0"], 8)
    body += _ind(_grid_loop(_ADD_DY), 8) + ["        g.sync()"]
    for st in reversed(spec.stages):
        mine = [(i, p) for i, k, p in prods if k == st.index]
        body += _ind(_grid_loop(_bwd_body(spec, lay, st)), 8) + ["        g.sync()"]
        for i, p in mine:  # this block's columns of Q_i = dA_i[t] @ R_i, R_i's columns from shared memory
            body += _ind([f"for e in range(tx, B * cpb{i}, nth):", f"    bb = e // cpb{i}",
                          f"    cl = e - bb * cpb{i}", f"    c = c0_{i} + cl", f"    if c < K{i}:",
                          "        acc = 0.0", f"        for n in range(N{i}):",
                          f"            acc += dA{i}[t, bb, n] * sh[o{i} + n * cpb{i} + cl]",
                          f"        Q{i}[bb, c] = acc"], 8) + ["        g.sync()"]
            body += _ind(_grid_loop(_addq_body(lay, i, p)), 8) + ["        g.sync()"]
    body += _ind(_grid_loop(_carry_body(nst)), 8) + ["        g.sync()"]
    out += [f"def pbwd(XP, Z, S, U, L, H, G, Gn, dXP, dU, dY{alld}{''.join(f', cpb{i}' for i, _, _ in prods)}):"]
    out += body + [""]
    return "\n".join(out) + "\n"
