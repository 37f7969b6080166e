"""``lstmlab bench``: lstmlab against PyTorch, in one process, alternating.

For each thread count, the GEMM peak is measured first (SGEMM 2048^3 through
the BLAS lstmlab uses), then for each size and variant lstmlab and its PyTorch
baselines are timed round-robin (forward + backward of a sum loss, float32,
medians). Baselines:

* ``lstm``: torch.nn.LSTM; ``gru``: torch.nn.GRU;
* every variant: the same cell written per step in PyTorch (eager) and, with
  ``--compile``, under torch.compile; ``peephole`` also as torch.jit.script.

Speed-up = baseline median / lstmlab median (> 1: lstmlab is faster). With
torch installed, the same variant as a ``lstmlab.torch`` module is timed in the
same rounds (its overhead over lstmlab's own path; it is not a baseline).
``--stream`` times one streaming step at B = 1 instead (:func:`run_stream`).
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

#: The lstmlab.torch module's case name (timed beside lstmlab, not a baseline).
MODULE = "lstmlab.torch module"
#: torch's own cost per call of such a module (an autograd.Function doing nothing; not a baseline).
FLOOR = "torch autograd floor"


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
                if against == "torch":
                    cases[MODULE] = timing.torch_module_step(v, *size)
                    cases[FLOOR] = timing.torch_function_floor(v, *size)
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
                base = {k: t for k, t in med.items() if k not in ("lstmlab", MODULE, FLOOR)}
                best = min(base, key=base.get) if base else None
                row = dict(threads=n, variant=v, size=size, ms=med["lstmlab"] * 1e3, gflops=gflops,
                           peak=peaks[n], pct_peak=100 * gflops / peaks[n],
                           per_flop_vs_lstm=(per_flop / lstm_rate) if lstm_rate else None,
                           baselines={k: t * 1e3 for k, t in base.items()},
                           best=best, speedup=(base[best] / med["lstmlab"]) if best else None,
                           module_ms=med[MODULE] * 1e3 if MODULE in med else None,
                           floor_ms=med[FLOOR] * 1e3 if FLOOR in med else None)
                rows.append(row)
                echo(_line(row))
    return rows, peaks


def _line(r):
    T, B, D, H = r["size"]
    s = (f"  {r['variant']:9s} T={T} B={B} D={D} H={H}: lstmlab {r['ms']:.2f} ms "
         f"({r['gflops']:.1f} GFLOP/s, {r['pct_peak']:.0f}% of peak)")
    for k, v in r["baselines"].items():
        s += f" | {k} {v:.2f} ms ({v / r['ms']:.2f}x)"
    if r.get("module_ms"):
        s += f" | {MODULE} {r['module_ms']:.2f} ms (+{r['module_ms'] - r['ms']:.3f} ms)"
    if r.get("floor_ms"):
        s += f" | {FLOOR} {r['floor_ms']:.3f} ms"
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
             "Float32, forward + backward of a sum loss, medians of alternating turns (each a block of "
             "back-to-back calls of about 20 ms, one call for slow sizes). "
             "Speed-up = best baseline time / lstmlab time.", "",
             "| threads | variant | T, B, D, H | lstmlab ms | GFLOP/s (% of SGEMM peak) | time/FLOP vs lstm "
             "| baselines, ms | speed-up vs best | lstmlab.torch module ms (over lstmlab; torch's own floor) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        base = "; ".join(f"{k} {v:.2f}" for k, v in r["baselines"].items()) or "-"
        rel = f"{r['per_flop_vs_lstm']:.2f}" if r["per_flop_vs_lstm"] else "-"
        sp = f"**{r['speedup']:.2f}x** ({r['best']})" if r["speedup"] else "-"
        mod = (f"{r['module_ms']:.2f} (+{1e3 * (r['module_ms'] - r['ms']):.0f} us" if r.get("module_ms")
               else "-")
        if r.get("module_ms"):
            mod += f"; floor {1e3 * r['floor_ms']:.0f} us)" if r.get("floor_ms") else ")"
        lines.append(f"| {r['threads']} | {r['variant']} | {', '.join(map(str, r['size']))} | {r['ms']:.2f} | "
                     f"{r['gflops']:.1f} ({r['pct_peak']:.0f}%) | {rel} | {base} | {sp} | {mod} |")
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


def run_stream(variants, hiddens, threads, against="torch", repeats=7, budget_s=20.0, echo=_echo):
    """One streaming step at B = 1, D = 1: ``layer.stream().step(x_t)`` against torch called per step.

    Baselines (no autograd): ``torch.nn.LSTMCell`` / ``GRUCell`` and ``nn.LSTM`` / ``nn.GRU`` called
    with T = 1 and the state carried. Returns rows of medians in microseconds per step.
    """
    import numpy as np

    from ..layer import RNN
    rows = []
    for n in threads:
        set_num_threads(n)
        if against == "torch":
            import torch
            torch.set_num_threads(n)
        for v in variants:
            for H in hiddens:
                s = RNN(v, 1, H).stream(batch=1)
                x = np.ones((1, 1), np.float32)
                cases = {"lstmlab stream.step": lambda s=s, x=x: s.step(x)}
                if against == "torch" and v in ("lstm", "gru"):
                    cases.update(_torch_stream(torch, v, H))
                # many calls per timing: one step is microseconds
                med = timing.alternate({k: _repeat(f, 200) for k, f in cases.items()}, repeats, budget_s)
                row = dict(threads=n, variant=v, H=H, us={k: t / 200 * 1e6 for k, t in med.items()})
                rows.append(row)
                echo(f"  {v} B=1 H={H} ({n} thread(s)): " + " | ".join(f"{k} {t:.1f} us" for k, t in row["us"].items()))
    return rows


def _repeat(f, k):
    def run():
        for _ in range(k):
            f()
    return run


def _torch_stream(torch, variant, H):
    cell = (torch.nn.LSTMCell if variant == "lstm" else torch.nn.GRUCell)(1, H)
    seq = (torch.nn.LSTM if variant == "lstm" else torch.nn.GRU)(1, H)
    x2, x3 = torch.ones(1, 1), torch.ones(1, 1, 1)
    box = {"cell": None, "seq": None}

    def by_cell():
        with torch.no_grad():
            box["cell"] = cell(x2, box["cell"])

    def by_seq():
        with torch.no_grad():
            box["seq"] = seq(x3, box["seq"])[1]

    return {f"torch.nn.{variant.upper()}Cell": by_cell, f"torch.nn.{variant.upper()} per step": by_seq}


def stream_markdown(rows, command: str) -> str:
    lines = [f"Command: `{command}`  ", "One step at B = 1, D = 1, float32, no autograd; microseconds per step "
             "(medians of alternating rounds of 200 steps).", "",
             "| threads | variant | H | lstmlab stream.step | torch, per step |", "|---|---|---|---|---|"]
    for r in rows:
        ours = r["us"]["lstmlab stream.step"]
        theirs = "; ".join(f"{k} {t:.1f} ({t / ours:.1f}x)" for k, t in r["us"].items() if k != "lstmlab stream.step")
        lines.append(f"| {r['threads']} | {r['variant']} | {r['H']} | {ours:.1f} | {theirs or '-'} |")
    return "\n".join(lines) + "\n"
