"""The agreement task against its specification (Agreement's docstring)."""
import math

import numpy as np
import pytest

from lstmlab.tasks import make_task
from lstmlab.tasks.agreement import FILLERS, NOUN0, PREPS, RC_VERB0, THAT, THE, VERB, Agreement


@pytest.fixture(scope="module")
def batch():
    task = Agreement(16, max_attractors=3, max_nouns=4)
    return task, task.sample(np.random.default_rng(7), 2000)


def test_positions_numbers_and_weights(batch):
    task, b = batch
    B = b.size
    assert b.inputs.shape == (task.seq_len(), B) and b.inputs.max() < task.n_symbols
    for j in range(B):
        n = int(b.lengths[j])
        toks = b.inputs[:n, j]
        assert toks[0] == THE and NOUN0 <= toks[1] < RC_VERB0 and toks[-1] == VERB
        assert VERB not in toks[:-1]
        assert b.weights[:, j].sum() == 1.0 and b.weights[n - 1, j] == 1.0  # scored at the verb only
        assert b.targets[n - 1, j] == (toks[1] - NOUN0) % 2  # the subject's number
        span = list(toks[2:-1])
        allowed = set(PREPS) | set(FILLERS) | {THE, THAT} | set(range(NOUN0, RC_VERB0 + 2))
        assert set(span) <= allowed
        for i, t in enumerate(span):  # a relative clause's verb follows its noun and agrees with it
            if t >= RC_VERB0:
                assert (span[i - 1] - NOUN0) % 2 == t - RC_VERB0 and span[i - 3] == THAT


def test_attractors_and_distances_follow_the_parameters(batch):
    task, b = batch
    info = task.parse(b)
    assert info["distance"].min() >= task.min_distance and info["distance"].max() <= task.T
    counts = np.bincount(info["attractors"], minlength=task.max_attractors + 1)
    assert len(counts) == task.max_attractors + 1 and (counts > 100).all()  # every count well represented
    assert abs(info["subject"].mean() - 0.5) < 0.05  # a fair coin
    nouns = [sum(1 for t in b.inputs[2:int(n) - 1, j] if NOUN0 <= t < RC_VERB0) for j, n in enumerate(b.lengths)]
    assert (info["attractors"] <= np.array(nouns)).all() and max(nouns) <= task.max_nouns


def test_baselines_recomputed_from_the_data(batch):
    task, b = batch
    info = task.parse(b)
    assert task.baseline() == pytest.approx(math.log(2))
    recent_right = info["recent"] == info["subject"]
    assert recent_right[info["attractors"] == 0].all()  # no attractor: the last noun has the subject's number
    # with attractors the heuristic fails exactly when the last noun is one of them
    some = info["attractors"] > 0
    assert 0.05 < recent_right[some].mean() < 0.9
    # a model that always says "singular": the majority baseline, accuracy 1/2
    logits = np.zeros((b.inputs.shape[0], b.size, 2))
    logits[..., 0] = 1.0
    m = task.metrics(logits, b)
    assert m["accuracy"] / b.size == pytest.approx((info["subject"] == 0).mean())
    assert m["recent_noun_accuracy"] / b.size == pytest.approx(recent_right.mean())
    num, den = m["accuracy_k0"]
    assert den == (info["attractors"] == 0).sum()


def test_the_recent_noun_heuristic_scores_as_described(batch):
    task, b = batch
    info = task.parse(b)
    logits = np.zeros((b.inputs.shape[0], b.size, 2))
    logits[info["verb_pos"], np.arange(b.size), info["recent"]] = 1.0  # predict the last noun's number
    m = task.metrics(logits, b)
    assert m["accuracy_k0"][0] == m["accuracy_k0"][1]  # always right without attractors
    assert m["accuracy"] == m["recent_noun_accuracy"]


@pytest.mark.parametrize("kw, msg", [
    (dict(T=16, max_attractors=5, max_nouns=4), "max_attractors: at most max_nouns=4"),
    (dict(T=6, max_attractors=3), "max_attractors: 3 attractors need a span of at least 9"),
    (dict(T=16, min_distance=0), r"min_distance: expected an int in \[1, T=16\]"),
    (dict(T=16, max_nouns=-1), "max_nouns: expected a non-negative int"),
])
def test_bad_parameters_are_refused(kw, msg):
    with pytest.raises(ValueError, match=msg):
        Agreement(**kw)


def test_it_trains_and_reports_accuracy_by_attractors(tmp_path):
    from lstmlab.training import TrainConfig, train
    res = train(TrainConfig(task="agreement", T=8, hidden=8, steps=20, batch_size=16, eval_every=20,
                            eval_size=64, optimizer="adam", lr=1e-2), tmp_path / "run", progress=False)
    f = res.final
    assert 0.0 <= f["accuracy"] <= 1.0 and "accuracy_k0" in f and "recent_noun_accuracy" in f
    assert make_task("agreement", 8).is_solved({"accuracy": 0.995})
