"""Where a layer's per-direction work runs: the backend protocol and its implementations.

A :class:`Backend` runs one direction of one layer:

``forward(spec, params, x, state0, lengths, zoneout=None, recurrent_masks=None) -> (Y, final_state, tape)``
    x (T, B, D), state0 (nstate, B, H), lengths (B,) int64; NumPy in and out;
    zoneout: None or the mask (T, B, nstate*H) of :func:`lstmlab.regularise.zone_mask`;
    recurrent_masks: None or one (B, len(source)*H) mask per product.
``backward(spec, tape, dY, dstate) -> (grads, dx, dstate0)``
    exact BPTT from the tape its own forward returned.
``release(tape)``
    give the tape's buffers back; the tape is unusable afterwards.

:class:`RNN <lstmlab.RNN>` picks one with :func:`select` and records it in
the context of each forward, so a backward always runs on the backend that
made the tape. A new backend (a torch bridge, a streaming runner) implements
these three methods.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from . import engine, recompute

__all__ = ["Backend", "CPU", "Recompute", "CUDA", "select"]


class Backend(Protocol):
    name: str

    def forward(self, spec, params, x, state0, lengths, zoneout=None, recurrent_masks=None, step_masks=None): ...

    def backward(self, spec, tape, dY, dstate): ...

    def release(self, tape) -> None: ...


class CPU:
    """The Numba kernels of :mod:`lstmlab.engine`; the tape holds every step."""
    name = "cpu"

    def forward(self, spec, params, x, state0, lengths, zoneout=None, recurrent_masks=None, step_masks=None):
        return engine.forward(spec, params, x, state0, lengths, zoneout, recurrent_masks, step_masks)

    def backward(self, spec, tape, dY, dstate):
        return engine.backward(spec, tape, dY, dstate)

    def release(self, tape) -> None:
        engine.release(tape)


@dataclass(frozen=True)
class Recompute:
    """Checkpointed BPTT on the CPU (:mod:`lstmlab.recompute`): states every ``K`` steps."""
    K: int
    name = "cpu-recompute"

    def forward(self, spec, params, x, state0, lengths, zoneout=None, recurrent_masks=None, step_masks=None):
        return recompute.forward(spec, params, x, state0, lengths, K=self.K, zoneout=zoneout,
                                 recurrent_masks=recurrent_masks, step_masks=step_masks)

    def backward(self, spec, tape, dY, dstate):
        return recompute.backward(spec, tape, dY, dstate)

    def release(self, tape) -> None:
        recompute.release(tape)


@dataclass(frozen=True)
class CUDA:
    """The numba.cuda kernels of :mod:`lstmlab.cuda.engine`; the tape stays on the device.

    ``kernels``: "step" or "persistent" (see :class:`lstmlab.RNN`). ``resident``: device arrays
    out (a stack kept on the GPU), else NumPy.
    """
    kernels: str = "step"
    resident: bool = False
    name = "cuda"

    def forward(self, spec, params, x, state0, lengths, zoneout=None, recurrent_masks=None, step_masks=None):
        from .cuda import engine as cuda_engine
        return cuda_engine.forward(spec, params, x, state0, lengths, kernels_mode=self.kernels, zoneout=zoneout,
                                   recurrent_masks=recurrent_masks, step_masks=step_masks, device_out=self.resident)

    def backward(self, spec, tape, dY, dstate):
        from .cuda import engine as cuda_engine
        return cuda_engine.backward(spec, tape, dY, dstate, device_out=self.resident)

    def release(self, tape) -> None:
        from .cuda import engine as cuda_engine
        cuda_engine.release(tape)


def select(device: str, cuda_kernels: str = "step") -> Backend:
    """The backend for ``device`` ("cpu" or "cuda"); checks CUDA can run before anything imports it."""
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device: expected 'cpu' or 'cuda', got {device!r}")
    if cuda_kernels not in ("step", "persistent"):
        raise ValueError(f"cuda_kernels: expected 'step' or 'persistent', got {cuda_kernels!r}")
    if device == "cuda":
        from .cuda import require
        require()  # says what is missing, numba-cuda or a GPU
        return CUDA(cuda_kernels)
    return CPU()
