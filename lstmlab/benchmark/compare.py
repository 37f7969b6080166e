"""``lstmlab bench``: lstmlab against PyTorch, in one process, alternating.

For each thread count, the GEMM peak is measured first (SGEMM 2048^3 through
the BLAS lstmlab uses), then for each size and variant lstmlab and its PyTorch
baselines are timed round-robin (forward + backward of a sum loss, float32,
medians). Baselines:

* ``lstm``: torch.nn.LSTM; ``gru``: torch.nn.GRU;
* every variant: the same cell written per step in PyTorch (eager) and, with
  ``--compile``, under torch.compile; ``peephole`` also as torch.jit.script.

Speed-up = baseline median / lstmlab median (> 1: lstmlab is faster).
"""
from __future__ import annotations

import datetime
import os
import platform
import sys

from .. import __version__
from ..config import set_num_threads
from ..registry import names
from . import timing


def _baselines(variant, size, against, compile_):
    if against != "torch":
        return {}
    from . import torch_cells as tc

    T, B, D, H = size
    out = {}
    if variant in ("lstm", "gru"):
        out[f"torch.nn.{variant.upper()}"] = tc.nn_module(variant, T, B, D, H)
    out["torch eager cell"] = tc.generic_cell(variant, T, B, D, H)
    if variant == "peephole":
        out["torch.jit.script cell"] = tc.peephole_script(T, B, D, H)
        if compile_:
            out["torch.compile cell"] = tc.peephole_compiled(T, B, D, H)
    elif compile_:
        out["torch.compile cell"] = tc.generic_cell(variant, T, B, D, H, compiled=True)
    return out


def _echo(text):
    print(text, flush=True)


def run(variants, sizes, threads, against="torch", compile_=False, repeats=7, budget_s=30.0, echo=_echo):
    """Measure; returns (rows, peaks). Each row is a dict (see :func:`markdown`)."""
    if against == "torch":
        from .torch_cells import _torch
        torch = _torch()
    rows, peaks = [], {}
    for n in threads:
        set_num_threads(n)
        if against == "torch":
            torch.set_num_threads(n)
        peaks[n] = timing.gemm_peak()
        echo(f"threads={n}: SGEMM 2048^3 peak {peaks[n]:.1f} GFLOP/s")
        for size in sizes:
            lstm_rate = None
            for v in variants:
                cases = {"lstmlab": timing.lstmlab_step(v, *size)}
                for k, fn in _baselines(v, size, against, compile_).items():
                    try:
                        fn()  # a baseline that cannot run here is reported, not fatal
                    except Exception as exc:  # noqa: BLE001
                        echo(f"  {v} {k}: unavailable ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})")
                        continue
                    cases[k] = fn
                med = timing.alternate(cases, repeats, budget_s)
                flops = timing.train_flops(v, *size)
                gflops = flops / med["lstmlab"] / 1e9
                per_flop = med["lstmlab"] / flops
                if v == "lstm":
                    lstm_rate = per_flop
                base = {k: t for k, t in med.items() if k != "lstmlab"}
                best = min(base, key=base.get) if base else None
                row = dict(threads=n, variant=v, size=size, ms=med["lstmlab"] * 1e3, gflops=gflops,
                           peak=peaks[n], pct_peak=100 * gflops / peaks[n],
                           per_flop_vs_lstm=(per_flop / lstm_rate) if lstm_rate else None,
                           baselines={k: t * 1e3 for k, t in base.items()},
                           best=best, speedup=(base[best] / med["lstmlab"]) if best else None)
                rows.append(row)
                echo(_line(row))
    return rows, peaks


def _line(r):
    T, B, D, H = r["size"]
    s = (f"  {r['variant']:9s} T={T} B={B} D={D} H={H}: lstmlab {r['ms']:.2f} ms "
         f"({r['gflops']:.1f} GFLOP/s, {r['pct_peak']:.0f}% of peak)")
    for k, v in r["baselines"].items():
        s += f" | {k} {v:.2f} ms ({v / r['ms']:.2f}x)"
    return s


def markdown(rows, peaks, command: str) -> str:
    """The results as a Markdown section with the command and the machine."""
    import numba
    import numpy

    lines = [f"Command: `{command}`  ",
             f"Date: {datetime.date.today().isoformat()}; lstmlab {__version__}, numba {numba.__version__}, "
             f"numpy {numpy.__version__}" + _torch_version() + "  ",
             f"Machine: {platform.machine()} {_cpu_name()}, {os.cpu_count()} logical CPUs, Python "
             f"{platform.python_version()}  ",
             "Float32, forward + backward of a sum loss, medians of alternating runs. "
             "Speed-up = best baseline time / lstmlab time.", "",
             "| threads | variant | T, B, D, H | lstmlab ms | GFLOP/s (% of SGEMM peak) | time/FLOP vs lstm "
             "| baselines, ms | speed-up vs best |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        base = "; ".join(f"{k} {v:.2f}" for k, v in r["baselines"].items()) or "-"
        rel = f"{r['per_flop_vs_lstm']:.2f}" if r["per_flop_vs_lstm"] else "-"
        sp = f"**{r['speedup']:.2f}x** ({r['best']})" if r["speedup"] else "-"
        lines.append(f"| {r['threads']} | {r['variant']} | {', '.join(map(str, r['size']))} | {r['ms']:.2f} | "
                     f"{r['gflops']:.1f} ({r['pct_peak']:.0f}%) | {rel} | {base} | {sp} |")
    lines.append("")
    lines.append("SGEMM peak (2048^3, same run): " + ", ".join(f"{n} thread(s) {p:.1f} GFLOP/s"
                                                              for n, p in peaks.items()))
    return "\n".join(lines) + "\n"


def _torch_version():
    mod = sys.modules.get("torch")
    return f", torch {mod.__version__}" if mod is not None else ""


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def parse_sizes(text: str):
    """'100,32,1,128;200,1,1,8' -> [(100, 32, 1, 128), (200, 1, 1, 8)]; 'anchors', 'quick', 'fastrnns'."""
    named = {"anchors": timing.ANCHOR_SIZES, "quick": timing.QUICK_SIZES, "fastrnns": [timing.FASTRNNS_SIZE]}
    out = []
    for part in text.split(";"):
        part = part.strip()
        if part in named:
            out += named[part]
            continue
        try:
            size = tuple(int(v) for v in part.split(","))
        except ValueError:
            size = ()
        if len(size) != 4 or min(size) < 1:
            raise ValueError(f"--sizes: expected 'T,B,D,H' groups of positive ints separated by ';' "
                             f"(or anchors / quick / fastrnns), got {part!r}")
        out.append(size)
    return out


def parse_variants(text: str):
    out = []
    for part in text.split(","):
        got = names(part.strip())
        if not got:
            from ..registry import get
            get(part.strip())  # raises with close-match suggestions
        out += [g for g in got if g not in out]
    return out


def parse_threads(text: str):
    try:
        vals = [int(v) for v in text.split(",")]
    except ValueError:
        vals = []
    if not vals or min(vals) < 1:
        raise ValueError(f"--threads: expected positive ints separated by commas, got {text!r}")
    return vals
