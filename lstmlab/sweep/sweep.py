"""A sweep: a grid of independent training runs, executed anywhere, recorded as they finish.

Results folder layout::

    sweep.json        what the folder holds: the sweep's name, description and every run's configuration
    runs.jsonl        one record per finished run (see :func:`worker.execute_run`), appended as each ends
    runs/RUN_ID/      each run's own directory (checkpoints, metrics), so unfinished runs resume

Re-running the same sweep skips runs already in ``runs.jsonl`` and resumes
the others from their checkpoints. A folder made by a different sweep is
refused, with the differences named.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

import numpy as np

from ..training import TrainConfig
from ..training.checkpoint import atomic_write_text
from ..training.records import MetricsLog, make_folder, versions

_log = logging.getLogger(__name__)
MANIFEST, RECORDS, RUNS = "sweep.json", "runs.jsonl", "runs"


#: TrainConfig fields that did not exist when the first sweeps were recorded, and their defaults.
_ADDED_LATER = {"task_options": {}, "dropout": 0.0, "weight_drop": 0.0, "recurrent_dropout": 0.0, "zoneout": 0.0,
                "layer_norm": None, "proj_size": 0, "recurrent_dropout_form": "variational"}


class SweepMismatch(ValueError):
    pass


def _without_later_defaults(d: dict) -> dict:
    return {k: v for k, v in d.items() if not (k in _ADDED_LATER and v == _ADDED_LATER[k])}


def run_id(cfg: TrainConfig, label: str) -> str:
    """Readable and unique: task, T, label, seed and a hash of the whole configuration.

    Fields added after runs were first recorded are left out of the hash while
    they hold their defaults, so those runs keep their ids (and their sweeps resume).
    """
    d = _without_later_defaults(cfg.to_dict())
    digest = hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:8]
    return f"{cfg.task}-T{cfg.T}-{label}-s{cfg.seed}-{digest}"


def specs_for(configs, results: Path) -> list[dict]:
    out = []
    for cfg in configs:
        cfg.validate()
        label = cfg.extra.get("label", cfg.variant)
        rid = run_id(cfg, label)
        out.append({"run_id": rid, "label": label, "config": cfg.to_dict(), "run_dir": str(results / RUNS / rid)})
    ids = [s["run_id"] for s in out]
    if len(set(ids)) != len(ids):
        raise ValueError("configs: the grid holds duplicate runs")
    return out


def check_manifest(results: Path, name: str, description: str, specs: list[dict]) -> None:
    """Write the manifest of a new folder, or refuse a folder made by another sweep.

    A grid that holds every run of the folder's and more (a reproduction given
    new arms) grows the folder: its manifest is rewritten with the new runs,
    and the recorded runs are kept.
    """
    path = results / MANIFEST
    mine = {"name": name, "description": description, "runs": {s["run_id"]: s["config"] for s in specs}}
    if not path.exists():
        make_folder(results)
        atomic_write_text(path, json.dumps({**mine, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                            "versions": versions()}, indent=1, sort_keys=True) + "\n")
        return
    try:
        theirs = json.loads(path.read_text())
    except ValueError as exc:
        raise SweepMismatch(f"results: {path} is not valid JSON ({exc}); use another folder") from None
    why = []
    if theirs.get("name") != name:
        why.append(f"it holds sweep {theirs.get('name')!r}, this is {name!r}")
    if theirs.get("description") != description:
        why.append(f"it was made as {theirs.get('description')!r}, this is {description!r}")
    a, b = set(theirs.get("runs", {})), set(mine["runs"])
    same = all(_without_later_defaults(theirs["runs"][k]) == _without_later_defaults(mine["runs"][k])
               for k in a & b)
    if not why and a < b and same:
        _log.info("results: %s grows by %d runs (%d kept)", results, len(b - a), len(a))
        atomic_write_text(path, json.dumps({**theirs, "runs": mine["runs"]}, indent=1, sort_keys=True) + "\n")
        return
    if not same:
        why.append("runs of the same id have different configurations")
    if a != b:
        why.append(f"{len(a - b)} of its runs are not in this grid and {len(b - a)} of this grid's runs are not "
                   f"in it (e.g. {sorted(a ^ b)[0]!r})")
    if why:
        raise SweepMismatch(f"results: {results} was made with a different configuration, so results would mix: "
                            + "; ".join(why) + ". Use another folder (--results).")


def load_records(results: Path) -> dict:
    """run_id -> record, for every complete line of runs.jsonl."""
    return {r["run_id"]: r for r in MetricsLog(results / RECORDS).records() if "run_id" in r}


#: Config fields that do not change what one update, evaluation or checkpoint costs.
_COST_FREE = frozenset({"seed", "steps", "eval_every", "checkpoint_every", "log_every", "extra", "warmup", "lr",
                        "momentum", "nesterov", "decay", "beta1", "beta2", "eps", "clip", "clip_mode", "schedule",
                        "init", "forget_bias", "t_max", "recurrent_init", "recurrent_gain", "on_nonfinite"})

#: Measured on the project's 2-core machine (and assumed elsewhere): workers filling every
#: core each run this much slower than one alone (shared caches, memory bandwidth and clock);
#: the estimate multiplies by it when the pool fills the machine.
CONTENTION = 1.25


def estimate_seconds(specs: list[dict], workers: int, threads: int = 1) -> tuple[float, dict]:
    """Expected wall time of ``specs`` on ``workers`` workers of ``threads`` BLAS threads each.

    Each distinct shape is measured here with the workers' thread count, after
    one warm-up update (which compiles the variant, filling the on-disk cache
    the workers then use): the median of 5 updates and one held-out evaluation,
    in this process's CPU time with one thread (so that other work on the
    machine does not inflate it; wall time with several), one checkpoint, and
    each run's fixed cost (its set-up and the gradient-by-lag diagnostic the
    worker measures twice), which dominates grids of runs of a few seconds.
    Runs are then packed onto the workers longest first, so a grid with a few
    long runs is not estimated as if it split evenly.
    """
    import os

    cores = os.cpu_count() or 1
    if workers * threads > cores:  # more workers than cores share them: no more run at once than the cores
        _log.warning("%d workers x %d thread(s) on %d cores: they share the cores; the estimate counts %d at once",
                     workers, threads, cores, max(1, cores // threads))
        workers = max(1, cores // threads)
    costs, per_shape = measure_costs(specs, threads)
    return pack(costs, workers, threads), per_shape


def measure_costs(specs: list[dict], threads: int = 1) -> tuple[list, dict]:
    """Seconds each run of ``specs`` costs one worker (see :func:`estimate_seconds`), and each shape's update."""
    per_shape, costs = {}, []
    # the measured updates of a cell that blows up are skipped, not news: no warning per update here
    loop_log = logging.getLogger("lstmlab.training.loop")
    level = loop_log.level
    loop_log.setLevel(logging.ERROR)
    try:
        _measure(specs, threads, per_shape, costs)
    finally:
        loop_log.setLevel(level)
    return costs, {k: v[0] for k, v in per_shape.items()}


def _measure(specs, threads, per_shape, costs) -> None:
    import tempfile

    import scipy.linalg  # noqa: F401 - load the BLAS the kernels call before limiting its threads
    from threadpoolctl import threadpool_limits

    from ..diagnostics import model_gradient_by_lag
    from ..training.loop import _Run, evaluate
    from .worker import DIAGNOSTIC_BATCH
    # CPU time ignores other work on the machine but adds up every thread: with several
    # BLAS threads per worker, wall time is the honest measure
    clock = time.process_time if threads <= 1 else time.perf_counter
    with threadpool_limits(limits=max(int(threads), 1)), tempfile.TemporaryDirectory() as tmp:
        for s in specs:
            c = s["config"]
            # every field that changes a step's cost (options such as layer norm or zoneout included);
            # the seed, the step count and the schedules of logs and checkpoints do not
            key = json.dumps({k: v for k, v in c.items() if k not in _COST_FREE}, sort_keys=True, default=str)
            if key not in per_shape:
                # a cell that blows up in its first steps must not stop the estimate: its updates cost the same
                cfg = TrainConfig.from_dict({**c, "steps": 10, "warmup": 0, "on_nonfinite": "skip"})
                run = _Run(cfg)
                run.update()
                # each run's fixed cost: its set-up, and the gradient-by-lag diagnostic the worker
                # measures at initialisation and after training (it dominates runs of a few seconds)
                t0 = clock()
                _Run(cfg)
                t_setup = clock() - t0
                batch = run.task.batch(np.random.default_rng([cfg.seed, 7]), DIAGNOSTIC_BATCH)
                t0 = clock()
                try:
                    model_gradient_by_lag(run.model, batch)
                except ValueError:   # the worker records no diagnostic where it cannot make one either
                    pass
                t_fixed = t_setup + 2 * (clock() - t0)
                times = []
                for _ in range(5):
                    t0 = clock()
                    run.update()
                    times.append(clock() - t0)
                heldout = run.task.heldout(cfg.eval_size, cfg.seed)
                t0 = clock()
                evaluate(run.model, heldout)
                t_eval = clock() - t0
                t0 = time.perf_counter()   # mostly I/O: wall time
                run.save(Path(tmp) / "estimate.ckpt")
                t_ckpt = time.perf_counter() - t0
                per_shape[key] = (float(np.median(times)), t_eval, t_ckpt, t_fixed)
            step, t_eval, t_ckpt, t_fixed = per_shape[key]
            evals = c["steps"] // c["eval_every"] + 2
            ckpts = c["steps"] // c["checkpoint_every"] + 1
            costs.append(step * c["steps"] + t_eval * evals + t_ckpt * ckpts + t_fixed)


def pack(costs: list, workers: int, threads: int = 1) -> float:
    """Wall time of runs costing ``costs`` seconds each, packed longest first onto ``workers`` workers."""
    import os
    cores = os.cpu_count() or 1
    slow = CONTENTION if min(workers, len(costs)) * max(int(threads), 1) >= cores > 1 else 1.0
    loads = [0.0] * max(workers, 1)
    for cost in sorted(costs, reverse=True):   # longest first onto the least loaded worker
        loads[loads.index(min(loads))] += cost
    return max(loads) * slow


def run_sweep(name: str, description: str, configs, results, executor, *, estimate: bool = True,
              echo=print, timing: dict | None = None) -> list[dict]:
    """Run every config not yet recorded in ``results``; return all records in grid order.

    ``timing``, when given, receives ``estimate_seconds`` (the expected time printed before the
    runs; absent without an estimate), ``runs_to_run`` (how many runs it covers) and
    ``runs_seconds`` (the finished runs' actual wall time), so that the estimate can be checked
    against what followed it.
    """
    timing = {} if timing is None else timing
    results = Path(results).resolve()   # workers may run elsewhere: absolute run directories
    specs = specs_for(configs, results)
    check_manifest(results, name, description, specs)
    done = load_records(results)
    todo = [s for s in specs if s["run_id"] not in done]
    echo(f"{name}: {len(specs)} runs, {len(specs) - len(todo)} already recorded, {len(todo)} to run "
         f"on a {executor.describe()}")
    if todo and estimate:
        secs, per_shape = estimate_seconds(todo, executor.workers, getattr(executor, "threads", 1))
        timing["estimate_seconds"], timing["runs_to_run"] = round(secs, 1), len(todo)
        echo(f"{name}: expected time about {_fmt(secs)} (measured {len(per_shape)} shapes here, "
             f"{min(per_shape.values()) * 1e3:.1f}-{max(per_shape.values()) * 1e3:.1f} ms per step)")
    t0 = time.perf_counter()
    log = MetricsLog(results / RECORDS)
    for i, rec in enumerate(executor.run(todo), 1):
        log.append(rec)   # the driver is the only writer: one line per finished run
        done[rec["run_id"]] = rec
        f = rec.get("final") or {}
        status = (f"loss {f['loss']:.4g} / baseline {f['baseline']:.4g}" if rec["status"] == "done"
                  else f"FAILED: {rec.get('error')}")
        if rec["status"] == "done" and isinstance(f.get("accuracy"), (int, float)):
            status += f", accuracy {f['accuracy']:.3f}"  # tasks whose result is an accuracy (agreement)
        echo(f"[{i}/{len(todo)} {_fmt(time.perf_counter() - t0)}] {rec['run_id']}: {status}")
        timing["runs_seconds"] = round(time.perf_counter() - t0, 1)
    return [done[s["run_id"]] for s in specs]


def _fmt(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
