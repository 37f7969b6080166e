"""A short demo of the core: forward and backward of a variant over a long
sequence, its gradcheck, and its speed (next to torch.nn.LSTM when torch is
installed). Run ``python -m lstmlab.demo --help``.
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time

import numpy as np


def _median_ms(fn, repeats):
    fn()  # warm-up (compilation) stays outside the timing
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lstmlab.demo", description=__doc__.split("\n\n")[0])
    ap.add_argument("--variant", default="peephole", help="registered variant name (default: peephole)")
    ap.add_argument("--seq-len", type=int, default=1000, help="T of the long sequence (default 1000)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--input-size", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats; the median is shown")
    args = ap.parse_args(argv)
    for name in ("seq_len", "batch", "input_size", "hidden", "repeats"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')}: expected a positive integer, got {getattr(args, name)}")

    import lstmlab
    try:
        cls = lstmlab.get(args.variant)
    except lstmlab.UnknownVariantError as exc:
        ap.error(str(exc))
    T, B, D, H = args.seq_len, args.batch, args.input_size, args.hidden
    print(f"lstmlab {lstmlab.__version__}: variant {args.variant!r} - {cls.reference}")
    layer = lstmlab.RNN(args.variant, D, H, dtype=np.float32, seed=0)
    x = np.random.default_rng(0).standard_normal((T, B, D)).astype(np.float32)
    t0 = time.perf_counter()
    y, state, ctx = layer.forward(x)
    grads, dx, ds0 = layer.backward(ctx, np.ones_like(y))
    print(f"first forward+backward (includes compilation unless cached): {time.perf_counter() - t0:.2f} s")
    gnorm = np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads.values()))
    print(f"T={T} B={B} D={D} H={H}: y {y.shape}, |grad| = {gnorm:.4g}, "
          f"|d state0| = {float(np.abs(ds0[0]).sum()):.4g}")
    rep = lstmlab.gradcheck(args.variant)
    print(rep)

    def step():
        yy, _, c = layer.forward(x)
        layer.backward(c, np.ones_like(yy))

    ms = _median_ms(step, args.repeats)
    print(f"lstmlab {args.variant:>10s} forward+backward: median {ms:8.2f} ms over {args.repeats} runs")
    if importlib.util.find_spec("torch") is None:
        print("torch is not installed: no comparison with torch.nn.LSTM (pip install torch==2.13.0)")
    else:
        import torch
        mod = torch.nn.LSTM(D, H)
        xt = torch.tensor(x)

        def tstep():
            out, _ = mod(xt)
            out.sum().backward()

        tms = _median_ms(tstep, args.repeats)
        print(f"torch.nn.LSTM        forward+backward: median {tms:8.2f} ms  "
              f"(ratio torch/lstmlab {tms / ms:.2f}; torch threads {torch.get_num_threads()})")
    return 0 if rep.passed else 1


if __name__ == "__main__":
    sys.exit(main())
