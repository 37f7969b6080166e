"""Task generators against their published specifications."""
import math

import numpy as np
import pytest

from lstmlab.tasks import (
    Adding,
    Adding1997,
    Batch,
    CopyMemory,
    Task,
    UnknownTaskError,
    get_task,
    make_task,
    register_task,
    task_names,
)
from lstmlab.tasks.base import _TASKS


def rng(seed=0):
    return np.random.default_rng(seed)


def test_registry_lists_builtins_and_suggests():
    assert {"copy", "adding", "adding1997"} <= set(task_names())
    assert task_names("add*") == ["adding", "adding1997"]
    with pytest.raises(UnknownTaskError, match="did you mean 'adding'"):
        get_task("addin")


def test_register_a_task():
    @register_task("test_constant")
    class Constant(Task):
        input_size, output_size, readout, loss = 1, 1, "last", "mse"

        def sample(self, rng, B):
            return Batch(np.ones((self.T, B, 1)), np.full((B, 1), 0.5))

        def baseline(self):
            return 0.0
    try:
        assert make_task("test_constant", 5).batch(rng(), 3).inputs.shape == (5, 3, 1)
        with pytest.raises(ValueError, match="already registered"):
            register_task("test_constant")(type("Other", (Constant,), {}))
    finally:
        _TASKS.pop("test_constant")


@pytest.mark.parametrize("name,T", [("copy", 0), ("adding", 1), ("adding1997", 23)])
def test_T_out_of_range(name, T):
    with pytest.raises(ValueError, match=r"T: task .* needs"):
        make_task(name, T)


def test_batch_size_checked():
    with pytest.raises(ValueError, match="batch_size"):
        make_task("copy", 5).batch(rng(), 0)


# -- copy -------------------------------------------------------------------
def test_copy_layout():
    T, B = 15, 400
    b = CopyMemory(T).batch(rng(), B)
    assert b.inputs.shape == b.targets.shape == (T + 20, B)
    assert b.inputs.dtype == np.int64 and b.lengths is None
    data = b.inputs[:10]
    assert data.min() >= 0 and data.max() <= 7 and len(np.unique(data)) == 8   # all 8 symbols appear
    assert (b.inputs[10:T + 9] == 8).all()           # T - 1 blanks
    assert (b.inputs[T + 9] == 9).all()              # the delimiter
    assert (b.inputs[T + 10:] == 8).all()            # 10 blanks
    assert (b.targets[:T + 10] == 8).all()           # T + 10 blanks
    assert (b.targets[T + 10:] == data).all()        # the same symbols, in order


def test_copy_baseline_recomputed_from_data():
    # The best memoryless predictor outputs, per step, the marginal distribution of
    # that step's target; its cross-entropy is the per-step entropy, averaged.
    T, B = 30, 20000
    task = CopyMemory(T)
    b = task.batch(rng(1), B)
    ent = 0.0
    for t in range(T + 20):
        p = np.bincount(b.targets[t], minlength=10) / B
        ent -= (p[p > 0] * np.log(p[p > 0])).sum()
    assert ent / (T + 20) == pytest.approx(task.baseline(), rel=2e-3)
    assert task.baseline() == pytest.approx(10 * math.log(8) / (T + 20))


# -- adding (Le et al. / Arjovsky et al.) --------------------------------------
def test_adding_layout():
    T, B = 21, 3000
    b = Adding(T).batch(rng(), B)
    assert b.inputs.shape == (T, B, 2) and b.targets.shape == (B, 1)
    vals, marks = b.inputs[..., 0], b.inputs[..., 1]
    assert vals.min() >= 0 and vals.max() <= 1
    assert set(np.unique(marks)) == {0.0, 1.0}
    assert (marks.sum(axis=0) == 2).all()
    first = marks.argmax(axis=0)
    second = T - 1 - marks[::-1].argmax(axis=0)
    assert (first < T // 2).all() and (second >= T // 2).all()
    # positions cover each half (uniform draw, not a fixed slot)
    assert first.min() == 0 and first.max() == T // 2 - 1 and second.min() == T // 2 and second.max() == T - 1
    np.testing.assert_allclose(b.targets[:, 0], (vals * marks).sum(axis=0))


def test_adding_baseline_recomputed():
    task = Adding(50)
    b = task.batch(rng(2), 50000)
    assert ((b.targets - 1.0) ** 2).mean() == pytest.approx(task.baseline(), rel=0.02)
    assert task.baseline() == pytest.approx(1 / 6)


# -- adding, 1997 form -----------------------------------------------------------
def test_adding1997_layout():
    T, B = 40, 5000
    b = Adding1997(T).batch(rng(), B)
    Tmax = T + T // 10
    assert b.inputs.shape == (Tmax, B, 2) and b.targets.shape == (B, 1)
    L = b.lengths
    assert L.min() == T and L.max() == T + T // 10            # lengths cover [T, T + T/10]
    vals, marks = b.inputs[..., 0], b.inputs[..., 1]
    pad = np.arange(Tmax)[:, None] >= L[None, :]
    assert (vals[pad] == 0).all() and (marks[pad] == 0).all()
    assert np.abs(vals).max() <= 1 and vals.min() < -0.99
    assert ((marks == 1).sum(axis=0) == 2).all()
    cols = np.arange(B)
    pos = [np.nonzero(marks[:, j] == 1)[0] for j in range(B)]
    first = np.array([p[0] for p in pos])
    second = np.array([p[1] for p in pos])
    assert (second < T // 2 - 1).all()            # both among the first T/2 - 1 pairs
    assert (first < 10).any() and (second >= 10).any()
    # -1 on the first and final pair unless marked; 0 elsewhere
    assert ((marks[0] == -1) | (marks[0] == 1)).all()
    assert (marks[L - 1, cols] == -1).all()
    inner = marks.copy()
    inner[0] = 0
    inner[L - 1, cols] = 0
    assert set(np.unique(inner)) == {0.0, 1.0}
    # a marked first pair has value 0
    assert (vals[0][marks[0] == 1] == 0).all() and (marks[0] == 1).sum() > 0
    X = (vals * (marks == 1)).sum(axis=0)
    np.testing.assert_allclose(b.targets[:, 0], 0.5 + X / 4)


def test_adding1997_one_mark_in_first_ten():
    b = Adding1997(100).batch(rng(3), 4000)
    marks = b.inputs[..., 1] == 1
    assert (marks[:10].sum(axis=0) >= 1).all()
    # X1 is uniform over the first ten pairs: each position is marked often
    assert (marks[:10].sum(axis=1) > 300).all()


def test_adding1997_baselines_recomputed():
    task = Adding1997(60)
    b = task.batch(rng(4), 200000)
    err = b.targets[:, 0] - 0.5
    assert (err ** 2).mean() == pytest.approx(task.baseline(), rel=0.01)
    assert (np.abs(err) < 0.04).mean() == pytest.approx(task.baseline_solved_rate(), abs=0.004)
    assert task.metrics(np.full((10, 1), 0.5), Batch(b.inputs[:, :10], b.targets[:10]))["solved_rate"] == \
        (np.abs(err[:10]) < 0.04).sum()


def test_heldout_is_fixed_and_separate_from_training():
    task = Adding(20)
    a = task.heldout(300, seed=7, batch_size=128)
    b = task.heldout(300, seed=7, batch_size=128)
    assert [x.size for x in a] == [128, 128, 44]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.inputs, y.inputs)
    train = task.batch(np.random.default_rng([7, 0]), 128)
    assert not np.array_equal(train.inputs, a[0].inputs)
    assert not np.array_equal(task.heldout(10, seed=8)[0].inputs, a[0].inputs[:, :10])


def test_solved_rules():
    assert CopyMemory(10).is_solved({"loss": 0.1, "recall_accuracy": 0.995})
    assert not CopyMemory(10).is_solved({"loss": 0.0, "recall_accuracy": 0.9})
    assert Adding(10).is_solved({"loss": 0.005}) and not Adding(10).is_solved({"loss": 0.02})
    assert Adding1997(30).is_solved({"loss": 1.0, "solved_rate": 0.99})
    assert not Adding1997(30).is_solved({"loss": 0.0, "solved_rate": 0.5})
