"""The agreement reproduction: its grid, and its report hooks on a tiny real sweep (number unit, plots, claims)."""
import json

import numpy as np
import pytest

from lstmlab.repro import available, write_report
from lstmlab.repro.papers.linzen2016 import attraction, by_k, steps_to_learn
from lstmlab.sweep import LocalExecutor, load_records, run_sweep
from lstmlab.training import TrainConfig
from lstmlab.training.records import versions


def test_grid_uses_the_language_model_objective_and_every_arm():
    r = available()["linzen2016"]
    quick, paper = r.configs("quick", 2), r.configs("paper", r.default_seeds["paper"])
    assert {c.variant for c in quick} == {"rnn", "lstm", "gru"} and len(quick) == 6
    assert {c.variant for c in paper} == {"rnn", "lstm", "gru", "cifg", "nfg"} and len(paper) == 20
    assert all(c.task == "agreement" and c.task_options == {"objective": "lm"} for c in quick + paper)
    assert {c.T for c in quick} == {40} and {c.T for c in paper} == {60}


def test_curve_readers():
    rec = {"curve": [{"step": 0, "accuracy": 0.5, "accuracy_k0": 0.5, "accuracy_k1": 0.5},
                     {"step": 100, "accuracy": 0.6, "accuracy_k0": 1.0, "accuracy_k1": 0.1},
                     {"step": 200, "accuracy": 0.995, "accuracy_k0": 1.0, "accuracy_k1": 0.99}]}
    assert by_k(rec["curve"][1]) == [1.0, 0.1]
    assert steps_to_learn(rec) == 200 and steps_to_learn(rec, at=0.999) is None
    assert attraction(rec) == (100, [1.0, 0.1])


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory):
    """A real two-arm sweep of a few steps, reported by the reproduction's own hooks."""
    repro = available()["linzen2016"]
    out = tmp_path_factory.mktemp("linzen")
    cfgs = [TrainConfig(task="agreement", T=9, variant=v, hidden=6, optimizer="adam", lr=1e-2, batch_size=16,
                        steps=30, seed=0, eval_size=64, eval_every=10, checkpoint_every=10,
                        task_options={"objective": "lm"}, extra={"label": v}) for v in ("rnn", "lstm")]
    recs = run_sweep("linzen2016", "quick", cfgs, out, LocalExecutor(workers=1), estimate=False)
    repro.prepare(recs, out)
    md = write_report(repro, recs, out, budget="quick", command="test", versions=versions())
    return repro, out, md


def test_the_number_unit_is_found_from_the_lstm_checkpoint(tiny_results):
    _, out, _ = tiny_results
    units = json.loads((out / "number_units.json").read_text())
    assert [u["variant"] for u in units] == ["lstm"]  # the tanh RNN has no cell state
    u = units[0]
    assert 0 <= u["unit"] < u["units"] == 6 and 0.0 <= u["accuracy"] <= 1.0 and -1 <= u["r"] <= 1
    assert u["accuracy"] >= u["median_unit_accuracy"] - 1e-12 or abs(u["r"]) >= u["median_unit_abs_r"]
    ex = u["examples"][0]
    assert ex["attractors"] > 0 and len(ex["c"]) == len(ex["f_act"]) == len(ex["tokens"])
    assert np.all(np.array(ex["f_act"]) > 0) and np.all(np.array(ex["f_act"]) < 1)


def test_report_sections_claims_and_plots(tiny_results):
    _, out, md = tiny_results
    assert "## Agreement at the verb by number of attractors" in md and "| most recent noun |" in md
    assert "## The number unit" in md and "a single cell unit (or very few) carries" in md
    assert "the gates matter" in md and "untestable" in md  # one seed per arm: no test can pass
    for f in ("agreement-by-attractors.png", "agreement-learning.png", "number-unit.png"):
        assert (out / f).exists(), f
    # a re-render without the checkpoints reads the analysis back
    for ck in out.glob("runs/*/checkpoint.lstmlab"):
        ck.unlink()
    repro = available()["linzen2016"]
    md2 = write_report(repro, list(load_records(out).values()), out, budget="quick", command="test",
                       versions=versions())
    assert "## The number unit" in md2
