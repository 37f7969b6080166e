"""File-system faults are one-line errors naming the path; nothing good is damaged, no temporary is left.

Faults are injected (``OSError`` with ENOSPC, EROFS, EACCES at each kind of
write); the tests run as root, where permissions alone would not stop a write.
"""
import errno
import os

import pytest

from lstmlab.cli import main
from lstmlab.training import TrainConfig, train
from lstmlab.training import checkpoint as ckpt
from lstmlab.training.checkpoint import StorageError

CFG = dict(task="adding", T=10, hidden=4, batch_size=4, eval_every=5, eval_size=8, checkpoint_every=5)
FAULTS = [(errno.ENOSPC, "no space left"), (errno.EROFS, "is read-only"), (errno.EACCES, "permission denied")]


def _fail_on(monkeypatch, target, code, after=0):
    """Make the (after+1)-th and later calls of os.replace/open on files named ``target`` raise OSError(code)."""
    real_open, calls = open, {"n": 0}

    def fake_open(file, mode="r", *a, **kw):
        if target in str(file) and ("w" in mode or "a" in mode):
            calls["n"] += 1
            if calls["n"] > after:
                raise OSError(code, os.strerror(code), str(file))
        return real_open(file, mode, *a, **kw)
    monkeypatch.setattr("builtins.open", fake_open)


@pytest.mark.parametrize("code, words", FAULTS)
def test_a_failed_checkpoint_write_keeps_the_last_one_and_no_temporary(tmp_path, monkeypatch, code, words):
    out = tmp_path / "run"
    train(TrainConfig(steps=5, **CFG), out, progress=False)
    good = (out / "checkpoint.lstmlab").read_bytes()
    _fail_on(monkeypatch, ".checkpoint.lstmlab.tmp-", code)
    with pytest.raises(StorageError, match=f"^cannot write .*checkpoint.lstmlab: .*{words}"):
        train(TrainConfig(steps=10, **CFG), out, resume=True, progress=False)
    monkeypatch.undo()
    assert (out / "checkpoint.lstmlab").read_bytes() == good
    assert not list(out.glob(".*tmp-*"))
    res = train(TrainConfig(steps=10, **CFG), out, resume=True, progress=False)  # space is back: it carries on
    assert res.step == 10 and res.resumed_from == 5


@pytest.mark.parametrize("code, words", FAULTS)
def test_a_failed_metrics_append_leaves_whole_records(tmp_path, monkeypatch, code, words):
    out = tmp_path / "run"
    train(TrainConfig(steps=5, **CFG), out, progress=False)
    before = (out / "metrics.jsonl").read_text()
    _fail_on(monkeypatch, "metrics.jsonl", code, after=1)  # the truncation rewrite passes, the first append fails
    with pytest.raises(StorageError, match=words):
        train(TrainConfig(steps=10, **CFG), out, resume=True, progress=False)
    monkeypatch.undo()
    assert (out / "metrics.jsonl").read_text() == before


@pytest.mark.parametrize("make, words", [
    (lambda p: p.write_text("x"), "a file is in the way"),
    (lambda p: (p.parent / "blocker").write_text("x"), "is a file, where a folder is needed"),
])
def test_unusable_output_paths_exit_2_with_one_line(tmp_path, capsys, make, words):
    out = tmp_path / "run"
    make(out)
    target = out if out.exists() else tmp_path / "blocker" / "run"
    assert main(["train", "--task", "adding", "-T", "10", "--hidden", "4", "--steps", "2", "--no-progress",
                 "--out", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(target) in err and words in err, err


def test_repro_results_naming_a_file(tmp_path, capsys):
    f = tmp_path / "results"
    f.write_text("x")
    assert main(["repro", "greff2017", "--quick", "--no-estimate", "--results", str(f), "--T", "20",
                 "--arms", "lstm", "--seeds", "1", "--steps", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert str(f) in err and "a file is in the way" in err, err


def test_a_checkpoint_path_that_is_a_folder(tmp_path, capsys):
    out = tmp_path / "run"
    train(TrainConfig(steps=5, **CFG), out, progress=False)
    (out / "checkpoint.lstmlab").unlink()
    (out / "result.json").unlink()
    (out / "checkpoint.lstmlab").mkdir()
    assert main(["train", "--task", "adding", "-T", "10", "--hidden", "4", "--batch-size", "4", "--steps", "5",
                 "--eval-every", "5", "--eval-size", "8", "--checkpoint-every", "5", "--no-progress", "--out",
                 str(out), "--resume"]) == 2
    assert "checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("make, words", [
    (lambda p: p.write_text("x"), "a file is in the way"),
    (lambda p: None, "too long"),
])
def test_kernels_out_paths(tmp_path, capsys, make, words):
    target = tmp_path / ("k" * 300 if words == "too long" else "k")
    make(target)
    assert main(["kernels", "lstm", "--part", "maths", "--out", str(target)]) == 2
    assert words in capsys.readouterr().err


def test_a_name_too_long_for_train(tmp_path, capsys):
    assert main(["train", "--task", "adding", "-T", "10", "--hidden", "4", "--steps", "2", "--no-progress",
                 "--out", str(tmp_path / ("r" * 300))]) == 2
    assert "too long" in capsys.readouterr().err


def test_ctrl_c_stops_at_a_step_with_a_checkpoint(tmp_path, monkeypatch):
    """The first SIGINT ends the run after the current step and checkpoints that step."""
    import signal

    from lstmlab.training import loop
    real = loop._Run.update

    def update(self):
        info = real(self)
        if self.step == 3:
            signal.raise_signal(signal.SIGINT)
        return info
    monkeypatch.setattr(loop._Run, "update", update)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(steps=20, **dict(CFG, checkpoint_every=100)), out, progress=False)
    _, meta = ckpt.load(out / "checkpoint.lstmlab")
    assert meta["step"] == 3
    monkeypatch.undo()
    res = train(TrainConfig(steps=20, **dict(CFG, checkpoint_every=100)), out, resume=True, progress=False)
    assert res.resumed_from == 3 and res.step == 20


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A real 64 KiB tmpfs where this machine lets the tests mount one (root, Linux); else the test skips."""
    import shutil
    import subprocess
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    rc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True)
    if rc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {rc.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_a_real_disk_full(tiny_tmpfs):
    """A run on a 64 KiB file system: it stops with StorageError; what was written before is whole."""
    out = tiny_tmpfs / "run"
    cfg = TrainConfig(task="adding", T=10, hidden=64, batch_size=4, steps=40, eval_every=5, eval_size=8,
                      checkpoint_every=5, log_every=1)  # a checkpoint of ~50 KiB: the second cannot fit beside it
    with pytest.raises(StorageError, match="no space left on the device"):
        train(cfg, out, progress=False)
    assert not list(out.glob(".*tmp-*"))
    if (out / "checkpoint.lstmlab").exists():
        ckpt.load(out / "checkpoint.lstmlab")  # whole and verified, or absent: never half-written
    lines = (out / "metrics.jsonl").read_text().splitlines() if (out / "metrics.jsonl").exists() else []
    import json
    assert all(json.loads(line) for line in lines)  # whole records only
