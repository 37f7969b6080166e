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
import sys
import threading
import types
from dataclasses import dataclass

import numba
import numpy as np

from . import blas, codegen, config, fastmath, hostside, kernel_files, workspace
from .binding import bind_function
from .variant import VariantError

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


#: CPython compiles a call with more than 30 arguments as ``f(*args)``, which Numba's
#: inlining pass refuses; such stage functions are left to LLVM's inliner instead.
_MAX_INLINE_ARGS = 30


def _jit_helper(fn):
    many = fn.__code__.co_argcount > _MAX_INLINE_ARGS
    return numba.njit(inline="never" if many else "always", **config.JIT_OPTIONS)(fn)


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
    reads_x: bool = False    # a stage's backward reads x_k: the forward keeps XP
    n_grad_rows: int = 0     # rows of G
    step: object = None      # one streaming step around forward (codegen.step_source)


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
        h.update(f"{_VERSION}|{numba.__version__}|{sys.version_info[:2]}|{sorted(config.JIT_OPTIONS.items())}".encode())
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
        modname = kernel_files.module_name("lstmlab_k", spec.name, digest)
        path = kernel_files.write_once(modname, src)
        mod = _load_module(str(path), modname)
        for k, (fw, bw) in enumerate(cpu):
            setattr(mod, f"f{k}", _jit_helper(fw))
            setattr(mod, f"bw{k}", _jit_helper(bw))
        # a helper left out of line (over _MAX_INLINE_ARGS arguments) lives in a generated module that
        # Numba's disk cache cannot re-import: such kernels are compiled in each process instead
        inline_all = all(f.__code__.co_argcount <= _MAX_INLINE_ARGS for pair in cpu for f in pair)
        opts = dict(config.JIT_OPTIONS, cache=config.CACHE and inline_all)
        fwd = numba.njit(**opts)(mod.forward)
        mod.forward = fwd  # step calls the compiled forward
        ker = Kernels(fwd, numba.njit(**opts)(mod.backward), src, str(path),
                      hostside.backward_reads_x(spec), hostside.n_grad_rows(spec), numba.njit(**opts)(mod.step))
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
    made_by: tuple = ()  # hostside.tape_signature of the forward that made it
    ZM: np.ndarray = None  # zoneout: the mask and the candidate states (None without zoneout)
    ZC: np.ndarray = None
    PM: list = None        # each product's input mask (None without recurrent dropout)
    SM: np.ndarray = None  # the per-step masks of a variant with step_masks (candidate dropout)


def forward(spec, params: dict, x: np.ndarray, state0: np.ndarray, lengths: np.ndarray, zoneout=None,
            recurrent_masks=None, step_masks=None):
    """Run one direction of one layer.

    x: (T, B, D); state0: (nstate, B, H); lengths: (B,) int64, 1 <= L <= T.
    zoneout: None, or the mask ``ZM`` (T, B, nstate*H): per step, row and
    state unit, 1 keeps the previous state and 0 takes the cell's new one
    (any value in [0, 1] mixes them; see :mod:`lstmlab.regularise`).
    recurrent_masks: None, or one mask (B, len(source)*H) per product,
    multiplying its input at every step (variational recurrent dropout).
    step_masks: for a variant declaring ``step_masks`` (and only then), the
    masks ``SM`` (T, B, nmask*H) its stages read as ``m_<name>``.
    The tape keeps the masks by reference: change them only after the backward.
    All float arrays share one dtype (float32 or float64), already validated.
    Returns ``(Y (T, B, H), final_state (nstate, B, H), tape)``.
    """
    hostside.check_forward(spec, params, x, state0, lengths)
    T, B, _ = x.shape
    nst, _, H = state0.shape
    dt = x.dtype
    zone = zoneout is not None
    if zone:
        hostside.check_zoneout(zoneout, T, B, nst * H, dt)
    PM = hostside.input_masks(spec, recurrent_masks, B, H, dt)
    SM = hostside.check_step_masks(spec, step_masks, T, B, H, dt)
    ker = kernels(spec)
    # the weights' transposes are views (F-ordered; BLAS reads them as they are): nothing is
    # re-laid-out per call, and an update in place is seen by the next call
    args = [x, params["W"].T, hostside.input_bias(spec, params, dt)]
    P, scratch = [], []
    for p, pm in zip(spec.products, PM):
        R = params[p.name]
        rb = hostside.product_bias(p, params, dt)
        # zeros: a product fed by a mid-step value is not written past a sequence's end
        Pp = workspace.zeros((T, B, len(p.source) * H), dt)
        P.append(Pp)
        A = workspace.empty((B, R.shape[0]), dt)
        scratch.append(A)
        args += [R.T, rb, Pp, A, pm]
    U = hostside.unit_matrix(spec, params, H, dt)
    Z = workspace.empty((T + 1, B, nst * H), dt)
    Z[0] = hostside.pack_state(state0)
    S = workspace.empty((T, B, len(spec.saved) * H), dt)
    Y = np.zeros((T, B, H), dt)
    # Most variants' backward never reads x_k: then the projection is computed
    # CHUNK_ROWS rows at a time into a small buffer and not kept.
    keep = ker.reads_x
    XP = workspace.empty((T if keep else min(T, max(1, -(-config.CHUNK_ROWS // B))), B, len(spec.inputs) * H), dt)
    # without zoneout the new states are Z[1:] and the mask is never read
    ZC = workspace.empty((T, B, nst * H), dt) if zone else Z[1:]
    ZM = zoneout if zone else no_mask(dt)
    _call(spec, ker.forward, *args, U, lengths, Z, S, Y, XP, ZM, ZC, *SM)
    if not keep:
        scratch.append(XP)
        XP = _NO_XP.setdefault(np.dtype(dt), np.zeros((1, 1, 1), dt))
    workspace.give(*scratch)
    final = hostside.unpack_state(Z[-1], nst, H)  # Z[T]: the kernel carries the state past each end
    return Y, final, Tape(x, params, lengths, XP, Z, S, P, hostside.tape_signature(spec, x, H), zoneout,
                          ZC if zone else None, PM if recurrent_masks is not None else None,
                          SM[0] if SM else None)


def backward(spec, tape: Tape, dY: np.ndarray, dstate: np.ndarray):
    """Exact BPTT for one direction of one layer.

    dY: (T, B, H) gradient of the outputs; dstate: (nstate, B, H) gradient of
    the final state. Returns ``(grads (dict like params), dx (T, B, D), dstate0)``.

    The time loop runs in chunks of about :data:`lstmlab.config.CHUNK_ROWS` / B steps, last
    chunk first, with the state gradient carried between them; each chunk's
    weight gradients are GEMMs over its steps. Gradient buffers are therefore
    chunk-sized, not sequence-sized.
    """
    zone = tape.ZM is not None
    ker = kernels(spec)
    hostside.check_backward(spec, tape, dY, dstate)
    x, params, L = tape.x, tape.params, tape.lengths
    T, B, D = x.shape
    H = dY.shape[2]
    dt = x.dtype
    C = min(T, max(1, -(-config.CHUNK_ROWS // B)))
    PM = tape.PM if tape.PM is not None else hostside.input_masks(spec, None, B, H, dt)
    G_ = len(spec.inputs)
    Rs = [params[p.name] for p in spec.products]
    dAs = [workspace.empty((C, B, R.shape[0]), dt) for R in Rs]
    Qs = [workspace.empty((B, R.shape[1]), dt) for R in Rs]
    dXP = workspace.empty((C, B, G_ * H), dt)
    U = hostside.unit_matrix(spec, params, H, dt)
    dU = np.zeros_like(U)
    G = np.zeros((ker.n_grad_rows, B, H), dt)
    # The state is carried unchanged past a sequence's end and the kernel passes
    # gradients through those steps, so the final-state gradient enters at T.
    Gn = np.array(dstate, dtype=dt, order="C", copy=True)
    reads_x = ker.reads_x
    grads = {}
    dx = np.empty((T, B, D), dt)
    for t1 in range(T, 0, -C):
        t0 = max(0, t1 - C)
        n = t1 - t0
        dXPc = dXP[:n]
        dXPc.fill(0)  # steps past a sequence's end must contribute nothing
        args = []
        for R, dA, Q, pm in zip(Rs, dAs, Qs, PM):
            dA[:n].fill(0)
            args += [R, dA[:n], Q, pm]
        XP = tape.XP[t0:t1] if reads_x else tape.XP
        _call(spec, ker.backward, XP, tape.Z[t0:t1 + 1], tape.S[t0:t1], *args, U, L - t0,
              dY[t0:t1], dXPc, dU, G, Gn, *((tape.ZM[t0:t1], tape.ZC[t0:t1]) if zone else
                                            (no_mask(dt), tape.Z[t0 + 1:t1 + 1])),
              *(() if tape.SM is None else (tape.SM[t0:t1],)))
        dXP2 = dXPc.reshape(n * B, -1)
        hostside.add_weight_grads(spec, grads, dXP2, x[t0:t1].reshape(n * B, D),
                                  [dA[:n].reshape(n * B, -1) for dA in dAs],
                                  [Pp[t0:t1].reshape(n * B, -1) for Pp in tape.P], blas.at_b, _colsum)
        dx[t0:t1] = blas.a_b(dXP2, params["W"]).reshape(n, B, D)
    hostside.set_unit_grads(spec, grads, dU)
    workspace.give(dXP, *dAs, *Qs)
    return grads, dx, Gn


_NO_XP: dict = {}  # a placeholder passed for XP when no backward reads it
_NO_MASK: dict = {}


def no_mask(dt) -> np.ndarray:
    """The zoneout mask passed without zoneout: no rows, so the kernels' zoneout pass never runs."""
    m = _NO_MASK.get(dt)
    if m is None:
        m = _NO_MASK[np.dtype(dt)] = np.zeros((0, 1, 1), dt)
    return m


def release(tape: Tape) -> None:
    """Give a tape's buffers back to the workspace; the tape is unusable afterwards."""
    workspace.give(tape.XP, tape.Z, tape.S, *tape.P)  # the 1-element XP placeholder is too small to pool
    if tape.ZC is not None:
        workspace.give(tape.ZC)
    tape.XP = tape.Z = tape.S = tape.ZM = tape.ZC = tape.PM = None
    tape.P = []


def _call(spec, kernel, *args):
    try:
        return kernel(*args)
    except numba.core.errors.TypingError as exc:
        first = str(exc).strip().splitlines()[0]
        raise VariantError(f"variant {spec.name!r} ({spec.cls.__qualname__}): its pointwise maths could not be "
                           f"compiled by Numba (use scalars, math and lstmlab.scalar only): {first}") from exc


def _colsum(a):
    return a.sum(axis=0)
