"""Generate the source of a variant's time-loop kernels from its spec.

The engine knows stages, products and named values, never a particular
variant. For each variant this module writes two plain functions, later
compiled by Numba:

``forward(x, WT, b, <RT_p, rb_p, P_p, A_p for each product p>, U, L, Z, S, Y, XP)``
    ``XP = x @ W.T + b`` in one GEMM per C = ``XP.shape[0]`` steps (C = T
    keeps the whole projection), then for each step and stage: one GEMM
    per product (``A_p = P_p[t] @ R_p.T``) and one fused pointwise pass.
``backward(XP, Z, S, <R_p, dA_p, Q_p for each p>, U, L, dY, dXP, dU, G, Gn)``
    exact BPTT: per step and stage (in reverse) one fused pointwise backward,
    then one GEMM per product (``Q_p = dA_p[t] @ R_p``) sending gradients to
    the product's sources. Weight gradients are whole-sequence GEMMs done by
    the caller afterwards.

Buffers (all C-contiguous, H hidden units, B batch, T steps):
``Z (T+1, B, nstate*H)`` state history; ``S (T, B, nsaved*H)`` saved values;
``P_p (T, B, len(source)*H)`` the product's input at each step;
``A_p (B, len(targets)*H)`` scratch; ``Y (T, B, H)`` output (zero past a
sequence's length); ``U (n_unit_params, H)``; ``L (B,)`` lengths.
``G (nstate + n_mid, B, H)`` gradient accumulators for the previous state and
for intermediate outputs; ``Gn (nstate, B, H)`` the gradient of the new state,
carried between steps (in: gradient of the final state; out: of the initial).

No Python objects, allocation or dispatcher calls happen inside the loops:
the pointwise functions are compiled into the kernel.
"""
from __future__ import annotations


def _layout(spec):
    """Index maps shared by the forward and backward generators."""
    state = spec.state
    slot = {o: i for i, o in enumerate(spec.saved)}
    final = spec.stages[-1]
    mids = [o for st in spec.stages[:-1] for o in st.outputs]
    acc = {s: i for i, s in enumerate(state)}
    acc.update({o: len(state) + i for i, o in enumerate(mids)})
    prods = []  # (global index, stage index, product)
    for st in spec.stages:
        for p in st.products:
            prods.append((len(prods), st.index, p))
    return dict(state=state, slot=slot, final=final, mids=mids, acc=acc, prods=prods)


def arg_source(lay, kind, key, mine, last, xp_step="t"):
    """The expression that reads a pointwise argument for unit (bb, j) at step t.

    Shared by the CPU kernels and the CUDA ones. ``mine``: the stage's
    products ``(index, Product)``; ``xp_step``: the row of XP holding step t.
    Returns None for a gradient nothing downstream produces (it is 0).
    """
    state, slot, acc = lay["state"], lay["slot"], lay["acc"]
    if kind == "x":
        return f"XP[{xp_step}, bb, {key} * H + j]"
    if kind == "a":
        return " + ".join(f"A{i}[bb, {p.targets.index(key)} * H + j] + rb{i}[{p.targets.index(key)} * H + j]"
                          for i, p in mine if key in p.targets)
    if kind == "state":
        return f"Z[t, bb, {key} * H + j]"
    if kind == "newstate":
        return f"Z[t + 1, bb, {key} * H + j]"
    if kind == "param":
        return f"U[{key}, j]"
    if kind == "out":
        return f"S[t, bb, {slot[key]} * H + j]"
    if last and key in state:  # grad of the new state
        return f"Gn[{state.index(key)}, bb, j]"
    if key in acc:  # grad of an intermediate output
        return f"G[{acc[key]}, bb, j]"
    return None


def grad_targets(lay, kind, key, mine):
    """Where the gradient of a pointwise argument goes: ``[(target, accumulate)]``.

    ``target`` is an indexing expression for unit (bb, j) at step t, or
    ``("dU", key)`` for a per-unit parameter (summed over the batch: the CUDA
    kernels add atomically). Shared by the CPU and CUDA code generators.
    """
    if kind == "x":
        return [(f"dXP[t, bb, {key} * H + j]", False)]
    if kind == "a":
        return [(f"dA{i}[t, bb, {p.targets.index(key)} * H + j]", False) for i, p in mine if key in p.targets]
    if kind == "state":
        return [(f"G[{key}, bb, j]", True)]
    if kind == "param":
        return [(("dU", key), True)]
    if kind == "out":
        return [(f"G[{lay['acc'][key]}, bb, j]", True)]
    return []  # a fixed argument


def _args(prods):
    """The per-product arguments, each followed by ", " (none for a step without products)."""
    return "".join(f"RT{i}, rb{i}, P{i}, A{i}, " for i, _, _ in prods)


def _lines(indent, items):
    pad = " " * indent
    return [pad + s for s in items]


def _with_scratch(lines, scratch, before, dtype_of):
    """Allocate the scratch rows once, before the time loop (``before``)."""
    k = lines.index(before)
    # the array dtype: a float32 layer's pointwise maths stays float32 (16 SIMD lanes)
    alloc = [f"    {name} = np.empty(({rows}, H), {dtype_of})" for name, rows in scratch]
    return "\n".join(lines[:k] + alloc + lines[k:]) + "\n"


def forward_source(spec) -> str:
    lay = _layout(spec)
    state, slot, prods = lay["state"], lay["slot"], lay["prods"]
    nst = len(state)
    G = len(spec.inputs)
    out = [
        f"def forward(x, WT, b, {_args(prods)}U, L, Z, S, Y, XP):",
        "    T = x.shape[0]",
        "    B = x.shape[1]",
        "    D = x.shape[2]",
        "    H = Y.shape[2]",
        "    C = XP.shape[0]",
    ]
    # products fed by the previous state start from the initial state
    for i, _, p in prods:
        for q, s in enumerate(p.source):
            if s in state:
                si = state.index(s)
                out += _lines(4, ["for bb in range(B):",
                                  "    for j in range(H):",
                                  f"        P{i}[0, bb, {q} * H + j] = Z[0, bb, {si} * H + j]"])
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
        last = st.index == len(spec.stages) - 1
        mine = [(i, p) for i, k, p in prods if k == st.index]
        for i, p in mine:
            out.append(f"        np.dot(P{i}[t], RT{i}, A{i})")
        # gather -> compute -> scatter: the compute loop reads and writes only
        # the kernel's own scratch rows, so LLVM vectorises it without
        # runtime alias checks (with them it gave up: too many pointers).
        gather, names = [], []
        for a, kind, key in st.fwd_args:
            if kind == "fixed":  # the Python default of an argument naming nothing declared
                names.append(repr(key))
                continue
            names.append(f"IN{st.index}[{len(gather)}, j]")
            gather.append(f"{names[-1]} = {arg_source(lay, kind, key, mine, last, xp_step='tc')}")
        res = [f"r{n}" for n in range(len(st.outputs))]
        compute = [f"{', '.join(res)}, = f{st.index}({', '.join(names)})"]
        compute += [f"OUT{st.index}[{n}, j] = r{n}" for n in range(len(st.outputs))]
        scatter = []  # (destination, source row); one loop each keeps them vectorised
        for n, o in enumerate(st.outputs):
            if last and n < nst:
                scatter.append((f"Z[t + 1, bb, {n} * H + j]", n, False))
                if n == 0:
                    scatter.append(("Y[t, bb, j]", n, False))
                for i, _, p in prods:
                    if o in p.source:
                        scatter.append((f"P{i}[t + 1, bb, {p.source.index(o)} * H + j]", n, True))
            else:
                scatter.append((f"S[t, bb, {slot[o]} * H + j]", n, False))
                for i, _, p in prods:
                    if o in p.source:
                        scatter.append((f"P{i}[t, bb, {p.source.index(o)} * H + j]", n, False))
        scratch.append((f"IN{st.index}", max(len(gather), 1)))
        scratch.append((f"OUT{st.index}", len(st.outputs)))
        out += _lines(8, ["for bb in range(B):", "    if t < L[bb]:"])
        for line in gather:  # one loop per row: a single loop over all rows needs too many alias checks
            out += _lines(16, ["for j in range(H):", "    " + line])
        out += _lines(16, ["for j in range(H):"]) + _lines(20, compute)
        for dst, n, next_step in scatter:
            loop = ["for j in range(H):", f"    {dst} = OUT{st.index}[{n}, j]"]
            out += _lines(16, (["if t + 1 < T:"] + ["    " + x for x in loop]) if next_step else loop)
        if last:  # past the sequence's end the state is carried, the output stays zero
            carry = [f"for k in range({nst} * H):", "    Z[t + 1, bb, k] = Z[t, bb, k]"]
            for i, _, p in prods:
                if any(s in state for s in p.source):
                    carry += ["if t + 1 < T:", f"    for k in range({len(p.source)} * H):",
                              f"        P{i}[t + 1, bb, k] = P{i}[t, bb, k]"]
            out += _lines(12, ["else:"]) + _lines(16, carry)
    out.append("    return 0")
    return _with_scratch(out, scratch, "    for t in range(T):", "Z.dtype")


def backward_source(spec) -> str:
    lay = _layout(spec)
    state, acc, prods = lay["state"], lay["acc"], lay["prods"]
    nst = len(state)
    pargs = "".join(f"R{i}, dA{i}, Q{i}, " for i, _, _ in prods)
    out = [
        f"def backward(XP, Z, S, {pargs}U, L, dY, dXP, dU, G, Gn):",
        "    T = Z.shape[0] - 1",
        "    B = Z.shape[1]",
        "    H = dY.shape[2]",
        "    for t in range(T - 1, -1, -1):",
        "        G[:, :, :] = 0.0",
        "        for bb in range(B):",
        "            if t < L[bb]:",
        "                for j in range(H):",
        "                    Gn[0, bb, j] += dY[t, bb, j]",
    ]
    scratch = []
    for st in reversed(spec.stages):
        last = st.index == len(spec.stages) - 1
        mine = [(i, p) for i, k, p in prods if k == st.index]
        gather, names = [], []
        for a, kind, key in st.bwd_args:
            src = None if kind == "fixed" else arg_source(lay, kind, key, mine, last)
            if src is None:  # a fixed value, or the gradient of a saved value nothing downstream reads
                names.append(repr(key) if kind == "fixed" else "0.0")
                continue
            names.append(f"IN{st.index}[{len(gather)}, j]")
            gather.append(f"{names[-1]} = {src}")
        res = [f"g{n}" for n in range(len(st.fwd_args))]
        compute = [f"{', '.join(res)}, = bw{st.index}({', '.join(names)})"]
        compute += [f"OUT{st.index}[{n}, j] = g{n}" for n in range(len(st.fwd_args))]
        scatter = []
        for n, (a, kind, key) in enumerate(st.fwd_args):
            for target, accumulate in grad_targets(lay, kind, key, mine):
                if isinstance(target, tuple):
                    target = f"dU[{target[1]}, j]"
                scatter.append(f"{target} {'+=' if accumulate else '='} OUT{st.index}[{n}, j]")
        scratch.append((f"IN{st.index}", max(len(gather), 1)))
        scratch.append((f"OUT{st.index}", len(st.fwd_args)))
        out += _lines(8, ["for bb in range(B):", "    if t < L[bb]:"])
        for line in gather:  # one loop per row: a single loop over all rows needs too many alias checks
            out += _lines(16, ["for j in range(H):", "    " + line])
        out += _lines(16, ["for j in range(H):"]) + _lines(20, compute)
        for line in scatter:
            out += _lines(16, ["for j in range(H):", "    " + line])
        for i, p in mine:
            out.append(f"        np.dot(dA{i}[t], R{i}, Q{i})")
            adds = [f"G[{acc[s]}, bb, j] += Q{i}[bb, {q} * H + j]" for q, s in enumerate(p.source)]
            out += _lines(8, ["for bb in range(B):", "    if t < L[bb]:", "        for j in range(H):"])
            out += _lines(20, adds)
    out += _lines(8, ["for bb in range(B):", "    if t < L[bb]:",
                      f"        for s in range({nst}):", "            for j in range(H):",
                      "                Gn[s, bb, j] = G[s, bb, j]"])
    out.append("    return 0")
    return _with_scratch(out, scratch, "    for t in range(T - 1, -1, -1):", "Z.dtype")


def module_source(spec) -> str:
    head = (f"# Generated by lstmlab for variant {spec.name!r} "
            f"({spec.cls.__module__}.{spec.cls.__qualname__}). Do not edit.\n"
            "import numpy as np\n\n")
    return head + forward_source(spec) + "\n\n" + backward_source(spec)
