"""The digits task: scikit-learn's 8x8 images read pixel by pixel, a fixed split, an optional permutation."""
import sys

import numpy as np
import pytest

from lstmlab.tasks import digits as dg
from lstmlab.tasks import make_task


def test_split_is_fixed_stratified_and_disjoint():
    from sklearn.datasets import load_digits
    data = load_digits()
    d = dg.load()
    (xtr, ytr), (xte, yte) = d["train"], d["test"]
    assert xtr.shape == (1198, 64) and xte.shape == (599, 64)
    assert xtr.min() >= 0 and xtr.max() <= 1
    for k in range(10):  # a third of each class in the test split
        n = (data.target == k).sum()
        assert (yte == k).sum() == round(n / 3) and (ytr == k).sum() == n - round(n / 3)
    rows = {r.tobytes() for r in (data.data / 16.0)}
    assert all(r.tobytes() in rows for r in xte[:20])
    # every image lands in exactly one split: the multiset of rows is the data set's
    both = np.sort(np.concatenate([xtr, xte]).view(f"V{64 * 8}").ravel())
    assert np.array_equal(both, np.sort((data.data / 16.0).view(f"V{64 * 8}").ravel()))


def test_permuted_is_one_fixed_permutation_of_the_same_images():
    plain, perm = dg.load(False)["test"], dg.load(True)["test"]
    assert np.array_equal(plain[1], perm[1])
    order = np.random.default_rng(dg._PERMUTATION_SEED).permutation(64)
    assert np.array_equal(perm[0], plain[0][:, order]) and not np.array_equal(perm[0], plain[0])


def test_batches_heldout_and_metrics():
    task = make_task("digits", 64)
    b = task.batch(np.random.default_rng(0), 5)
    assert b.inputs.shape == (64, 5, 1) and b.targets.shape == (5,) and b.targets.dtype == np.int64
    x, y = task.data["train"]
    i = np.flatnonzero((x == b.inputs[:, 0, 0]).all(axis=1))
    assert len(i) >= 1 and y[i[0]] == b.targets[0]  # pixel t of image b at step t
    held = task.heldout(10, seed=3)  # always the whole test split, in order
    assert sum(h.size for h in held) == 599
    assert np.array_equal(np.concatenate([h.targets for h in held]), task.data["test"][1])
    logits = np.zeros((5, 10))
    logits[np.arange(5), b.targets] = 1.0
    assert task.metrics(logits, b)["accuracy"] == 5.0
    assert abs(task.baseline() - np.log(10)) < 0.01
    assert task.is_solved({"loss": 0.1, "accuracy": 0.96}) and not task.is_solved({"loss": 0.1, "accuracy": 0.9})


def test_bad_input_and_missing_extra(monkeypatch):
    with pytest.raises(ValueError, match="T: task 'digits' needs 64 <= T <= 64, got 32"):
        make_task("digits", 32)
    with pytest.raises(ValueError, match="permuted: expected True or False, got 'yes'"):
        make_task("digits", 64, permuted="yes")
    monkeypatch.setattr(dg, "_DATA", {})
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"task 'digits' needs scikit-learn.*lstmlab\[digits\]"):
        make_task("digits", 64)


def test_an_lstm_learns_the_digits():
    """A short run must leave the class prior far behind (the task is learnable as built)."""
    import tempfile

    from lstmlab.training import TrainConfig, train
    with tempfile.TemporaryDirectory() as d:
        res = train(TrainConfig(task="digits", T=64, hidden=32, optimizer="adam", lr=1e-2, batch_size=32, steps=150,
                                eval_every=150, eval_size=599, checkpoint_every=150), d, progress=False)
    assert res.final["loss"] < 0.75 * res.final["baseline"] and res.final["accuracy"] > 0.4
