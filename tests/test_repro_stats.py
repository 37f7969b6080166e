"""The verdict rules of the reproductions' reports: beating counts, exact tests, claims against the paper."""
import itertools

import numpy as np
import pytest

from lstmlab.repro import Group, beat_claim, compare, compare_groups
from lstmlab.repro.base import fisher_p, permutation_p


def _group(losses, T=100, label="lstm", baseline=1.0, steps=1000, beats_at=0.9):
    recs = [{"status": "done", "seed": i, "final": {"loss": v, "baseline": baseline}, "solved": v < 0.01,
             "config": {"steps": steps}} for i, v in enumerate(losses)]
    return Group("adding", T, label, recs, beats_at)


def test_group_counts_and_median_verdict():
    g = _group([0.01, 0.02, 1.0])
    assert g.beats == 2 and g.solved == 0 and g.median == 0.02 and g.beats_baseline
    assert not _group([0.01, 1.0, 1.1]).beats_baseline          # one lucky seed of three does not decide
    assert _group([0.3, 0.3], beats_at=0.25).beats == 0


def test_rank_test_is_the_exact_enumeration():
    a, b = [0.1, 0.2, 0.15], [1.0, 0.9, 1.1]
    # the observed split is the most extreme of C(6, 3) = 20, and so is its mirror
    assert permutation_p(a, b) == pytest.approx(2 / 20)
    assert permutation_p([0.1, 0.2], [1.0, 0.9]) == pytest.approx(1 / 3)   # 2 vs 2 can never be significant
    pool = np.array([1.0, 3.0, 2.0, 4.0])      # the ranks of 0.3, 0.5, 0.4, 0.9
    obs = abs(pool[:2].mean() - pool[2:].mean())
    ref = np.mean([abs(pool[list(c)].mean() - np.delete(pool, c).mean()) >= obs - 1e-12
                   for c in itertools.combinations(range(4), 2)])
    assert permutation_p([0.3, 0.5], [0.4, 0.9]) == pytest.approx(ref)
    assert fisher_p(4, 4, 0, 4) == pytest.approx(2 / 70)


def test_compare_says_within_noise_unless_the_tests_separate_the_arms():
    lstm = _group([1e-3, 2e-3, 1e-3, 3e-3])
    rnn = _group([1.0, 1.01, 0.99, 1.02], label="rnn")
    c = compare_groups(lstm, rnn)
    assert c.word == "lower" and c.p_beat < 0.05
    assert compare(lstm, rnn).startswith("lstm lower than rnn")
    assert compare(_group([1e-3, 2e-3]), _group([1.0, 1.1], label="rnn")).startswith(
        "cannot be tested with 2 and 2 seeds (smallest attainable p 0.33)")
    assert compare(_group([0.5, 1.0, 0.4, 0.3]), _group([0.6, 0.9, 0.5, 0.2], label="x")).startswith("within noise")


def test_non_finite_losses_count_as_the_worst():
    good = _group([0.1, 0.1, 0.1, 0.1])
    blown = _group([0.1, float("nan"), 0.1, float("inf")], label="irnn")
    assert np.all(np.isfinite(blown.losses())) and blown.beats == 2 and not blown.beats_baseline
    c = compare_groups(blown, good)
    assert c.word == "within noise" and 0 < c.p_loss <= 1      # not p = 0 from a NaN
    assert compare_groups(_group([float("nan")] * 4, label="irnn"), good).word == "higher"


def test_majority_rule_with_two_seeds():
    assert not _group([0.05, 1.0]).beats_baseline        # the median (0.525) would have said "beats"
    assert _group([0.05, 0.1, 1.0]).beats_baseline


def test_beat_claim_verdicts():
    groups = {("adding", T, "lstm"): _group(v, T=T, steps=s) for T, v, s in
              ((100, [0.01, 0.02], 30000), (200, [1.0, 1.0], 30000), (400, [1.0, 1.0], 1000))}
    text = beat_claim(groups, "adding", "lstm", (100, 200, 400), paper_steps={100: 30000, 200: 30000, 400: 36000})
    assert "**contradicted**: ours does not beat the baseline at T=200" in text
    assert ("**not reproduced at this budget**: ours does not beat the baseline at T=400 (1,000 steps against "
            "the paper's ~36,000)") in text
    assert beat_claim(groups, "adding", "lstm", (100,), paper_steps=30000).startswith("**contradicted**") is False
    assert beat_claim(groups, "adding", "lstm", (100,)).startswith("**agrees**")
    assert beat_claim(groups, "adding", "lstm", ()).startswith("**contradicted**: ours beats the baseline at T=100")
    assert beat_claim(groups, "adding", "rnn", ()) == "not run"


def test_beat_claim_by_the_solved_rule():
    groups = {("adding", 100, "nfg"): _group([0.001, 0.002, 0.5], label="nfg", steps=4000)}
    assert beat_claim(groups, "adding", "nfg", (100,), solved=True).startswith("**agrees** at T=100; T=100: solved 2/3")
    assert "**contradicted**: ours solves it at T=100" in beat_claim(groups, "adding", "nfg", (), solved=True)


def test_estimate_beside_the_runs_only_for_invocations_that_finished_them(tmp_path):
    from lstmlab.repro.report import _markdown
    from lstmlab.repro.run import INVOCATIONS

    class R:
        title, description, paper = "t", "d", "p"
        beats_rule = ""

        def budget_note(self, budget):
            return ""

        def claims(self, groups):
            return []

        def sections(self, groups):
            return []
    (tmp_path / INVOCATIONS).write_text(
        '{"seconds": 70, "runs_recorded": 4, "runs_to_run": 4, "estimate_seconds": 60, "runs_seconds": 50}\n'
        '{"seconds": 30, "runs_recorded": 1, "runs_to_run": 3, "estimate_seconds": 90, "runs_seconds": 20}\n')
    md = _markdown(R(), {}, "quick", "cmd", {}, None, [], tmp_path)
    assert "estimate printed before the runs: 1.0 min; the runs then took 0.8 min (0.83x" in md


def test_wall_time_sums_the_invocations_that_recorded_runs(tmp_path):
    from lstmlab.repro.report import _invocations
    from lstmlab.repro.run import INVOCATIONS
    (tmp_path / INVOCATIONS).write_text('{"seconds": 60.0, "runs_recorded": 3}\n{"seconds": 30.0, "runs_recorded": 1}\n'
                                        '{"seconds": 0.2, "runs_recorded": 0}\n{"seconds": 9')   # a cut line
    assert _invocations(tmp_path) == (90.0, 2)


def test_estimate_packs_runs_and_survives_a_cell_that_blows_up(tmp_path):
    from lstmlab.sweep.sweep import estimate_seconds, measure_costs, pack, specs_for
    from lstmlab.training import TrainConfig
    base = dict(task="adding", T=10, hidden=8, batch_size=8, eval_every=10, eval_size=16, checkpoint_every=10)
    blowup = TrainConfig(variant="irnn", optimizer="sgd", lr=100.0, clip=None, steps=20, **base)
    long = TrainConfig(variant="rnn", steps=400, **base)
    short = [TrainConfig(variant="rnn", steps=20, seed=s, **base) for s in range(3)]
    specs = specs_for([blowup, long, *short], tmp_path)
    secs, per_shape = estimate_seconds(specs, workers=2)
    assert len(per_shape) == 2 and secs > 0              # the blow-up was measured, not fatal
    # packed longest first (one measurement, so timing noise cannot move the ratio): the long run
    # sits alone on one worker, so two workers save only the short runs' share, far from half
    costs, _ = measure_costs(specs)
    import os

    from lstmlab.sweep import sweep
    two, serial = pack(costs, 2), pack(costs, 1)
    assert max(costs) > sum(costs) - max(costs)           # the premise: the long run outweighs the rest
    slow = sweep.CONTENTION if (os.cpu_count() or 1) <= 2 else 1.0  # two workers share a 2-core machine
    assert two == pytest.approx(max(costs) * slow) and serial == pytest.approx(sum(costs))
    assert 0.55 * serial < two


def test_pooled_divides_each_seed_by_its_own_baseline():
    from lstmlab.repro import pooled
    groups = {("adding", T, "lstm"): _group([b * 0.1, b * 0.2], T=T, baseline=b) for T, b in ((100, 0.5), (200, 2.0))}
    g = pooled(groups, "adding", "lstm")
    np.testing.assert_allclose(sorted(g.losses()), [0.1, 0.1, 0.2, 0.2])
    assert g.baseline == 1.0 and g.beats == 4


def test_a_negative_at_a_shorter_budget_is_only_consistent():
    groups = {("adding", 100, "rnn"): _group([1.0, 1.0], label="rnn", steps=2500)}
    text = beat_claim(groups, "adding", "rnn", (), paper_steps={100: 30000})
    assert text.startswith("**consistent at this shorter budget** (T=100: 2,500 steps against the paper's ~30,000)")
    assert beat_claim(groups, "adding", "rnn", (), paper_steps={100: 2500}).startswith("**agrees**")
    with pytest.raises(ValueError, match=r"paper_steps: no entry for T=100 \(has \[200\]\)"):
        beat_claim(groups, "adding", "rnn", (), paper_steps={200: 1})


def test_one_diverged_seed_cannot_hide_a_consistent_difference():
    # 7 of 8 seeds far below every seed of the other arm, the 8th blown up: the rank test sees 7/8
    irnn = _group([0.01, 0.02, 0.015, 0.03, 0.011, 0.05, 0.02, 1e65], label="irnn")
    rnn = _group([1.0, 1.02, 0.99, 1.05, 1.01, 1.03, 0.98, 1.04], label="rnn")
    c = compare_groups(irnn, rnn)
    assert c.word == "lower" and c.p_loss < 0.01


def test_beat_claim_gives_no_verdict_from_a_split_of_seeds():
    groups = {("adding", 100, "nfg"): _group([0.005, 0.5], label="nfg", steps=4000),
              ("adding", 500, "nfg"): _group([0.005, 0.002], T=500, label="nfg", steps=4000)}
    text = beat_claim(groups, "adding", "nfg", (100, 500), solved=True, paper_steps=4000)
    assert "**contradicted**" not in text
    assert text.startswith("**undecided** (as many seeds each way) at T=100 (1/2 seeds); **agrees** at T=500")


def test_beat_claim_names_divergence_and_the_paper_T_not_run():
    groups = {("adding", 200, "irnn"): _group([float("nan"), 1e40, 0.01], T=200, label="irnn"),
              ("adding", 100, "lstm"): _group([0.01, 0.02, 0.01])}
    assert beat_claim(groups, "adding", "irnn", (200,)).startswith(
        "**diverged**: ours does not beat the baseline at T=200 (2/3 seeds blew up)")
    text = beat_claim(groups, "adding", "lstm", (100, 200, 400))
    assert text.startswith("**agrees** at T=100; the paper's T=200, 400 not run here (or no seed finished)")
    # blown-up seeds where the paper says the arm does not beat the baseline are still named, not "agreeing"
    assert beat_claim(groups, "adding", "irnn", ()).startswith("**diverged**")
    assert "the paper's T=100 not run here" in beat_claim(groups, "adding", "irnn", (200,), paper_T=(100, 200))


def test_split_verdict_detail_and_divergence_by_skipped_updates():
    from lstmlab.repro.base import fmt_verdict
    assert fmt_verdict(_group([0.05, 1.0])).startswith("T=100: split (1/2 seeds")
    g = _group([0.5, 0.6, 1.0])
    g.records[0]["skipped"] = 600                          # more than half of 1,000 updates skipped
    g.records[2]["final"]["loss"] = 2e3                    # above 1000x the baseline
    assert g.diverged == 2


def test_rank_test_with_ties_and_blown_up_seeds():
    # two blown-up seeds tie as the worst; equal plateau losses tie: mid-ranks, a valid p, the right direction
    a = _group([float("nan"), float("inf"), 0.5, 0.5], label="a")
    b = _group([0.5, 0.5, 0.5, 0.5], label="b")
    c = compare_groups(a, b)
    assert 0 < c.p_loss <= 1 and c.word == "within noise"
    assert permutation_p([1.0, 1.0, 1.0], [1.0, 1.0, 1.0]) == 1.0
    low = _group([0.01, 0.02, 0.01, 0.01], label="low")
    assert compare_groups(low, _group([1.0, 1.0, float("nan"), float("nan")], label="x")).word == "lower"


def test_greff_component_verdicts_need_an_arm_off_the_plateau():
    from lstmlab.repro.papers.greff2017 import _versus
    vanilla = _group([1.0, 1.0, 0.99, 1.0], label="peephole")
    nfg = _group([1.05, 1.06, 1.05, 1.07], label="nfg")
    assert _versus(nfg, vanilla, hurts=True).startswith("**not shown** (no seed of either arm left the baseline)")
    solved = _group([0.01, 0.02, 0.01, 0.03], label="peephole")
    assert _versus(nfg, solved, hurts=True).startswith("**agrees**: higher than vanilla")


def test_tallec_faster_counts_steps_to_the_convincing_level():
    from lstmlab.repro.papers.tallec2018 import Tallec2018, steps_below

    def run(steps_to, total=5000):   # a curve that reaches 0.1x the baseline at steps_to (never: None)
        curve = [{"step": s, "loss": 0.1 if steps_to is not None and s >= steps_to else 1.0, "baseline": 1.0}
                 for s in range(0, total + 1, 500)]
        return {"status": "done", "curve": curve, "config": {"steps": total},
                "final": {"loss": curve[-1]["loss"], "baseline": 1.0}}
    assert steps_below(run(1500), 0.25) == 1500 and steps_below(run(None), 0.25) is None
    from lstmlab.repro import Group
    fast = Group("adding", 750, "lstm-chrono", [run(s) for s in (500, 1000, 500, 1000)], 0.25)
    slow = Group("adding", 750, "lstm-fb1", [run(s) for s in (3500, None, 4000, None)], 0.25)
    assert Tallec2018._faster(fast, slow).startswith("**agrees**")
    assert Tallec2018._faster(slow, fast).startswith("**contradicted**")
    never = Group("adding", 750, "lstm-fb1", [run(None) for _ in range(4)], 0.25)
    assert Tallec2018._faster(never, never).startswith("**not shown**")

