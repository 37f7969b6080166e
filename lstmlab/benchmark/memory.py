"""Peak memory of one training step, against the bytes BPTT must keep.

``must_keep_bytes`` counts, per step and sequence, every value the variant's
backward is declared to read (its saved values and its states, ``n_saved +
n_state`` vectors of H) plus the step's input, output and output gradient
(D + 2H): any implementation of exact BPTT holds at least these. The
measured peak is the growth of the process's resident memory during one
forward + backward (sampled every millisecond by a thread), after a warm-up
step at a small size has compiled the kernels.
"""
from __future__ import annotations

import os
import threading
import time

import numpy as np

from ..registry import get_spec

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def must_keep_bytes(variant: str, T: int, B: int, D: int, H: int, itemsize: int = 4) -> int:
    spec = get_spec(variant)
    per_step = (len(spec.saved) + len(spec.state)) * H + D + 2 * H
    return T * B * per_step * itemsize


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * _PAGE


class _Sampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self.stop = _rss(), False

    def run(self):
        while not self.stop:
            self.peak = max(self.peak, _rss())
            time.sleep(0.001)


def step_peak_bytes(variant: str, T: int, B: int, D: int, H: int, recompute=None, seed: int = 0):
    """(peak RSS growth in bytes, seconds) of one float32 forward + backward at this size.

    Linux only (reads /proc/self/statm). Run it in a fresh process for a
    clean baseline: ``python -m lstmlab.benchmark.memory VARIANT T B D H [K]``.
    """
    from ..layer import RNN

    layer = RNN(variant, D, H, seed=seed)
    xs = np.zeros((3, 2, D), np.float32)
    y, _, c = layer.forward(xs, recompute=recompute)
    layer.backward(c, np.ones_like(y))  # compile outside the measurement
    x = np.random.default_rng(seed).standard_normal((T, B, D)).astype(np.float32)
    dy = np.ones((T, B, H), np.float32)
    base = _rss()
    s = _Sampler()
    s.start()
    t0 = time.perf_counter()
    y, _, ctx = layer.forward(x, recompute=recompute)
    layer.backward(ctx, dy)
    secs = time.perf_counter() - t0
    s.stop = True
    s.join()
    s.peak = max(s.peak, _rss())
    # x and dy were allocated before the baseline: add them back in
    return s.peak - base + x.nbytes + dy.nbytes, secs


if __name__ == "__main__":
    import json
    import sys

    v, T, B, D, H = sys.argv[1], *map(int, sys.argv[2:6])
    K = int(sys.argv[6]) if len(sys.argv) > 6 else None
    peak, secs = step_peak_bytes(v, T, B, D, H, K)
    print(json.dumps(dict(variant=v, T=T, B=B, D=D, H=H, recompute=K, peak_bytes=peak, seconds=secs,
                          must_keep_bytes=must_keep_bytes(v, T, B, D, H))))
