"""Interim speed comparison (until issue 5's `lstmlab bench` and asv suite).

float32 forward+backward medians of lstmlab's `lstm` and `peephole` against
torch.nn.LSTM, timed alternately in one process at the issue's anchor sizes,
after one warm-up call each (compilation stays outside the timing).
Threads: set OPENBLAS_NUM_THREADS before running (torch uses the same count):

    OPENBLAS_NUM_THREADS=1 python asv_benchmarks/quick_compare.py
"""
import os
import statistics
import time

import numpy as np
import torch

import lstmlab

SIZES = [(100, 32, 1, 128, 15), (50, 64, 512, 512, 7), (200, 1, 1, 8, 50)]  # T, B, D, H, repeats


def compare(T, B, D, H, repeats):
    x = np.random.default_rng(0).standard_normal((T, B, D)).astype(np.float32)
    xt = torch.tensor(x)
    mod = torch.nn.LSTM(D, H)

    def ours(layer):
        def step():
            y, _, ctx = layer.forward(x)
            layer.backward(ctx, np.ones_like(y))
        return step

    def theirs():
        out, _ = mod(xt)
        out.sum().backward()

    fns = {n: ours(lstmlab.RNN(n, D, H)) for n in ("lstm", "peephole")}
    fns["torch"] = theirs
    for f in fns.values():
        f()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[k].append((time.perf_counter() - t0) * 1e3)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"T={T} B={B} D={D} H={H}: " + ", ".join(f"{k} {v:.1f} ms" for k, v in med.items())
          + f" | torch/lstm {med['torch'] / med['lstm']:.2f}, torch/peephole {med['torch'] / med['peephole']:.2f}")


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("OPENBLAS_NUM_THREADS", "1")))
    for size in SIZES:
        compare(*size)
