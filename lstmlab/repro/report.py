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
from .base import ALPHA, INVOCATIONS, fmt_loss, group_records

_log = logging.getLogger(__name__)


def _colour(plt, i: int, n: int):
    """The i-th of n arms' colour: matplotlib's 10-colour cycle, or tab20 when there are more arms
    than that (a 14-arm grid would otherwise draw two arms in each of four colours)."""
    return f"C{i}" if n <= 10 else plt.get_cmap("tab20")(i % 20)


def write_report(repro, records, folder, *, budget: str, command: str, versions: dict, wall_seconds=None):
    """Write summary.md, summary.csv and the plots into ``folder``; return the Markdown."""
    folder = Path(folder)
    repro.folder = folder
    groups = group_records(records, repro.beats_at)
    plots = _plots(groups, folder, repro)
    md = _markdown(repro, groups, budget, command, versions, wall_seconds, plots, folder)
    atomic_write_text(folder / "summary.md", md)
    atomic_write_text(folder / "summary.csv", _csv(groups))
    return md


def _recording_invocations(folder: Path) -> list:
    from ..training.records import MetricsLog
    return [r for r in MetricsLog(folder / INVOCATIONS).records() if r.get("runs_recorded")]


def _invocations(folder: Path) -> tuple[float, int]:
    """Seconds and count of the invocations that recorded runs in ``folder`` (re-renders add none)."""
    recs = _recording_invocations(folder)
    return sum(float(r.get("seconds", 0.0)) for r in recs), len(recs)


def _markdown(repro, groups, budget, command, versions, wall, plots, folder) -> str:
    lines = [f"# {repro.title}", ""]
    note = repro.budget_note(budget)
    if note:
        lines += [f"> **{budget} budget:** {note}", ""]
    total, n = _invocations(folder)
    cmds = list(dict.fromkeys(r["command"] for r in _recording_invocations(folder) if r.get("command")))
    ran_by = "".join(f"; runs made by `{c}`" for c in cmds if c != command)
    lines += [repro.description.strip(), "",
             f"- paper: {repro.paper}", f"- budget: `{budget}`; command: `{command}`{ran_by}",
             f"- lstmlab {versions.get('lstmlab')}, numba {versions.get('numba')}, numpy {versions.get('numpy')}, "
             f"Python {versions.get('python')} on {versions.get('machine')}"]
    if n:
        lines.append(f"- wall time: {total / 60:.1f} min over {n} invocation{'s' if n > 1 else ''} that "
                     f"recorded runs" + (f" (this one: {wall / 60:.1f} min)" if wall is not None else ""))
    elif wall is not None:
        lines.append(f"- wall time of this invocation: {wall / 60:.1f} min")
    # only invocations that ran everything they estimated (an interrupted one estimated runs it did not finish)
    timed = [r for r in _recording_invocations(folder) if r.get("estimate_seconds") and r.get("runs_seconds")
             and r.get("runs_to_run", r["runs_recorded"]) == r["runs_recorded"]]
    if timed:
        est, took = sum(r["estimate_seconds"] for r in timed), sum(r["runs_seconds"] for r in timed)
        lines.append(f"- estimate printed before the runs: {est / 60:.1f} min; the runs then took {took / 60:.1f} min "
                     f"({took / est:.2f}x the estimate; measuring it and writing this report come on top)")
    failed = [r for g in groups.values() for r in g.records if r["status"] != "done"]
    train_s = sum(r.get("train_seconds") or 0.0 for g in groups.values() for r in g.done)
    if train_s:
        lines.append(f"- training time summed over runs: {train_s / 3600:.2f} h of one worker")
    lines += ["", "## Final held-out loss", "",
              "| task | T | arm | seeds | final loss (mean ± sd) | median | median ÷ baseline | beats | solved "
              "| baseline | steps/s |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for g in groups.values():
        lines.append(f"| {g.task} | {g.T} | {g.label} | {len(g.done)}/{len(g.records)} | {fmt_loss(g)} | "
                     f"{g.median:.4g} | {g.median_ratio:.3g} | {g.beats}/{len(g.done)} | {g.solved}/{len(g.done)} "
                     f"| {g.baseline:.4g} | {g.steps_per_second:.1f} |")
    rule = ", ".join(f"{t}: below {f}x" for t, f in sorted({(g.task, g.beats_at) for g in groups.values()}))
    lines += ["", f"A seed *beats* the memoryless baseline when its final loss ends below a fraction of it ({rule}"
              f"{'; ' + repro.beats_rule if repro.beats_rule else ''}); an arm "
              f"beats it when more than half of its seeds do (\"beats\" counts them). Outcomes on these tasks are "
              f"often bimodal (a seed leaves the plateau or does not), so arms are compared by a two-sided exact "
              f"rank test on final loss (Wilcoxon-Mann-Whitney, so one diverged seed counts as the worst seed, "
              f"not as an outlier that moves a mean): below p = {ALPHA} they differ, otherwise \"within noise\" "
              f"(Fisher's exact p on the beating counts is shown beside it, for information). Solved: "
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
    skipping = [r for g in groups.values() for r in g.done if r.get("skipped")]
    if skipping:
        lines += ["", "## Runs that skipped non-finite updates", ""] + [
            f"- `{r['run_id']}`: {r['skipped']} of {r['config']['steps']} updates skipped (loss or gradient "
            f"NaN/Inf); final loss {r['final']['loss']:.4g}" for r in skipping]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


def _solved_rule(g) -> str:
    from ..tasks import get_task
    return f"{g.task}: {get_task(g.task).solved_rule}"


def _csv(groups) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["task", "T", "arm", "seeds_done", "seeds", "final_loss_mean", "final_loss_sd", "final_loss_median",
                "ratio_to_baseline", "median_ratio_to_baseline", "beats", "baseline", "solved", "steps_per_second"])
    for g in groups.values():
        w.writerow([g.task, g.T, g.label, len(g.done), len(g.records), f"{g.mean:.6g}", f"{g.std:.6g}",
                    f"{g.median:.6g}", f"{g.ratio:.6g}", f"{g.median_ratio:.6g}", g.beats, f"{g.baseline:.6g}",
                    g.solved, f"{g.steps_per_second:.3f}"])
    return buf.getvalue()


def _plots(groups, folder: Path, repro=None) -> list[str]:
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
            color = _colour(plt, i, len(gs))
            curves = [np.array([[p["step"], p["loss"]] for p in r["curve"]]) for r in g.records if r.get("curve")]
            n = min((len(c) for c in curves), default=0)
            if not n:
                continue
            steps, Y = curves[0][:n, 0], np.array([c[:n, 1] for c in curves])
            if len(curves) > 1:  # the spread over seeds: min to max, shaded
                ax.fill_between(steps, Y.min(axis=0), Y.max(axis=0), color=color, alpha=0.18, lw=0)
            ax.plot(steps, np.median(Y, axis=0), color=color, lw=1.8,
                    label=f"{g.label} (median of {len(curves)})" if len(curves) > 1 else g.label)
        base = next((g.baseline for g in gs if g.done), None)
        if base is not None and math.isfinite(base):
            ax.axhline(base, color="black", ls="--", lw=1.2, label="memoryless baseline")
        names.append(_finish(plt, fig, ax, folder / f"curves-{task}-T{T}.png", "training step", "held-out loss",
                             f"{task}, T = {T}"))
    names += _gradient_plots(plt, cells, folder)
    labels = list(dict.fromkeys(g.label for g in groups.values()))
    cols = list(cells)
    if len(labels) > 1 or len(cols) > 1:
        M = np.full((len(labels), len(cols)), np.nan)
        for g in groups.values():
            if g.done:
                M[labels.index(g.label), cols.index((g.task, g.T))] = g.median_ratio
        fig, ax = plt.subplots(figsize=(1.1 * len(cols) + 2.5, 0.42 * len(labels) + 1.6))
        logm = np.log10(np.clip(M, 1e-4, None))
        im = ax.imshow(logm, cmap="RdYlGn_r", vmin=-3, vmax=0.5, aspect="auto")
        for i in range(len(labels)):
            for j in range(len(cols)):
                if np.isfinite(M[i, j]):
                    ax.text(j, i, f"{M[i, j]:.2g}", ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(cols)), [f"{t}\nT={T}" for t, T in cols], fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        fig.colorbar(im, ax=ax, label="log10(median final loss / baseline)")
        ax.set_title("median final held-out loss over seeds, relative to the baseline")
        fig.tight_layout()
        _save(fig, folder / "heatmap.png")
        plt.close(fig)
        names.append("heatmap.png")
    if repro is not None:
        names += repro.extra_plots(groups, folder, plt)
    return names


def _gradient_plots(plt, cells, folder: Path) -> list[str]:
    """Gradient norm by lag at initialisation (dashed) and after training (solid), per (task, T)."""
    names = []
    for (task, T), gs in cells.items():
        have = [g for g in gs if any(r.get("grad_by_lag") for r in g.done)]
        if not have:
            continue
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        for i, g in enumerate(gs):
            if g not in have:
                continue
            color = _colour(plt, i, len(gs))
            for when, ls in (("init", "--"), ("final", "-")):
                rows = [np.asarray(r["grad_by_lag"][when], float) for r in g.done if r.get("grad_by_lag")]
                n = min(len(v) for v in rows)
                med = np.median(np.array([v[:n] for v in rows]), axis=0)
                ax.plot(np.arange(n), np.clip(med, 1e-30, None), color=color, ls=ls, lw=1.5,
                        label=f"{g.label}, {'at initialisation' if when == 'init' else 'trained'}")
        names.append(_finish(plt, fig, ax, folder / f"gradient-{task}-T{T}.png",
                             "lag k (steps back from the last step)",
                             "|d loss(last step) / d x_(last - k)|  (0 drawn at 1e-30)",
                             f"gradient reaching the input k steps back: {task}, T = {T}"))
    return names


def _finish(plt, fig, ax, path: Path, xlabel: str, ylabel: str, title: str) -> str:
    """Log-scale y, labels, legend; save atomically and close; return the file name."""
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path.name


def _save(fig, path: Path):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    atomic_write_bytes(path, buf.getvalue())
