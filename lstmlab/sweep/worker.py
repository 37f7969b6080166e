"""What one worker does for one run: train it (resuming) and return its record.

This function is what a process pool or a Dask worker executes, so it takes
and returns plain JSON-able data, and it is importable by name.
"""
from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path

import numpy as np

from ..training import NonFiniteError, TrainConfig, train
from ..training.records import CHECKPOINT, METRICS, versions

#: Sequences of the fixed batch the gradient-by-lag diagnostic is measured on.
DIAGNOSTIC_BATCH = 32


def execute_run(spec: dict) -> dict:
    """Train ``spec["config"]`` in ``spec["run_dir"]`` (resuming any checkpoint); return its record.

    The record: run_id, status ("done" or "failed"), label, config, seed,
    versions, curve (held-out records), train_curve ([step, loss] pairs),
    final (held-out figures and baseline), solved, train_seconds,
    steps_per_second, resumed_from, host, skipped (updates skipped as non-finite), grad_by_lag (``{"init": [...],
    "final": [...]}``: :func:`lstmlab.diagnostics.model_gradient_by_lag` of
    the initial and the trained model on one fixed batch); ``error`` when failed.
    """
    logging.getLogger("lstmlab").setLevel(logging.WARNING)
    cfg = TrainConfig.from_dict(spec["config"])
    run_dir = Path(spec["run_dir"])
    base = {"run_id": spec["run_id"], "label": spec.get("label", cfg.variant), "config": cfg.to_dict(),
            "seed": cfg.seed, "versions": versions(), "host": socket.gethostname(),
            "pid": os.getpid()}
    try:
        res = train(cfg, run_dir, resume=True, progress=False)
    except NonFiniteError as exc:
        return {**base, "status": "failed", "error": str(exc), **_curves(run_dir)}
    task = cfg.make_task()
    return {**base, "status": "done", **_curves(run_dir), "final": res.final, "solved": bool(task.is_solved(res.final)),
            "train_seconds": res.train_seconds, "steps_per_second": res.steps_per_second,
            "resumed_from": res.resumed_from, "skipped": res.skipped,
            "grad_by_lag": _diagnostic_or_none(cfg, run_dir)}


def _diagnostic_or_none(cfg, run_dir):
    """The diagnostic, or None when it cannot be made (a finished run whose checkpoint was removed):
    a missing figure must not lose the run's record."""
    try:
        return gradient_by_lag_record(cfg, run_dir)
    except (OSError, ValueError, KeyError) as exc:
        logging.getLogger(__name__).warning("%s: no gradient-by-lag diagnostic (%s)", run_dir, exc)
        return None


def gradient_by_lag_record(cfg: TrainConfig, run_dir: Path) -> dict:
    """The gradient-by-lag curves of ``cfg``'s model at initialisation and as trained in ``run_dir``.

    The initial model is rebuilt from the seed (the same parameters the run
    started from); the batch is drawn from its own stream, the same for every arm.
    """
    from ..diagnostics import model_gradient_by_lag
    from ..training.loop import _Run
    run = _Run(cfg)
    batch = run.task.batch(np.random.default_rng([cfg.seed, 7]), DIAGNOSTIC_BATCH)
    init = model_gradient_by_lag(run.model, batch)
    run.restore(run_dir / CHECKPOINT)
    final = model_gradient_by_lag(run.model, batch)
    return {"init": [float(f"{v:.4g}") for v in init], "final": [float(f"{v:.4g}") for v in final]}


def _curves(run_dir: Path) -> dict:
    curve, train_curve = [], []
    path = run_dir / METRICS
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if r.get("kind") == "eval":
                curve.append({k: v for k, v in r.items() if k != "kind"})
            elif r.get("kind") == "train":
                train_curve.append([r["step"], r["loss"]])
    return {"curve": curve, "train_curve": train_curve}
