"""The sequence model's gradients, a short real run, non-finite handling, checkpoints."""
import json

import numpy as np
import pytest

from lstmlab.tasks import Task, make_task, register_task, task_names
from lstmlab.tasks.base import _TASKS
from lstmlab.training import (
    CheckpointError,
    NonFiniteError,
    ResumeError,
    RunExistsError,
    SequenceModel,
    TrainConfig,
    train,
)
from lstmlab.training import checkpoint as ckpt
from lstmlab.training.loop import _Run

SMALL_T = {"copy": 2, "adding": 6, "adding1997": 24}


@pytest.mark.parametrize("task_name", [n for n in task_names() if n in SMALL_T])
@pytest.mark.parametrize("variant", ["lstm", "gru"])
def test_model_gradients_by_finite_differences(task_name, variant):
    task = make_task(task_name, SMALL_T[task_name])
    model = SequenceModel(task, variant, hidden=3, layers=2, dtype=np.float64, init="torch",
                          rng=np.random.default_rng(0))
    batch = task.batch(np.random.default_rng(1), 3)
    loss, grads = model.loss_and_grads(batch)
    r = np.random.default_rng(2)
    for name, p in model.params.items():
        idx = [tuple(r.integers(0, s) for s in p.shape) for _ in range(3)]
        for i in idx:
            old = p[i]
            p[i] = old + 1e-6
            lp = model.loss(batch)[0]
            p[i] = old - 1e-6
            lm = model.loss(batch)[0]
            p[i] = old
            assert grads[name][i] == pytest.approx((lp - lm) / 2e-6, rel=1e-5, abs=1e-9), (name, i)


def test_short_adding_run_beats_baseline(tmp_path):
    cfg = TrainConfig(task="adding", T=20, hidden=32, optimizer="adam", lr=1e-2, batch_size=32, steps=400,
                      eval_every=200, eval_size=500, checkpoint_every=200)
    res = train(cfg, tmp_path / "run", progress=False)
    assert res.final["baseline"] == pytest.approx(1 / 6)
    assert res.final["loss"] < 0.1 * res.final["baseline"]
    recs = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in recs if r["kind"] == "eval"]
    assert [r["step"] for r in evals] == [0, 200, 400] and evals[0]["loss"] > evals[-1]["loss"]
    stored = json.loads((tmp_path / "run" / "config.json").read_text())
    assert stored["config"]["lr"] == 1e-2 and stored["versions"]["numba"]
    assert json.loads((tmp_path / "run" / "result.json").read_text())["final"]["loss"] == res.final["loss"]


def _tiny(**kw):
    base = dict(task="adding", T=8, hidden=4, optimizer="adam", lr=1e-2, batch_size=4, steps=30, eval_every=10,
                eval_size=16, log_every=5, checkpoint_every=10)
    base.update(kw)
    return TrainConfig(**base)


def _params(path):
    arrays, meta = ckpt.load(path)
    return {k: v for k, v in arrays.items() if k.startswith("param/")}, meta


def test_existing_run_needs_resume_and_same_config(tmp_path):
    train(_tiny(), tmp_path / "r", progress=False)
    with pytest.raises(RunExistsError, match="already holds a run"):
        train(_tiny(), tmp_path / "r", progress=False)
    with pytest.raises(ResumeError, match="lr=0.01 there, 0.02 here"):
        train(_tiny(lr=2e-2), tmp_path / "r", resume=True, progress=False)
    again = train(_tiny(), tmp_path / "r", resume=True, progress=False)
    assert again.already_complete and again.step == 30


@pytest.mark.parametrize("reg", [{}, {"dropout": 0.3, "weight_drop": 0.2, "layers": 2},
                                 {"zoneout": {"c": 0.5, "h": 0.05}, "recurrent_dropout": 0.2},
                                 {"layer_norm": "xh+cell", "recurrent_dropout": 0.2,
                                  "recurrent_dropout_form": "semeniuta"},
                                 {"proj_size": 2}],
                         ids=["plain", "dropout", "zoneout", "layernorm-semeniuta", "projection"])
def test_interrupted_in_process_resumes_identically(tmp_path, monkeypatch, reg):
    ref = train(_tiny(**reg), tmp_path / "ref", progress=False)
    calls = {"n": 0}
    real = _Run.update

    def flaky(self):
        calls["n"] += 1
        if calls["n"] == 17:
            raise KeyboardInterrupt
        return real(self)
    monkeypatch.setattr(_Run, "update", flaky)
    with pytest.raises(KeyboardInterrupt):
        train(_tiny(**reg), tmp_path / "cut", progress=False)
    monkeypatch.setattr(_Run, "update", real)
    res = train(_tiny(**reg), tmp_path / "cut", resume=True, progress=False)
    assert res.resumed_from == 10 and ref.resumed_from == 0
    a, _ = _params(tmp_path / "ref" / "checkpoint.lstmlab")
    b, _ = _params(tmp_path / "cut" / "checkpoint.lstmlab")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    strip = lambda p: [{k: v for k, v in json.loads(x).items() if k != "train_seconds"}  # noqa: E731
                       for x in p.read_text().splitlines()]
    assert strip(tmp_path / "ref" / "metrics.jsonl") == strip(tmp_path / "cut" / "metrics.jsonl")


def test_dropout_and_weight_drop_change_training_not_evaluation():
    cfg = _tiny(dropout=0.3, weight_drop=0.2, layers=2).validate()
    run, plain = _Run(cfg), _Run(_tiny(layers=2).validate())
    batch = run.task.batch(np.random.default_rng(0), 4)
    assert run.model.loss(batch)[0] == plain.model.loss(batch)[0]  # evaluation: the deterministic cell
    masked = run.model.loss_and_grads(batch, np.random.default_rng(1))[0]
    assert masked != plain.model.loss_and_grads(batch)[0]
    assert masked == run.model.loss_and_grads(batch, np.random.default_rng(1))[0]
    with pytest.raises(ValueError, match=r"weight_drop: expected a probability in \[0, 1\) for variant 'lstm'"):
        _tiny(weight_drop=1.0).validate()
    with pytest.raises(ValueError, match="weight_drop: expected 0 for variant 'indrnn', which has no recurrent matrix"):
        _tiny(variant="indrnn", weight_drop=0.1).validate()


def test_zoneout_in_training_its_expectation_in_evaluation():
    cfg = _tiny(zoneout={"h": 0.05, "c": 0.5}).validate()
    assert cfg.zoneout == {"h": 0.05, "c": 0.5} and _tiny(zoneout={"h": 0.2, "c": 0.2}).validate().zoneout == 0.2
    run, plain = _Run(cfg), _Run(_tiny().validate())
    batch = run.task.batch(np.random.default_rng(0), 4)
    ev = run.model.loss(batch)[0]
    assert ev == run.model.loss(batch)[0] and ev != plain.model.loss(batch)[0]  # deterministic, not the plain cell
    masked = run.model.loss_and_grads(batch, np.random.default_rng(1))[0]
    assert masked == run.model.loss_and_grads(batch, np.random.default_rng(1))[0]
    assert masked != run.model.loss_and_grads(batch, np.random.default_rng(2))[0]
    with pytest.raises(ValueError, match="zoneout: expected probabilities for states of variant 'lstm'"):
        _tiny(zoneout={"x": 0.1}).validate()


# -- non-finite values ---------------------------------------------------------
@pytest.fixture
def nan_task():
    @register_task("test_nan_after_12")
    class NanAfter(Task):
        """Adding task whose targets turn NaN from the 13th training batch on."""
        input_size, output_size, readout, loss = 2, 1, "last", "mse"

        def __init__(self, T):
            super().__init__(T)
            self.inner, self.calls = make_task("adding", T), 0

        def sample(self, rng, B):
            b = self.inner.sample(rng, B)
            if B == 4:                     # training batches only (held-out uses 16)
                self.calls += 1
                if self.calls > 12:
                    b.targets[:] = np.nan
            return b

        def baseline(self):
            return 1 / 6
    yield "test_nan_after_12"
    _TASKS.pop("test_nan_after_12")


def test_nonfinite_loss_stops_and_keeps_checkpoint(tmp_path, nan_task):
    out = tmp_path / "nan"
    with pytest.raises(NonFiniteError, match="step 13: loss is not finite") as info:
        train(_tiny(task=nan_task), out, progress=False)
    assert info.value.step == 13 and info.value.tensor == "loss"
    _, meta = _params(out / "checkpoint.lstmlab")
    assert meta["step"] == 10
    assert json.loads((out / "failed.json").read_text())["step"] == 13


def test_nonfinite_skip_mode(tmp_path, nan_task):
    res = train(_tiny(task=nan_task, on_nonfinite="skip", eval_size=16), tmp_path / "skip", progress=False)
    assert res.skipped == 30 - 12 and res.step == 30


def test_nonfinite_gradient_named(tmp_path, monkeypatch):
    from lstmlab.training.model import SequenceModel as M
    real = M.loss_and_grads

    def bad(self, batch, rng=None):
        loss, g = real(self, batch, rng)
        g["layer0.R"][0, 0] = np.inf
        return loss, g
    monkeypatch.setattr(M, "loss_and_grads", bad)
    with pytest.raises(NonFiniteError, match=r"step 1: gradient of layer0.R is not finite \(1 of"):
        train(_tiny(), tmp_path / "g", progress=False)


# -- checkpoints -------------------------------------------------------------------
def test_checkpoint_roundtrip(tmp_path):
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "n": np.array(3, np.int64)}
    ckpt.save(tmp_path / "c", arrays, {"x": [1, 2]})
    got, meta = ckpt.load(tmp_path / "c")
    assert meta == {"x": [1, 2]} and got["a"].dtype == np.float32 and got["n"].shape == ()
    np.testing.assert_array_equal(got["a"], arrays["a"])
    assert not list(tmp_path.glob(".*tmp*"))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("finished") / "run"
    train(_tiny(steps=10), out, progress=False)
    return out


def _damaged(tmp_path, finished, how):
    data = (finished / "checkpoint.lstmlab").read_bytes()
    if how == "truncated":
        data = data[: len(data) - 100]
    elif how == "corrupted":
        data = bytearray(data)
        data[len(data) // 2] ^= 0xFF
        data = bytes(data)
    elif how == "magic":
        data = b"PK\x03\x04" + data[4:]
    p = tmp_path / "bad.lstmlab"
    p.write_bytes(data)
    return p


@pytest.mark.parametrize("how,msg", [("truncated", "truncated"), ("corrupted", "checksum mismatch"),
                                     ("magic", "not an lstmlab checkpoint")])
def test_bad_checkpoint_files(tmp_path, finished, how, msg):
    p = _damaged(tmp_path, finished, how)
    with pytest.raises(CheckpointError, match=msg):
        ckpt.load(p)


def test_checkpoint_format_version(tmp_path, monkeypatch):
    monkeypatch.setattr(ckpt, "FORMAT_VERSION", 99)
    ckpt.save(tmp_path / "v", {"a": np.zeros(1)}, {})
    monkeypatch.undo()
    with pytest.raises(CheckpointError, match="format version 99, but this lstmlab reads version 1"):
        ckpt.load(tmp_path / "v")


def test_resume_refuses_damaged_checkpoint_and_leaves_it(tmp_path, finished):
    import shutil
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    (out / "result.json").unlink()         # an unfinished run ...
    bad = _damaged(tmp_path, finished, "corrupted").read_bytes()
    (out / "checkpoint.lstmlab").write_bytes(bad)   # ... whose checkpoint got damaged
    with pytest.raises(CheckpointError, match="checksum"):
        train(_tiny(steps=10), out, resume=True, progress=False)
    assert (out / "checkpoint.lstmlab").read_bytes() == bad


def test_restore_other_variant_or_shape_is_all_or_nothing(finished, tmp_path):
    path = finished / "checkpoint.lstmlab"
    run = _Run(_tiny(steps=10, variant="gru").validate())
    before = {k: v.copy() for k, v in run.model.params.items()}
    with pytest.raises(CheckpointError, match="from variant 'lstm', this run trains 'gru'"):
        run.restore(path)
    run = _Run(_tiny(steps=10, hidden=5).validate())
    with pytest.raises(CheckpointError, match="hidden=4 there, 5 here"):
        run.restore(path)
    # same configuration, but an array of the wrong shape: nothing may be assigned
    arrays, meta = ckpt.load(path)
    arrays["param/readout.b"] = np.zeros(2, np.float32)
    ckpt.save(tmp_path / "shape.lstmlab", arrays, meta)
    run = _Run(_tiny(steps=10).validate())
    before = {k: v.copy() for k, v in run.model.params.items()}
    with pytest.raises(CheckpointError, match=r"'readout.b' is float32 \(2,\), this model needs float32 \(1,\)"):
        run.restore(tmp_path / "shape.lstmlab")
    for k, v in run.model.params.items():
        np.testing.assert_array_equal(v, before[k])
    assert run.step == 0


@pytest.mark.parametrize("field,value,msg", [
    ("T", 0, "T: expected 1 <= T"), ("T", 1, "T: task 'adding' needs 2 <= T"),
    ("batch_size", 0, "batch_size: expected 1 <="),
    ("steps", 0, "steps: expected 1 <="), ("lr", 0.0, "lr: expected a finite learning rate"),
    ("lr", float("nan"), "lr: expected"), ("lr", 1e3, "lr: expected"), ("optimizer", "adagrad", "optimizer"),
    ("variant", "lstn", "did you mean 'lstm'"), ("task", "copyy", "did you mean 'copy'"),
    ("clip", -1.0, "clip: expected"), ("hidden", 2.5, "hidden: expected an int"),
])
def test_config_out_of_range(field, value, msg):
    with pytest.raises((ValueError, KeyError), match=msg):
        _tiny(**{field: value}).validate()


def test_extending_a_finished_run_equals_the_longer_run(tmp_path):
    """--resume --steps N: the same optimiser state, data stream and counter carry on (constant schedule)."""
    from lstmlab.training import checkpoint as ckpt
    base = dict(task="adding", T=10, hidden=5, batch_size=4, eval_every=3, eval_size=8, checkpoint_every=7,
                optimizer="adam", lr=1e-2, warmup=2)
    short, full = tmp_path / "short", tmp_path / "full"
    train(TrainConfig(steps=10, **base), short, progress=False)
    res = train(TrainConfig(steps=25, **base), short, resume=True, progress=False)
    assert res.step == 25 and res.resumed_from == 10
    train(TrainConfig(steps=25, **base), full, progress=False)
    a, _ = ckpt.load(short / "checkpoint.lstmlab")
    b, _ = ckpt.load(full / "checkpoint.lstmlab")
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.mark.parametrize("change, msg", [
    (dict(steps=5), "not shortened"),
    (dict(steps=20, schedule="cosine"), "defined over the run's total"),
])
def test_extensions_that_would_change_the_numbers_are_refused(tmp_path, change, msg):
    from lstmlab.training import ResumeError
    base = dict(task="adding", T=10, hidden=4, batch_size=4, steps=10, eval_every=5, eval_size=8)
    first = dict(base, schedule=change.get("schedule", "constant"))
    train(TrainConfig(**first), tmp_path / "run", progress=False)
    with pytest.raises(ResumeError, match=msg):
        train(TrainConfig(**dict(first, **change)), tmp_path / "run", resume=True, progress=False)
