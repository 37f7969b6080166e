"""The agreement task against its specification (Agreement's docstring)."""
import math

import numpy as np
import pytest

from lstmlab.tasks import make_task
from lstmlab.tasks.agreement import FILLERS, N_TOKENS, NOUN0, PREPS, RC_VERB0, THAT, THE, VERB, VERB_FORM0, Agreement


def _number(tok):
    return int(tok - NOUN0) % 2


def _is_noun(tok):
    return NOUN0 <= tok < RC_VERB0


@pytest.fixture(scope="module", params=["lm", "number"])
def batch(request):
    task = Agreement(16, max_attractors=3, max_nouns=4, objective=request.param)
    return task, task.sample(np.random.default_rng(7), 2000)


def _sentence(task, b, j):
    """The whole sentence of column j (the verb token restored in the lm objective), and its verb's number."""
    n = int(b.lengths[j])
    toks = list(b.inputs[:n, j])
    if task.objective == "lm":
        return toks + [VERB], int(b.targets[n - 1, j]) - VERB_FORM0
    return toks, int(b.targets[n - 1, j])


def test_positions_numbers_and_weights(batch):
    task, b = batch
    B = b.size
    assert b.inputs.shape == (task.seq_len(), B) and b.inputs.max() < task.n_symbols
    preamble_lengths = []
    for j in range(B):
        n = int(b.lengths[j])
        toks, verb_number = _sentence(task, b, j)
        assert toks[-1] == VERB and VERB not in toks[:-1]
        # the preamble: m fronted PPs, then "the" SUBJECT
        m = 0
        while toks[3 * m] in PREPS:
            assert toks[3 * m + 1] == THE and _is_noun(toks[3 * m + 2])
            m += 1
        preamble_lengths.append(m)
        assert m <= task.preamble and toks[3 * m] == THE and _is_noun(toks[3 * m + 1])
        assert verb_number == _number(toks[3 * m + 1])  # the verb agrees with the subject
        span = toks[3 * m + 2:-1]
        assert task.min_distance <= len(span) <= task.T
        allowed = set(PREPS) | set(FILLERS) | {THE, THAT} | set(range(NOUN0, RC_VERB0 + 2))
        assert set(span) <= allowed
        for i, t in enumerate(span):  # a relative clause's verb follows its noun and agrees with it
            if t >= RC_VERB0:
                assert _number(span[i - 1]) == t - RC_VERB0 and span[i - 3] == THAT
        if task.objective == "lm":  # next-token targets everywhere, the verb's form last
            assert b.weights[:n, j].sum() == n and b.weights[n:, j].sum() == 0
            assert list(b.targets[:n - 1, j]) == toks[1:n]
        else:  # scored at the verb only
            assert b.weights[:, j].sum() == 1.0 and b.weights[n - 1, j] == 1.0
    assert set(preamble_lengths) == set(range(task.preamble + 1))


def test_parse_recovers_what_the_generator_drew(batch):
    task, b = batch
    info = task.parse(b)
    for j in range(0, b.size, 7):
        toks, verb_number = _sentence(task, b, j)
        s = int(info["subject_pos"][j])
        assert toks[s - 1] == THE and (s < 2 or toks[s - 2] not in PREPS + (THAT,))
        assert info["subject"][j] == verb_number
        assert info["distance"][j] == len(toks) - 2 - s
        between = [_number(t) for t in toks[s + 1:-1] if _is_noun(t)]
        assert info["attractors"][j] == sum(x != verb_number for x in between)
        assert info["recent"][j] == (between[-1] if between else verb_number)
        assert info["first"][j] == _number(next(t for t in toks if _is_noun(t)))
        assert info["predict_pos"][j] == b.lengths[j] - 1


def test_training_draws_attractors_at_the_rate_and_the_heldout_set_is_stratified():
    task = Agreement(24, attractor_rate=0.3)
    info = task.parse(task.sample(np.random.default_rng(3), 3000))
    toks = task.sample(np.random.default_rng(3), 3000)
    nouns = np.array([sum(1 for t in toks.inputs[int(s) + 1:int(n), j] if _is_noun(t))
                      for j, (s, n) in enumerate(zip(info["subject_pos"], toks.lengths))])
    assert info["attractors"].sum() / nouns.sum() == pytest.approx(0.3, abs=0.03)
    assert info["attractors"].max() <= task.max_attractors
    counts = np.zeros(task.max_attractors + 1)
    for hb in task.heldout(3000, seed=0):
        counts += np.bincount(task.parse(hb)["attractors"], minlength=task.max_attractors + 1)
    share = counts / counts.sum()
    assert share.min() > 0.12 and share.max() < 0.3  # every count well represented (uniform k given fit)
    # the held-out set is a stream of its own: a different seed, different sentences
    assert not np.array_equal(task.heldout(64, 0)[0].inputs, task.heldout(64, 1)[0].inputs)


def test_baselines_recomputed_from_the_data():
    lm, num = Agreement(16), Agreement(16, objective="number")
    assert num.baseline() == pytest.approx(math.log(2))
    b = lm.sample(np.random.default_rng(11), 4000)  # the unigram entropy of next tokens, recomputed
    p = np.bincount(b.targets[b.weights > 0], minlength=N_TOKENS) / (b.weights > 0).sum()
    p = p[p > 0]
    assert lm.baseline() == pytest.approx(float(-(p * np.log(p)).sum()), rel=0.02)
    assert lm.baseline() < math.log(N_TOKENS)


def test_heuristics_and_the_majority_class_score_as_described(batch):
    task, b = batch
    info = task.parse(b)
    recent_right = info["recent"] == info["subject"]
    assert recent_right[info["attractors"] == 0].all()  # no attractor: the last noun has the subject's number
    some = info["attractors"] > 0
    assert 0.05 < recent_right[some].mean() < 0.9
    first_right = info["first"] == info["subject"]
    assert first_right[info["subject_pos"] == 1].all() and not first_right.all()  # a preamble noun misleads
    K = task.output_size
    always_singular = np.zeros((b.inputs.shape[0], b.size, K))
    always_singular[..., 0 if task.objective == "number" else VERB_FORM0] = 1.0
    m = task.metrics(always_singular, b)
    assert m["accuracy"] / b.size == pytest.approx((info["subject"] == 0).mean())
    assert m["recent_noun_accuracy"] / b.size == pytest.approx(recent_right.mean())
    assert m["first_noun_accuracy"] / b.size == pytest.approx(first_right.mean())
    assert m["accuracy_k0"][1] == (info["attractors"] == 0).sum()
    # a model that follows the most recent noun scores exactly the heuristic
    recent = np.zeros_like(always_singular)
    off = 0 if task.objective == "number" else VERB_FORM0
    recent[info["predict_pos"], np.arange(b.size), off + info["recent"]] = 1.0
    m = task.metrics(recent, b)
    assert m["accuracy_k0"][0] == m["accuracy_k0"][1] and m["accuracy"] == m["recent_noun_accuracy"]
    for k in range(1, task.max_attractors + 1):
        assert m[f"accuracy_k{k}"] == m[f"recent_noun_accuracy_k{k}"]


def test_task_options_reach_the_task_through_the_config(tmp_path):
    from lstmlab.sweep import run_id
    from lstmlab.training import TrainConfig
    cfg = TrainConfig(task="agreement", T=8, task_options={"objective": "number", "preamble": 0})
    task = cfg.validate().make_task()
    assert task.objective == "number" and task.preamble == 0 and task.output_size == 2
    with pytest.raises(ValueError, match="task_options: task 'agreement' has no option 'objectiv'; its options: "
                                         "objective, preamble"):
        TrainConfig(task="agreement", T=8, task_options={"objectiv": "lm"}).validate()
    with pytest.raises(ValueError, match="task_options: task 'copy' has no option 'x'; its options: none"):
        TrainConfig(task="copy", T=8, task_options={"x": 1}).validate()
    # no options: the run id is what it was before the field existed
    plain = TrainConfig(task="adding", T=10)
    assert run_id(plain, "lstm") == run_id(TrainConfig.from_dict(
        {k: v for k, v in plain.to_dict().items() if k != "task_options"}), "lstm")
    assert run_id(plain, "lstm") != run_id(TrainConfig(task="adding", T=10, task_options={"a": 1}), "lstm")


@pytest.mark.parametrize("kw, msg", [
    (dict(T=16, max_attractors=5, max_nouns=4), "max_attractors: at most max_nouns=4"),
    (dict(T=6, max_attractors=3), "max_attractors: 3 attractors need a span of at least 9"),
    (dict(T=16, min_distance=0), r"min_distance: expected an int in \[1, T=16\]"),
    (dict(T=16, max_nouns=-1), "max_nouns: expected a non-negative int"),
    (dict(T=16, preamble=1.5), "preamble: expected a non-negative int, got 1.5"),
    (dict(T=16, attractor_rate=1.2), r"attractor_rate: expected a probability in \[0, 1\], got 1.2"),
    (dict(T=16, objective="mlm"), "objective: expected one of 'lm', 'number', got 'mlm'"),
])
def test_bad_parameters_are_refused(kw, msg):
    with pytest.raises(ValueError, match=msg):
        Agreement(**kw)


@pytest.mark.parametrize("objective", ["lm", "number"])
def test_it_trains_and_reports_accuracy_by_attractors(tmp_path, objective):
    from lstmlab.training import TrainConfig, train
    res = train(TrainConfig(task="agreement", T=8, hidden=8, steps=20, batch_size=16, eval_every=20,
                            eval_size=64, optimizer="adam", lr=1e-2, task_options={"objective": objective}),
                tmp_path / "run", progress=False)
    f = res.final
    assert 0.0 <= f["accuracy"] <= 1.0 and "accuracy_k0" in f and "recent_noun_accuracy" in f
    assert make_task("agreement", 8).is_solved({"accuracy": 0.995})
