"""Command line of a reproduction: ``lstmlab repro NAME``, or a script of your own through :func:`script_main`."""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from pathlib import Path

from ..argtypes import positive_int, positive_seconds
from ..training.records import versions
from .base import INVOCATIONS, check_budget
from .registry import available, get_reproduction  # noqa: F401 - still importable from here


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true",
                   help="the quick budget: a few minutes on a 2-core laptop (default: the paper's budget)")
    p.add_argument("--results", default=None, help="results folder (default results/NAME-BUDGET)")
    p.add_argument("--seeds", type=int, default=None, help="seeds per cell (default: the reproduction's)")
    p.add_argument("--steps", type=int, default=None, help="override every run's training steps")
    p.add_argument("--arms", default=None, metavar="A,B",
                   help="run only these arms (labels, comma-separated; default all)")
    p.add_argument("--T", dest="only_T", default=None, metavar="T1,T2",
                   help="run only these sequence lengths / delays (comma-separated; default all)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="local worker processes, at least 1 (default: one per core)")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="run the grid on this Dask distributed scheduler instead of locally; the results "
                        "folder must be on a filesystem every worker sees")
    p.add_argument("--timeout", type=positive_seconds, default=10.0,
                   help="seconds to wait for the scheduler, > 0 (default 10)")
    p.add_argument("--no-estimate", action="store_true", help="skip the up-front time estimate")
    p.add_argument("--dry-run", action="store_true",
                   help="print the grid's size and its expected time (measured here), run nothing, write nothing")


def select(configs, arms: str | None, Ts: str | None, name: str, budget: str) -> list:
    """The configs of the arms and T asked for; an arm or T the grid does not define is a ValueError."""
    have_arms = list(dict.fromkeys(c.extra.get("label", c.variant) for c in configs))
    have_T = sorted({c.T for c in configs})
    if arms is not None:
        want = [a.strip() for a in arms.split(",") if a.strip()]
        bad = [a for a in want if a not in have_arms]
        if bad or not want:
            raise ValueError(f"--arms: {name} ({budget}) defines arms {have_arms}, got {arms!r}")
        configs = [c for c in configs if c.extra.get("label", c.variant) in want]
    if Ts is not None:
        try:
            want_T = [int(t) for t in Ts.split(",") if t.strip()]
        except ValueError:
            raise ValueError(f"--T: expected comma-separated integers from {have_T}, got {Ts!r}") from None
        bad = [t for t in want_T if t not in have_T]
        if bad or not want_T:
            raise ValueError(f"--T: {name} ({budget}) defines T {have_T}, got {Ts!r}")
        configs = [c for c in configs if c.T in want_T]
    return configs


def run(repro, args, command: str) -> int:
    from ..sweep import DaskExecutor, LocalExecutor, load_records, run_sweep
    from .report import write_report
    budget = check_budget("quick" if args.quick else "paper")
    seeds = args.seeds if args.seeds is not None else repro.default_seeds[budget]
    if not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"--seeds: expected a positive integer, got {seeds!r}")
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps: expected a positive integer, got {args.steps}")
    configs = select(repro.configs(budget, seeds), args.arms, args.only_T, repro.name, budget)
    if args.steps is not None:
        configs = [dataclasses.replace(c, steps=args.steps, eval_every=min(c.eval_every, args.steps),
                                       warmup=0) for c in configs]
    results = args.results or f"results/{repro.name}-{budget}"
    if Path(results).exists() and not Path(results).is_dir():  # refused before a dry run's estimate too
        from ..training.checkpoint import storage_error
        raise storage_error(results, FileExistsError(17, "File exists"))
    description = (f"budget={budget} seeds={seeds}" + (f" steps={args.steps}" if args.steps else "")
                   + (f" arms={args.arms}" if args.arms else "") + (f" T={args.only_T}" if args.only_T else ""))
    if args.dry_run:
        from ..sweep.sweep import _fmt, estimate_seconds, specs_for
        pool = LocalExecutor(args.workers)
        workers = pool.workers
        specs = specs_for(configs, Path(results).resolve())
        done = load_records(Path(results)) if Path(results).is_dir() else {}
        todo = [s for s in specs if s["run_id"] not in done]   # a resumed grid runs only what is left
        steps = sum(s["config"]["steps"] for s in todo)
        left = f", {len(specs) - len(todo)} already recorded" if done else ""
        if not todo:
            print(f"{repro.name} ({description}): {len(specs)} runs{left}; nothing left to run")
            return 0
        secs, shapes = estimate_seconds(todo, workers, pool.threads)
        print(f"{repro.name} ({description}): {len(specs)} runs{left}, {len(todo)} to run, {steps} training steps, "
              f"{len(shapes)} shapes; expected time about {_fmt(secs)} on {workers} local workers")
        return 0
    if args.scheduler:
        executor = DaskExecutor(args.scheduler, timeout=args.timeout).connect()
    else:
        executor = LocalExecutor(args.workers)
    from ..training.records import MetricsLog
    before = len(load_records(Path(results))) if Path(results).is_dir() else 0
    ran, timing = 0, {}
    t0, started = time.perf_counter(), time.strftime("%Y-%m-%dT%H:%M:%S")
    try:
        records = run_sweep(repro.name, description, configs, results, executor, estimate=not args.no_estimate,
                            timing=timing)
    finally:
        if hasattr(executor, "close"):
            executor.close()
        if Path(results).is_dir():   # kept even when interrupted: the summary sums the invocations
            ran = len(load_records(Path(results))) - before
            MetricsLog(Path(results) / INVOCATIONS).append(
                {"started": started, "seconds": round(time.perf_counter() - t0, 1), "runs_recorded": ran,
                 "command": command, **timing})
    if (Path(results) / "runs").is_dir():  # analyses of the runs' checkpoints; a re-render reads what they wrote
        repro.prepare(records, Path(results))
    # an invocation that ran nothing (a re-render) does not report its own few seconds as the wall time
    md = write_report(repro, records, results, budget=budget, command=command, versions=versions(),
                      wall_seconds=time.perf_counter() - t0 if ran else None)
    print(md.split("## Plots")[0].rstrip())
    print(f"\nwritten: {results}/summary.md, summary.csv, runs.jsonl and plots")
    return 1 if any(r["status"] != "done" for r in records) else 0


def script_main(repro, argv=None) -> int:
    """The command line of a reproduction run as a script of its own: ``python my_repro.py [--quick] ...``."""
    p = argparse.ArgumentParser(prog=f"{repro.name}.py", description=f"{repro.title}. {repro.description}")
    add_arguments(p)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run(repro, args, " ".join(["python", *sys.argv]))
    except (ValueError, KeyError, ConnectionError, ImportError) as exc:
        print(f"{repro.name}: error: {exc}", file=sys.stderr)
        return 2
