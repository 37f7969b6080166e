"""Timing primitives shared by ``lstmlab bench`` and ``asv_benchmarks``.

Candidates are timed round-robin (A, B, C, A, B, C, ...) after one untimed
warm-up call each, so compilation never enters a timing and slow drifts of
the machine (frequency, other load) hit every candidate alike. Medians are
reported; a turn is a block of calls (see :func:`alternate`).
"""
from __future__ import annotations

import statistics
import time

import numpy as np

from .. import blas
from ..registry import get_spec

#: The anchor sizes (T, B, D, H) the project tracks, plus PyTorch fastrnns' default.
ANCHOR_SIZES = [(100, 32, 1, 128), (100, 64, 2, 128), (200, 32, 10, 128), (100, 32, 128, 256),
                (50, 64, 512, 512), (1000, 16, 2, 64), (200, 1, 1, 8)]
FASTRNNS_SIZE = (100, 64, 512, 512)
QUICK_SIZES = [(100, 32, 1, 128), (200, 1, 1, 8)]
#: Seconds of back-to-back calls per candidate and turn in :func:`alternate`.
BLOCK_S = 0.02


def forward_flops(variant: str, T: int, B: int, D: int, H: int) -> float:
    """Multiply-add FLOPs (2 per MAC) of one forward: input projection and recurrent products."""
    spec = get_spec(variant)
    macs = B * D * len(spec.inputs) * H
    for p in spec.products:
        macs += B * len(p.targets) * H * len(p.source) * H
    return 2.0 * T * macs


def train_flops(variant: str, T: int, B: int, D: int, H: int) -> float:
    """FLOPs of forward + backward: the backward does two products per forward one (dW and dx)."""
    return 3.0 * forward_flops(variant, T, B, D, H)


def alternate(cases: dict, repeats: int, budget_s: float | None = None) -> dict:
    """Median seconds per call of each zero-argument callable in ``cases``, timed in turn.

    Each turn is a block of back-to-back calls lasting about :data:`BLOCK_S` (one call for slow
    sizes), as a training loop calls its model: timed one call at a time between the other candidates,
    a call of under a millisecond ran on caches the others had just evicted (measured: lstm at
    (200, 1, 1, 8) 0.60 ms per call against 0.19-0.25 ms in blocks; torch.nn.LSTM 0.96 against 0.68-0.94,
    in ``lstmlab bench`` runs before and after).

    ``budget_s`` stops early (after at least 3 rounds) once the rounds have
    taken that long, for slow sizes.
    """
    calls = {}
    for k, fn in cases.items():
        fn()  # warm-up: compile, fill caches
        t0 = time.perf_counter()
        fn()
        calls[k] = max(1, min(1000, int(BLOCK_S / max(time.perf_counter() - t0, 1e-7))))
    times = {k: [] for k in cases}
    start = time.perf_counter()
    for r in range(repeats):
        for k, fn in cases.items():
            n = calls[k]
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            times[k].append((time.perf_counter() - t0) / n)
        if budget_s is not None and r >= 2 and time.perf_counter() - start > budget_s:
            break
    return {k: statistics.median(v) for k, v in times.items()}


def gemm_peak(n: int = 2048, repeats: int = 5) -> float:
    """Measured SGEMM GFLOP/s of an n x n x n product through lstmlab's BLAS (Numba's)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    t = alternate({"gemm": lambda: blas.a_b(a, b)}, repeats)["gemm"]
    return 2.0 * n ** 3 / t / 1e9


def lstmlab_step(variant: str, T: int, B: int, D: int, H: int, dtype=np.float32, seed: int = 0,
                 recompute=None, forward_only=False, **layer_kw):
    """A callable running forward + backward (or only forward) of one ``lstmlab.RNN`` layer on fixed data."""
    from ..layer import RNN

    layer = RNN(variant, D, H, dtype=dtype, seed=seed, **layer_kw)
    x = np.random.default_rng(seed).standard_normal((T, B, D)).astype(dtype)
    dy = np.ones((T, B, layer.output_size), dtype)

    def step():
        y, _, ctx = layer.forward(x, recompute=recompute)
        if not forward_only:
            layer.backward(ctx, dy)

    return step


def torch_module_step(variant: str, T: int, B: int, D: int, H: int, seed: int = 0):
    """A callable running forward + backward of the variant as a ``lstmlab.torch`` module on fixed data."""
    import torch

    from ..torch import Recurrent
    torch.manual_seed(seed)
    m = Recurrent(variant, D, H)
    x = torch.from_numpy(np.random.default_rng(seed).standard_normal((T, B, D)).astype(np.float32))

    def step():
        y, _ = m(x)
        y.backward(torch.ones_like(y))

    return step


def torch_function_floor(variant: str, T: int, B: int, D: int, H: int, seed: int = 0):
    """A callable doing what torch itself costs the ``lstmlab.torch`` module per call, with no work inside:
    a ``torch.autograd.Function`` taking the input and the module's parameters and returning the
    output and final state (made beforehand), then ``y.backward(ones)`` handing back ready gradients, which
    torch accumulates into each parameter's ``.grad``. The module's overhead over lstmlab's own path can
    only be judged against this floor.
    """
    import torch

    from ..torch import Recurrent
    torch.manual_seed(seed)
    params = list(Recurrent(variant, D, H).parameters())
    x = torch.zeros((T, B, D))
    n_state = len(get_spec(variant).state)
    outs = (torch.zeros((T, B, H)),) + tuple(torch.zeros((1, B, H)) for _ in range(n_state))
    grads = (torch.zeros_like(x),) + tuple(torch.zeros_like(p) for p in params)

    class Floor(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, *ps):
            return outs

        @staticmethod
        def backward(ctx, *g):
            return grads

    def step():
        y = Floor.apply(x, *params)[0]
        y.backward(torch.ones_like(y))

    return step
