"""The `lstmlab` command: listings, help, training, and resume after a kill."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from lstmlab.cli import main
from lstmlab.training import checkpoint as ckpt

TINY = ["--task", "adding", "-T", "8", "--hidden", "4", "--optimizer", "adam", "--lr", "0.01", "--batch-size",
        "4", "--eval-every", "25", "--eval-size", "16", "--log-every", "5", "--no-progress"]


def test_variants_lists_references(capsys):
    assert main(["variants"]) == 0
    out = capsys.readouterr().out
    assert "peephole" in out and "Greff et al. 2017" in out and "arXiv:1804.04849" in out
    assert "dropout" in out and "weight_drop" in out and "not indrnn" in out  # the options every variant takes
    assert "zoneout" in out
    assert main(["variants", "n*"]) == 0
    listed = capsys.readouterr().out.split("\n\n")[0]
    assert "lstm" not in listed and "nfg" in listed
    assert main(["variants", "zzz*"]) == 1


def test_tasks_lists_baselines(capsys):
    assert main(["tasks", "-T", "100"]) == 0
    out = capsys.readouterr().out
    assert "copy" in out and "0.173287" in out          # 10 ln 8 / 120
    assert "0.166667" in out and "adding1997" in out
    assert "options (--task-option NAME=VALUE): objective='lm', preamble=2" in out


def test_task_options_reach_the_run(tmp_path, capsys):
    out = str(tmp_path / "agr")
    assert main(["train", "--task", "agreement", "-T", "6", "--hidden", "4", "--steps", "2", "--eval-every", "2",
                 "--eval-size", "8", "--task-option", "objective=number", "--task-option", "preamble=0",
                 "--no-progress", "--out", out]) == 0
    import json
    cfg = json.loads((tmp_path / "agr" / "config.json").read_text())["config"]
    assert cfg["task_options"] == {"objective": "number", "preamble": 0}
    with pytest.raises(SystemExit) as e:
        main(["train", "--task-option", "novalue"])
    assert e.value.code == 2 and "expected NAME=VALUE, got 'novalue'" in capsys.readouterr().err


@pytest.mark.parametrize("cmd,words", [("train", "--resume"), ("variants", "glob"), ("tasks", "baseline")])
def test_help_stands_alone(cmd, words, capsys):
    with pytest.raises(SystemExit) as e:
        main([cmd, "--help"])
    assert e.value.code == 0
    assert words in capsys.readouterr().out


@pytest.mark.parametrize("argv,msg", [
    (["train", "--task", "copyy"], "did you mean 'copy'"),
    (["train", "--variant", "lstn"], "did you mean 'lstm'"),
    (["train", "--lr", "-1"], "lr: expected a finite learning rate"),
    (["train", "--task", "adding1997", "-T", "10"], "T: task 'adding1997' needs 24 <= T"),
    (["train", "--variant", "gru", "--recurrent-init", "identity"], "variant 'gru' is gated"),
    (["train", "--task", "agreement", "--task-option", "objectiv=lm"],
     "task_options: task 'agreement' has no option 'objectiv'; its options: objective"),
    (["train", "--task", "agreement", "--task-option", "attractor_rate=2"],
     "attractor_rate: expected a probability in [0, 1], got 2"),
])
def test_bad_arguments_exit_2(argv, msg, capsys, tmp_path):
    assert main(argv + ["--out", str(tmp_path / "x")]) == 2
    assert msg in capsys.readouterr().err


def test_bad_integer_argument(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--steps", "0"])
    assert e.value.code == 2 and "--steps: expected a positive integer, got 0" in capsys.readouterr().err


def test_train_then_resume_refusals(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["train", *TINY, "--steps", "20", "--out", out]) == 0
    text = capsys.readouterr().out
    assert "held-out loss" in text and "baseline 0.1667" in text and "steps/s" in text
    assert main(["train", *TINY, "--steps", "20", "--out", out]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert main(["train", *TINY, "--steps", "20", "--out", out, "--resume"]) == 0
    assert "already complete" in capsys.readouterr().out
    with open(os.path.join(out, "checkpoint.lstmlab"), "r+b") as fh:
        fh.truncate(50)
    os.remove(os.path.join(out, "result.json"))
    assert main(["train", *TINY, "--steps", "20", "--out", out, "--resume"]) == 2
    assert "checkpoint" in capsys.readouterr().err


# -- kills in a real process ----------------------------------------------------------
def _cli(args, env_extra=None, **kw):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.Popen([sys.executable, "-m", "lstmlab", "train", *TINY, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _final_params(out):
    arrays, meta = ckpt.load(os.path.join(out, "checkpoint.lstmlab"))
    return {k: v for k, v in arrays.items() if k.startswith("param/")}, meta


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("ref") / "run")
    p = _cli(["--steps", "300", "--checkpoint-every", "7", "--out", out])
    assert p.wait(timeout=120) == 0, p.stderr.read()
    return _final_params(out)


def _assert_same(reference_run, out):
    ref, meta_ref = reference_run
    got, meta = _final_params(out)
    assert meta["step"] == meta_ref["step"] == 300
    for k in ref:
        np.testing.assert_array_equal(got[k], ref[k], err_msg=k)


def test_kill_during_checkpoint_write_then_resume(tmp_path, reference_run):
    out = str(tmp_path / "run")
    p = _cli(["--steps", "300", "--checkpoint-every", "7", "--out", out],
             env_extra={"LSTMLAB_TEST_CRASH_IN_CHECKPOINT": "3"})
    assert p.wait(timeout=120) == -signal.SIGKILL
    # the crash left a half-written temporary and the previous checkpoint whole
    assert [f for f in os.listdir(out) if ".tmp-" in f]
    assert _final_params(out)[1]["step"] == 14
    p = _cli(["--steps", "300", "--checkpoint-every", "7", "--out", out, "--resume"])
    assert p.wait(timeout=120) == 0, p.stderr.read()
    assert not [f for f in os.listdir(out) if ".tmp-" in f]
    _assert_same(reference_run, out)


def test_kill_at_an_arbitrary_moment_then_resume(tmp_path, reference_run):
    out = str(tmp_path / "run")
    metrics = os.path.join(out, "metrics.jsonl")
    p = _cli(["--steps", "300", "--checkpoint-every", "7", "--out", out])
    deadline = time.time() + 60
    while time.time() < deadline:   # wait until training is under way, then kill without warning
        if os.path.exists(metrics) and sum(1 for _ in open(metrics)) >= 12:
            break
        time.sleep(0.005)
    p.send_signal(signal.SIGKILL)
    assert p.wait(timeout=30) == -signal.SIGKILL, "the run finished before it could be killed"
    assert sum(1 for _ in open(metrics)) < 60
    p = _cli(["--steps", "300", "--checkpoint-every", "7", "--out", out, "--resume"])
    assert p.wait(timeout=120) == 0, p.stderr.read()
    _assert_same(reference_run, out)
    steps = [json.loads(x)["step"] for x in open(metrics) if '"train"' in x]
    assert steps == list(range(5, 301, 5))    # no duplicated or missing records


def test_repro_help_names_the_registered_reproductions(capsys):
    from lstmlab.repro import REPRODUCTIONS, Reproduction
    from lstmlab.repro.registry import reproduction_names
    assert "le2015" in reproduction_names()

    @REPRODUCTIONS.register("tmp_paper")
    class TmpPaper(Reproduction):
        title, paper = "A temporary reproduction", "nobody 2000"

        def configs(self, budget, seeds):
            return []
    try:
        with pytest.raises(SystemExit):
            main(["repro", "--help"])
        out = capsys.readouterr().out
        assert "le2015" in out and "tmp_paper" in out
        assert main(["repro", "--list"]) == 0
        assert "tmp_paper: A temporary reproduction" in capsys.readouterr().out
    finally:
        REPRODUCTIONS.unregister("tmp_paper")


def test_kernels_prints_each_part(capsys):
    assert main(["kernels", "gru", "--part", "cpu", "--part", "maths"]) == 0
    out = capsys.readouterr().out
    assert "def forward(x, WT, b," in out and "def backward(" in out  # the CPU module
    assert "# forward arguments:" in out and "a_n = A0[bb, 2 * H + j]" in out  # the maths and its binding
    assert "cuda.grid" not in out  # parts not asked for are not shown


def test_kernels_writes_files(tmp_path, capsys):
    assert main(["kernels", "lstm", "--out", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["lstm_cpu.py", "lstm_cuda.py", "lstm_cuda_persistent.py", "lstm_maths.py"]
    for p in tmp_path.iterdir():
        compile(p.read_text(), str(p), "exec")  # each is valid Python


def test_kernels_unknown_variant_suggests(capsys):
    assert main(["kernels", "lstn"]) == 2
    assert "did you mean 'lstm'" in capsys.readouterr().err


def test_a_bug_is_not_reported_as_bad_input(monkeypatch):
    """A TypeError or KeyError raised inside a command is a bug: it propagates with its traceback."""
    import lstmlab.cli as cli

    def broken(args):
        raise KeyError("internal")

    monkeypatch.setattr(cli, "_cmd_variants", broken)
    with pytest.raises(KeyError, match="internal"):
        cli.main(["variants"])


@pytest.mark.parametrize("name", __import__("lstmlab").names())
def test_kernel_source_of_every_variant_is_valid_python(name):
    from lstmlab.kernel_source import kernel_source
    for part, text in kernel_source(name).items():
        compile(text, f"{name}-{part}", "exec")


@pytest.mark.parametrize("prepare, msg", [
    (lambda p: None, "does not exist"),
    (lambda p: p.mkdir(), "holds no checkpoint"),
])
def test_resume_without_a_checkpoint_is_refused(tmp_path, capsys, prepare, msg):
    out = tmp_path / "run"
    prepare(out)
    assert main(["train", *TINY, "--steps", "5", "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert msg in err and "run without --resume" in err


@pytest.mark.parametrize("argv, msg", [
    (["repro", "tallec2018", "--workers", "0", "--dry-run"], "--workers: expected a positive integer, got 0"),
    (["repro", "tallec2018", "--timeout", "-1", "--dry-run"], "--timeout: expected a positive number of seconds"),
])
def test_repro_numbers_are_checked(argv, msg, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and msg in capsys.readouterr().err


def test_a_run_restarted_before_its_first_checkpoint_has_one_step0_record(tmp_path):
    """A session killed before its first checkpoint leaves config and the step-0 evaluation; the next starts clean."""
    from lstmlab.training import TrainConfig, train
    from lstmlab.training.records import MetricsLog
    cfg = TrainConfig(task="adding", T=10, hidden=4, steps=4, batch_size=4, eval_every=2, eval_size=8,
                      checkpoint_every=100)
    out = tmp_path / "run"
    train(cfg, out, progress=False)
    for name in ("checkpoint.lstmlab", "result.json"):  # as if killed before any checkpoint
        (out / name).unlink()
    log = MetricsLog(out / "metrics.jsonl")
    log.truncate_after(0)
    train(cfg, out, resume=True, progress=False)
    steps0 = [r for r in log.records() if r["kind"] == "eval" and r["step"] == 0]
    assert len(steps0) == 1


@pytest.mark.parametrize("argv, msg", [
    (["train", "--lr", "-1e-3", "--steps", "2"], "lr: expected a finite learning rate"),
    (["bench", "--sizes", "-1,2,3,4", "--against", "none"], "--sizes: expected 'T,B,D,H' groups"),
])
def test_negative_numbers_reach_the_options_own_check(argv, msg, capsys):
    assert main(argv) == 2
    assert msg in capsys.readouterr().err
