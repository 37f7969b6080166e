"""Sweeps and reproductions: local pool, resume, refusal to mix, reports, a real Dask cluster."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from lstmlab.repro import Reproduction, available, write_report
from lstmlab.sweep import DaskExecutor, LocalExecutor, SchedulerUnreachable, SweepMismatch, load_records, run_sweep
from lstmlab.training import TrainConfig
from lstmlab.training.records import versions


def grid(steps=40, seeds=(0, 1), variants=("lstm", "gru"), **kw):
    base = dict(task="adding", T=10, hidden=8, optimizer="adam", lr=1e-2, batch_size=8, steps=steps,
                eval_every=10, eval_size=32, checkpoint_every=10)
    base.update(kw)
    return [TrainConfig(variant=v, seed=s, extra={"label": v}, **base) for v in variants for s in seeds]


class Tiny(Reproduction):
    name, title, paper, description = "tiny", "Tiny", "none", "a test grid"

    def configs(self, budget, seeds):
        return grid()

    def claims(self, groups):
        return [("lstm beats the baseline", self.fmt_T(
            [g for g in groups.values() if g.label == "lstm"], lambda g: g.beats_baseline))]


def test_reproductions_are_registered_with_both_budgets():
    repros = available()
    assert set(repros) == {"arjovsky2016", "greff2017", "hochreiter1997", "le2015", "linzen2016", "regularisers",
                           "tallec2018"}
    for r in repros.values():
        for budget in ("quick", "paper"):
            cfgs = r.configs(budget, 1)
            assert cfgs and all(c.validate() for c in cfgs)
        assert r.budget_note("quick"), f"{r.name}: every quick budget says what it can and cannot show"
    greff = {c.variant for c in repros["greff2017"].configs("quick", 1)}
    assert {"peephole", "nig", "nfg", "nog", "niaf", "noaf", "np", "cifg", "fgr", "lstm", "gru", "janet",
            "mgu", "rnn"} == greff
    arj = repros["arjovsky2016"].configs("paper", 1)
    # the paper's sizes: about 6,500 parameters per model on copy, 128 units on adding
    assert sorted({(c.task, c.variant, c.hidden) for c in arj}) == [
        ("adding", "irnn", 128), ("adding", "lstm", 128), ("adding", "rnn", 128),
        ("copy", "irnn", 80), ("copy", "lstm", 40), ("copy", "rnn", 80)]
    assert sorted({(c.task, c.T) for c in arj}) == [("adding", T) for T in (100, 200, 400, 750)] + [
        ("copy", T) for T in (100, 200, 300, 500)]
    assert all(c.optimizer == "rmsprop" and c.lr == 1e-3 and c.decay == 0.9 and c.clip == 1
               and c.clip_mode == "value" for c in arj)
    le = repros["le2015"].configs("paper", 1)
    assert sorted({(c.T, c.variant, c.hidden) for c in le}) == [
        (T, v, 100) for T in (150, 200, 300, 400) for v in ("irnn", "lstm", "rnn")]
    hoch = {c.extra["label"] for c in repros["hochreiter1997"].configs("paper", 1)}
    assert hoch == {"nfg", "lstm", "lstm-chrono", "rnn"}
    reg = {(c.extra["label"], c.dropout, c.weight_drop, c.recurrent_dropout, str(c.validate().zoneout),
            c.layer_norm, c.recurrent_dropout_form == "semeniuta", c.task_options.get("permuted", False))
           for c in repros["regularisers"].configs("paper", 1)}
    zone = str({"h": 0.05, "c": 0.5})
    assert reg == {(f"lstm{a}{p}", d, w, r, z, ln, a == "+semeniuta_dropout", bool(p)) for p in ("", "/permuted")
                   for a, d, w, r, z, ln in (("", 0.0, 0.0, 0.0, "0.0", None), ("+dropout", 0.3, 0.0, 0.0, "0.0", None),
                                             ("+weight_drop", 0.0, 0.3, 0.0, "0.0", None),
                                             ("+recurrent_dropout", 0.0, 0.0, 0.3, "0.0", None),
                                             ("+semeniuta_dropout", 0.0, 0.0, 0.3, "0.0", None),
                                             ("+zoneout", 0.0, 0.0, 0.0, zone, None),
                                             ("+layer_norm", 0.0, 0.0, 0.0, "0.0", "xh+cell"))}
    # the arms added later keep the recorded runs' ids: the committed paper records still match the grid
    import json
    from pathlib import Path

    from lstmlab.sweep.sweep import specs_for
    ids = {s["run_id"] for s in specs_for(repros["regularisers"].configs("paper", 4), Path("unused"))}
    committed = Path(__file__).resolve().parents[1] / "paper_repro" / "results" / "regularisers-paper" / "runs.jsonl"
    if committed.exists():
        recorded = {json.loads(line)["run_id"] for line in committed.read_text().splitlines() if line.strip()}
        assert recorded <= ids
    # tallec2018's adding runs were added to a grid with committed copy records: those ids are kept
    tallec = {s["run_id"] for s in specs_for(repros["tallec2018"].configs("paper", 2), Path("unused"))}
    committed = committed.parents[1] / "tallec2018-paper" / "runs.jsonl"
    if committed.exists():
        recorded = {json.loads(line)["run_id"] for line in committed.read_text().splitlines() if line.strip()}
        assert recorded <= tallec
    assert sum(s.startswith("adding-T750") for s in tallec) == 8        # twice the copy's seeds, two arms


def test_dry_run_counts_only_what_is_left(capsys):
    from pathlib import Path

    from lstmlab.cli import main
    folder = Path(__file__).resolve().parents[1] / "paper_repro" / "results" / "arjovsky2016-paper"
    if not (folder / "runs.jsonl").exists():
        pytest.skip("no committed arjovsky2016 paper results in this checkout")
    assert main(["repro", "arjovsky2016", "--dry-run", "--results", str(folder)]) == 0
    assert "48 runs, 48 already recorded; nothing left to run" in capsys.readouterr().out


def test_local_sweep_skips_finished_resumes_unfinished_and_reports(tmp_path):
    lines = []
    ex = LocalExecutor(workers=2)
    recs = run_sweep("tiny", "d", grid(), tmp_path, ex, echo=lines.append)
    assert len(recs) == 4 and all(r["status"] == "done" for r in recs)
    assert any("expected time about" in x for x in lines)
    assert all(r["curve"][0]["step"] == 0 and r["curve"][-1]["step"] == 40 for r in recs)
    # unfinish two runs: drop their records and results, keep their checkpoints (at step 40)
    keep = recs[:2]
    (tmp_path / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in keep))
    for r in recs[2:]:
        (tmp_path / "runs" / r["run_id"] / "result.json").unlink()
    lines.clear()
    again = run_sweep("tiny", "d", grid(), tmp_path, ex, echo=lines.append)
    assert "2 already recorded, 2 to run" in lines[0]
    assert [r["run_id"] for r in again] == [r["run_id"] for r in recs]
    assert all(r["resumed_from"] == 40 for r in again[2:])
    assert [r["final"]["loss"] for r in again] == [r["final"]["loss"] for r in recs]
    md = write_report(Tiny(), again, tmp_path, budget="quick", command="test", versions=versions())
    assert "| adding | 10 | lstm | 2/2 |" in md and "lstm beats the baseline" in md
    assert (tmp_path / "summary.csv").read_text().count("\n") == 3
    assert (tmp_path / "heatmap.png").stat().st_size > 1000 and (tmp_path / "curves-adding-T10.png").exists()


def test_results_folder_of_another_configuration_is_refused(tmp_path):
    run_sweep("tiny", "budget=quick", grid(steps=10, seeds=(0,)), tmp_path, LocalExecutor(1), estimate=False,
              echo=lambda *_: None)
    with pytest.raises(SweepMismatch, match="it was made as 'budget=quick', this is 'budget=paper'"):
        run_sweep("tiny", "budget=paper", grid(steps=10, seeds=(0,)), tmp_path, LocalExecutor(1),
                  echo=lambda *_: None)
    with pytest.raises(SweepMismatch, match="2 of its runs are not in this grid"):
        run_sweep("tiny", "budget=quick", grid(steps=11, seeds=(0,)), tmp_path, LocalExecutor(1),
                  echo=lambda *_: None)
    with pytest.raises(SweepMismatch, match="it holds sweep 'tiny'"):
        run_sweep("other", "budget=quick", grid(steps=10, seeds=(0,)), tmp_path, LocalExecutor(1),
                  echo=lambda *_: None)


def test_a_grid_given_new_runs_grows_the_folder_and_keeps_its_records(tmp_path):
    """A reproduction given a new arm resumes its folder: the recorded runs are kept, only the new ones run."""
    quiet = dict(estimate=False, echo=lambda *_: None)
    first = run_sweep("tiny", "b", grid(steps=10, seeds=(0,), variants=("lstm",)), tmp_path, LocalExecutor(1), **quiet)
    lines = []
    both = run_sweep("tiny", "b", grid(steps=10, seeds=(0,)), tmp_path, LocalExecutor(1), estimate=False,
                     echo=lines.append)
    assert "1 already recorded, 1 to run" in lines[0]
    assert both[0]["final"] == first[0]["final"] and len(load_records(tmp_path)) == 2
    with pytest.raises(SweepMismatch, match="1 of its runs are not in this grid"):  # shrinking is still refused
        run_sweep("tiny", "b", grid(steps=10, seeds=(0,), variants=("gru",)), tmp_path, LocalExecutor(1), **quiet)


def test_unreachable_scheduler_fails_fast():
    t0 = time.time()
    with pytest.raises(SchedulerUnreachable, match="no Dask scheduler answered at tcp://127.0.0.1:9"):
        DaskExecutor("tcp://127.0.0.1:9", timeout=2).connect()
    assert time.time() - t0 < 15
    with pytest.raises(ValueError, match="scheduler: expected an address like tcp://HOST:PORT"):
        DaskExecutor("localhost")


def test_cli_repro_errors(capsys):
    from lstmlab.cli import main
    assert main(["repro", "arjovsky"]) == 2
    assert "did you mean 'arjovsky2016'" in capsys.readouterr().err
    assert main(["repro", "tallec2018", "--quick", "--scheduler", "tcp://127.0.0.1:9", "--timeout", "1"]) == 2
    assert "no Dask scheduler answered" in capsys.readouterr().err
    assert main(["repro", "arjovsky2016", "--arms", "lstm,urnn", "--dry-run"]) == 2
    assert "--arms: arjovsky2016 (paper) defines arms ['rnn', 'irnn', 'lstm'], got 'lstm,urnn'" in \
        capsys.readouterr().err
    assert main(["repro", "le2015", "--T", "150,1000", "--dry-run"]) == 2
    assert "--T: le2015 (paper) defines T [150, 200, 300, 400], got '150,1000'" in capsys.readouterr().err


def test_arms_and_T_select_part_of_a_grid():
    from lstmlab.repro.run import select
    cfgs = available()["le2015"].configs("paper", 2)
    part = select(cfgs, "irnn,rnn", "150", "le2015", "paper")
    assert sorted((c.variant, c.T, c.seed) for c in part) == [
        (v, 150, s) for v in ("irnn", "rnn") for s in (0, 1)]


# -- a real Dask cluster on loopback, one worker killed mid-sweep --------------------------
def _spawn(args, **kw):
    return subprocess.Popen([sys.executable, "-m", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, **kw)


def _kill(p):
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=30)


def test_dask_sweep_survives_a_killed_worker(tmp_path):
    pytest.importorskip("distributed")
    sched_file = tmp_path / "scheduler.json"
    procs = [_spawn(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(sched_file)])]
    try:
        deadline = time.time() + 60
        while not sched_file.exists() and time.time() < deadline:
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
        workers = [_spawn(["distributed.cli.dask_worker", address, "--nthreads", "1", "--no-nanny",
                           "--no-dashboard", "--host", "127.0.0.1"], env=env) for _ in range(2)]
        procs += workers
        ex = DaskExecutor(address, timeout=30).connect()
        while ex.workers < 2 and time.time() < deadline:
            time.sleep(0.1)
        assert ex.workers == 2
        results = tmp_path / "results"
        configs = grid(steps=600, seeds=(0, 1), T=30, hidden=16, checkpoint_every=25, eval_every=100)

        killed = {}

        def watch(line):
            # once both workers have runs under way with checkpoints, kill the first worker without warning
            if not killed and "to run" in line:
                t_end = time.time() + 120
                while time.time() < t_end:
                    started = [p for p in (results / "runs").glob("*/checkpoint.lstmlab")]
                    if len(started) >= 2:
                        break
                    time.sleep(0.05)
                _kill(workers[0])
                killed["at"] = time.time()
        # the watcher runs in a thread so the sweep proceeds while it waits
        import threading
        lines = []

        def echo(line):
            lines.append(line)
            if "to run" in line:
                threading.Thread(target=watch, args=(line,), daemon=True).start()
        recs = run_sweep("dask-test", "d", configs, results, ex, estimate=False, echo=echo)
        ex.close()
        assert killed, "the worker was never killed"
        assert len(recs) == 4 and all(r["status"] == "done" and r["config"]["steps"] == 600 for r in recs)
        assert any(r["resumed_from"] > 0 for r in recs), "no run resumed from its checkpoint"
        assert len(load_records(results)) == 4
        assert len({r["pid"] for r in recs}) >= 1
    finally:
        for p in procs:
            _kill(p)


@pytest.mark.parametrize("name", ["tallec2018", "hochreiter1997"])
def test_quick_reproduction_end_to_end(name, tmp_path):
    """The command from estimate to plots, every arm, one seed and fewer steps (the suite's time)."""
    out = tmp_path / name
    cut = ["--seeds", "1", "--steps", "100"]
    p = subprocess.run([sys.executable, "-m", "lstmlab", "repro", name, "--quick", "--results", str(out), *cut],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "expected time about" in p.stdout and "## Against the paper" in p.stdout
    for f in ("summary.md", "summary.csv", "runs.jsonl", "sweep.json", "heatmap.png"):
        assert (out / f).exists(), f
    assert list(out.glob("curves-*.png"))
    # the same command again does nothing new
    p = subprocess.run([sys.executable, "-m", "lstmlab", "repro", name, "--quick", "--results", str(out), *cut],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0 and "already recorded, 0 to run" in p.stdout
