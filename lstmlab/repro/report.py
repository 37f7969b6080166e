"""Tables (Markdown, CSV) and plots (PNG) of a reproduction's records.

Plots need matplotlib (``pip install 'lstmlab[repro]'``); without it the
tables are still written and a warning says what is missing.
"""
from __future__ import annotations

import csv
import io
import logging
import math
from pathlib import Path

import numpy as np

from ..training.checkpoint import atomic_write_bytes, atomic_write_text
from .base import BEATS, fmt_loss, group_records

_log = logging.getLogger(__name__)


def write_report(repro, records, folder, *, budget: str, command: str, versions: dict, wall_seconds=None):
    """Write summary.md, summary.csv and the plots into ``folder``; return the Markdown."""
    folder = Path(folder)
    groups = group_records(records)
    plots = _plots(groups, folder)
    md = _markdown(repro, groups, budget, command, versions, wall_seconds, plots)
    atomic_write_text(folder / "summary.md", md)
    atomic_write_text(folder / "summary.csv", _csv(groups))
    return md


def _markdown(repro, groups, budget, command, versions, wall, plots) -> str:
    lines = [f"# {repro.title}", "", repro.description.strip(), "",
             f"- paper: {repro.paper}", f"- budget: `{budget}`; command: `{command}`",
             f"- lstmlab {versions.get('lstmlab')}, numba {versions.get('numba')}, numpy {versions.get('numpy')}, "
             f"Python {versions.get('python')} on {versions.get('machine')}"]
    if wall is not None:
        lines.append(f"- wall time of this invocation: {wall / 60:.1f} min")
    failed = [r for g in groups.values() for r in g.records if r["status"] != "done"]
    lines += ["", "## Final held-out loss", "",
              "| task | T | arm | seeds | final loss | ÷ baseline | baseline | solved | steps/s |",
              "|---|---|---|---|---|---|---|---|---|"]
    for g in groups.values():
        lines.append(f"| {g.task} | {g.T} | {g.label} | {len(g.done)}/{len(g.records)} | {fmt_loss(g)} | "
                     f"{g.ratio:.3g} | {g.baseline:.4g} | {g.solved}/{len(g.done)} | {g.steps_per_second:.1f} |")
    lines += ["", f"\"÷ baseline\" below {BEATS} counts as beating the memoryless baseline. Solved: "
              + "; ".join(sorted({_solved_rule(g) for g in groups.values()})) + "."]
    claims = repro.claims(groups)
    if claims:
        lines += ["", "## Against the paper", "", "| the paper reports | our runs show |", "|---|---|"]
        lines += [f"| {a} | {b} |" for a, b in claims]
    extra = repro.sections(groups)
    if extra:
        lines += [""] + extra
    if failed:
        lines += ["", "## Failed runs", ""] + [f"- `{r['run_id']}`: {r.get('error')}" for r in failed]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


def _solved_rule(g) -> str:
    from ..tasks import get_task
    return f"{g.task}: {get_task(g.task).solved_rule}"


def _csv(groups) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["task", "T", "arm", "seeds_done", "seeds", "final_loss_mean", "final_loss_sd", "ratio_to_baseline",
                "baseline", "solved", "steps_per_second"])
    for g in groups.values():
        w.writerow([g.task, g.T, g.label, len(g.done), len(g.records), f"{g.mean:.6g}", f"{g.std:.6g}",
                    f"{g.ratio:.6g}", f"{g.baseline:.6g}", g.solved, f"{g.steps_per_second:.3f}"])
    return buf.getvalue()


def _plots(groups, folder: Path) -> list[str]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        _log.warning("matplotlib is not installed: tables written, plots skipped (pip install 'lstmlab[repro]')")
        return []
    names = []
    cells = {}
    for g in groups.values():
        cells.setdefault((g.task, g.T), []).append(g)
    for (task, T), gs in cells.items():
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        for i, g in enumerate(gs):
            color = f"C{i % 10}"
            curves = [np.array([[p["step"], p["loss"]] for p in r["curve"]]) for r in g.records if r.get("curve")]
            for c in curves:
                ax.plot(c[:, 0], c[:, 1], color=color, alpha=0.25, lw=0.8)
            n = min((len(c) for c in curves), default=0)
            if n:
                mean = np.mean([c[:n, 1] for c in curves], axis=0)
                ax.plot(curves[0][:n, 0], mean, color=color, lw=1.8, label=g.label)
        base = next((g.baseline for g in gs if g.done), None)
        if base is not None and math.isfinite(base):
            ax.axhline(base, color="black", ls="--", lw=1.2, label="memoryless baseline")
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel("held-out loss")
        ax.set_title(f"{task}, T = {T}")
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        name = f"curves-{task}-T{T}.png"
        _save(fig, folder / name)
        plt.close(fig)
        names.append(name)
    labels = list(dict.fromkeys(g.label for g in groups.values()))
    cols = list(cells)
    if len(labels) > 1 or len(cols) > 1:
        M = np.full((len(labels), len(cols)), np.nan)
        for g in groups.values():
            if g.done:
                M[labels.index(g.label), cols.index((g.task, g.T))] = g.ratio
        fig, ax = plt.subplots(figsize=(1.1 * len(cols) + 2.5, 0.42 * len(labels) + 1.6))
        logm = np.log10(np.clip(M, 1e-4, None))
        im = ax.imshow(logm, cmap="RdYlGn_r", vmin=-3, vmax=0.5, aspect="auto")
        for i in range(len(labels)):
            for j in range(len(cols)):
                if np.isfinite(M[i, j]):
                    ax.text(j, i, f"{M[i, j]:.2g}", ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(cols)), [f"{t}\nT={T}" for t, T in cols], fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        fig.colorbar(im, ax=ax, label="log10(final loss / baseline)")
        ax.set_title("final held-out loss relative to the baseline")
        fig.tight_layout()
        _save(fig, folder / "heatmap.png")
        plt.close(fig)
        names.append("heatmap.png")
    return names


def _save(fig, path: Path):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    atomic_write_bytes(path, buf.getvalue())
