"""Compile and run one direction of one layer: forward and exact BPTT.

Compiled kernels are built once per variant (and per dtype, by Numba's
dispatch) and reused. The generated source is written to a file named by a
hash of everything it depends on, so Numba's on-disk cache serves later
processes, and an edited variant never meets a stale kernel.
"""
from __future__ import annotations

import hashlib
import importlib.util
import marshal
import math
import os
import sys
import tempfile
import threading
import types
from dataclasses import dataclass

import numba
import numpy as np

from . import blas, codegen, fastmath, workspace
from .config import CACHE, JIT_OPTIONS, kernel_dir
from .variant import VariantError, bind_function

#: Rows (steps x batch) per chunk of the input projection and of the backward's
#: gradient buffers: the GEMMs stay efficient, the buffers O(chunk), not O(T).
CHUNK_ROWS = 4096

_KERNELS: dict = {}
_LOCK = threading.Lock()
_VERSION = "7"  # bump when the kernel calling convention or fastmath changes
_CPU_REPLACE = dict(fastmath.CPU_REPLACEMENTS)
_CPU_REPLACE[math] = fastmath.math_module


def _fingerprint(fn, h, seen):
    """Feed ``fn``'s code and everything it reaches (helpers, constants) into ``h``."""
    if fn in seen:
        return
    seen.add(fn)
    if isinstance(fn, numba.core.registry.CPUDispatcher):
        fn = fn.py_func
    h.update(marshal.dumps(fn.__code__))
    h.update(repr(fn.__defaults__).encode())
    for name in fn.__code__.co_names:
        val = fn.__globals__.get(name)
        if isinstance(val, (types.FunctionType, numba.core.registry.CPUDispatcher)):
            _fingerprint(val, h, seen)
        elif isinstance(val, (bool, int, float)):
            h.update(f"{name}={val!r}".encode())


def _jit_helper(fn):
    return numba.njit(inline="always", **JIT_OPTIONS)(fn)


def _load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # Numba's cache re-imports the module by name
    spec.loader.exec_module(mod)
    return mod


@dataclass
class Kernels:
    forward: object
    backward: object
    source: str
    path: str


def kernels(spec) -> Kernels:
    """The compiled (lazily, per dtype) forward and backward kernels of ``spec``."""
    key = spec.cls
    if key in _KERNELS:
        return _KERNELS[key]
    with _LOCK:
        if key in _KERNELS:
            return _KERNELS[key]
        src = codegen.module_source(spec)
        h = hashlib.sha256(src.encode())
        h.update(f"{_VERSION}|{numba.__version__}|{sys.version_info[:2]}|{sorted(JIT_OPTIONS.items())}".encode())
        with open(fastmath.__file__, "rb") as fh:  # its overloads are not reached by _fingerprint
            h.update(fh.read())
        cpu = []
        for st in spec.stages:
            fw = bind_function(spec.cls, st.forward, wrap=_jit_helper, replace=_CPU_REPLACE)
            bw = bind_function(spec.cls, st.backward, wrap=_jit_helper, replace=_CPU_REPLACE)
            for f in (fw, bw):
                _fingerprint(f, h, set())
            cpu.append((fw, bw))
        digest = h.hexdigest()[:20]
        modname = f"lstmlab_k_{spec.name}_{digest}".replace("-", "_")
        path = kernel_dir() / f"{modname}.py"
        if not path.exists():  # write once: rewriting would change the stamp Numba's cache checks
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "w") as fh:
                fh.write(src)
            os.replace(tmp, path)
        mod = _load_module(str(path), modname)
        for k, (fw, bw) in enumerate(cpu):
            setattr(mod, f"f{k}", _jit_helper(fw))
            setattr(mod, f"bw{k}", _jit_helper(bw))
        opts = dict(JIT_OPTIONS, cache=CACHE)
        ker = Kernels(numba.njit(**opts)(mod.forward), numba.njit(**opts)(mod.backward), src, str(path))
        _KERNELS[key] = ker
        return ker


def forget(cls) -> None:
    """Drop the compiled kernels of ``cls`` (after re-registering a changed class)."""
    _KERNELS.pop(cls, None)


@dataclass
class Tape:
    """What a forward keeps for the backward of one direction of one layer."""
    x: np.ndarray
    params: dict
    lengths: np.ndarray
    XP: np.ndarray
    Z: np.ndarray
    S: np.ndarray
    P: list


def forward(spec, params: dict, x: np.ndarray, state0: np.ndarray, lengths: np.ndarray):
    """Run one direction of one layer.

    x: (T, B, D); state0: (nstate, B, H); lengths: (B,) int64, 1 <= L <= T.
    All float arrays share one dtype (float32 or float64), already validated.
    Returns ``(Y (T, B, H), final_state (nstate, B, H), tape)``.
    """
    T, B, _ = x.shape
    nst, _, H = state0.shape
    dt = x.dtype
    ker = kernels(spec)
    args = [x, np.ascontiguousarray(params["W"].T), params["b"]]
    P, scratch = [], []
    for p in spec.products:
        R = params[p.name]
        rb = params["b_" + p.name] if p.bias else np.zeros(R.shape[0], dt)
        # zeros: a product fed by a mid-step value is not written past a sequence's end
        Pp = workspace.zeros((T, B, len(p.source) * H), dt)
        P.append(Pp)
        A = workspace.empty((B, R.shape[0]), dt)
        scratch.append(A)
        args += [np.ascontiguousarray(R.T), rb, Pp, A]
    U = _unit_matrix(spec, params, H, dt)
    Z = workspace.empty((T + 1, B, nst * H), dt)
    Z[0] = state0.transpose(1, 0, 2).reshape(B, nst * H)
    S = workspace.empty((T, B, len(spec.saved) * H), dt)
    Y = np.zeros((T, B, H), dt)
    # Most variants' backward never reads x_k: then the projection is computed
    # CHUNK_ROWS rows at a time into a small buffer and not kept.
    keep = _backward_reads_x(spec)
    XP = workspace.empty((T if keep else min(T, max(1, -(-CHUNK_ROWS // B))), B, len(spec.inputs) * H), dt)
    _call(spec, ker.forward, *args, U, lengths, Z, S, Y, XP)
    if not keep:
        scratch.append(XP)
        XP = _NO_XP.setdefault(np.dtype(dt), np.zeros((1, 1, 1), dt))
    workspace.give(*scratch)
    final = _final_state(Z, nst, H)
    return Y, final, Tape(x, params, lengths, XP, Z, S, P)


def backward(spec, tape: Tape, dY: np.ndarray, dstate: np.ndarray):
    """Exact BPTT for one direction of one layer.

    dY: (T, B, H) gradient of the outputs; dstate: (nstate, B, H) gradient of
    the final state. Returns ``(grads (dict like params), dx (T, B, D), dstate0)``.

    The time loop runs in chunks of about :data:`CHUNK_ROWS` / B steps, last
    chunk first, with the state gradient carried between them; each chunk's
    weight gradients are GEMMs over its steps. Gradient buffers are therefore
    chunk-sized, not sequence-sized.
    """
    x, params, L = tape.x, tape.params, tape.lengths
    T, B, D = x.shape
    nst = tape.Z.shape[2] // dY.shape[2]
    H = dY.shape[2]
    dt = x.dtype
    ker = kernels(spec)
    C = min(T, max(1, -(-CHUNK_ROWS // B)))
    G_ = len(spec.inputs)
    Rs = [params[p.name] for p in spec.products]
    dAs = [workspace.empty((C, B, R.shape[0]), dt) for R in Rs]
    Qs = [workspace.empty((B, R.shape[1]), dt) for R in Rs]
    dXP = workspace.empty((C, B, G_ * H), dt)
    U = _unit_matrix(spec, params, H, dt)
    dU = np.zeros_like(U)
    n_mid = len(codegen._layout(spec)["mids"])
    G = np.zeros((nst + n_mid, B, H), dt)
    # The state is carried unchanged past a sequence's end and the kernel passes
    # gradients through those steps, so the final-state gradient enters at T.
    Gn = np.array(dstate, dtype=dt, order="C", copy=True)
    reads_x = _backward_reads_x(spec)
    grads = {"W": np.zeros((G_ * H, D), dt), "b": np.zeros(G_ * H, dt)}
    for p, R in zip(spec.products, Rs):
        grads[p.name] = np.zeros_like(R)
        if p.bias:
            grads["b_" + p.name] = np.zeros(R.shape[0], dt)
    dx = np.empty((T, B, D), dt)
    for t1 in range(T, 0, -C):
        t0 = max(0, t1 - C)
        n = t1 - t0
        dXPc = dXP[:n]
        dXPc.fill(0)  # steps past a sequence's end must contribute nothing
        args = []
        for R, dA, Q in zip(Rs, dAs, Qs):
            dA[:n].fill(0)
            args += [R, dA[:n], Q]
        XP = tape.XP[t0:t1] if reads_x else tape.XP
        _call(spec, ker.backward, XP, tape.Z[t0:t1 + 1], tape.S[t0:t1], *args, U, L - t0,
              dY[t0:t1], dXPc, dU, G, Gn)
        dXP2 = dXPc.reshape(n * B, -1)
        grads["W"] += blas.at_b(dXP2, x[t0:t1].reshape(n * B, D))
        grads["b"] += dXP2.sum(axis=0)
        dx[t0:t1] = blas.a_b(dXP2, params["W"]).reshape(n, B, D)
        for p, dA, Pp in zip(spec.products, dAs, tape.P):
            dA2 = dA[:n].reshape(n * B, -1)
            grads[p.name] += blas.at_b(dA2, Pp[t0:t1].reshape(n * B, -1))
            if p.bias:
                grads["b_" + p.name] += dA2.sum(axis=0)
    for k, u in enumerate(spec.unit_params):
        grads[u] = dU[k].copy()
    workspace.give(dXP, *dAs, *Qs)
    return grads, dx, Gn


_NO_XP: dict = {}  # a placeholder passed for XP when no backward reads it


def _backward_reads_x(spec) -> bool:
    return any(kind == "x" for st in spec.stages for _, kind, _ in st.bwd_args)


def release(tape: Tape) -> None:
    """Give a tape's buffers back to the workspace; the tape is unusable afterwards."""
    workspace.give(tape.XP, tape.Z, tape.S, *tape.P)  # the 1-element XP placeholder is too small to pool
    tape.XP = tape.Z = tape.S = None
    tape.P = []


def _call(spec, kernel, *args):
    try:
        return kernel(*args)
    except numba.core.errors.TypingError as exc:
        first = str(exc).strip().splitlines()[0]
        raise VariantError(f"variant {spec.name!r} ({spec.cls.__qualname__}): its pointwise maths could not be "
                           f"compiled by Numba (use scalars, math and lstmlab.scalar only): {first}") from exc


def _unit_matrix(spec, params, H, dt):
    if not spec.unit_params:
        return np.zeros((0, H), dt)
    return np.ascontiguousarray(np.stack([params[u] for u in spec.unit_params]))


def _final_state(Z, nst, H):
    """Each sequence's state after its last valid step, as (nstate, B, H).

    The kernel carries the state past a sequence's end, so Z[T] already holds it.
    """
    B = Z.shape[1]
    return Z[-1].reshape(B, nst, H).transpose(1, 0, 2).copy()
