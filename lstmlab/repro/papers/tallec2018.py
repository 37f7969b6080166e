"""Tallec & Ollivier (2018): chrono initialisation against the default forget bias on copy and adding."""

from lstmlab.repro import Reproduction, beat_claim, compare, register_reproduction
from lstmlab.repro.base import ADDING_CONVINCING, ADDING_CONVINCING_RULE, compare_steps
from lstmlab.training import TrainConfig

ARMS = {"lstm-fb1": dict(variant="lstm", init="default"), "lstm-chrono": dict(variant="lstm", init="chrono"),
        "rnn": dict(variant="rnn", recurrent_init="orthogonal")}   # floor: an orthogonal tanh RNN
#: The paper's adding experiments (its Sec. 3): T = 200 and 750, 128 units, chrono with T_max = T,
#: RMSProp 1e-3 without clipping, plotted to 1,000 and 5,000 iterations. Its batch size is not stated (20 here).
ADDING_STEPS = {200: 1000, 750: 5000}
#: On adding the paper reports that both initialisations converge and chrono "7 times faster for T = 750".
#: On copy (T = 500 and 2000) its figures run to about 60,000 iterations.
COPY_PAPER_STEPS = 60_000
PAPER_BEATS = {"lstm-fb1": (200, 750), "lstm-chrono": (200, 750)}


def steps_below(record, fraction):
    """The first evaluated step at which the held-out loss is below ``fraction`` x the baseline, or None."""
    for c in record.get("curve", []):
        if c.get("baseline") and c["loss"] < fraction * c["baseline"]:
            return c["step"]
    return None


@register_reproduction()
class Tallec2018(Reproduction):
    name = "tallec2018"
    title = "Tallec & Ollivier 2018: chrono initialisation on the copy and adding tasks"
    paper = ("Tallec & Ollivier 2018, \"Can recurrent neural networks warp time?\", ICLR, arXiv:1804.11188")
    description = ("An LSTM (128 units; quick: 64) with the forget bias at 1 (the usual default) against chrono "
                   "initialisation (b_f = log U[1, T_max - 1], b_i = -b_f). Copy at a long delay (paper budget "
                   "T = 500, 5,000 steps, 2 seeds, T_max = T + 10, gradient norm clipped at 1; the paper trained "
                   "about 60,000 iterations with T_max = 3T/2 and no clipping), with an orthogonally initialised "
                   "tanh RNN as the floor; and, at the paper budget, the paper's adding experiments at the paper's "
                   "own budgets: T = 200 for 1,000 steps and T = 750 for 5,000, T_max = T, no clipping, twice the "
                   "copy's seeds (4 by default: the fewest at which the exact test can separate two arms). RMSProp "
                   "1e-3, decay 0.9, batch 20 throughout (the paper does not state its batch size).")
    default_seeds = {"quick": 1, "paper": 2}
    beat_fractions = {"adding": ADDING_CONVINCING}
    beats_rule = ADDING_CONVINCING_RULE

    def budget_note(self, budget):
        if budget == "quick":
            return ("no honest quick version found: in our trials (copy at T = 100 with Adam for 2,000 steps, "
                    "T = 200 for 400 steps here, and adding at T = 200 for the paper's 1,000 RMSProp steps) "
                    "neither initialisation left the baseline, so this budget checks the pipeline only.")
        return ("copy is cut to 5,000 of the paper's ~60,000 iterations (and uses T_max = T + 10 and clipping where "
                "the paper used 3T/2 and none), so its claims read as not reproduced at this budget; the adding "
                "runs use the paper's own budgets and set-up, except the batch size, which it does not state.")

    def configs(self, budget, seeds):
        quick = budget == "quick"
        out = [TrainConfig(task="copy", T=200 if quick else 500, hidden=64 if quick else 128,
                           optimizer="rmsprop", lr=1e-3, decay=0.9, clip=1.0, batch_size=20,
                           steps=400 if quick else 5000, seed=seed, eval_size=200 if quick else 1000,
                           eval_every=25 if quick else 100, checkpoint_every=50 if quick else 500,
                           extra={"label": label}, **opts)
               for seed in range(seeds) for label, opts in ARMS.items()]
        if not quick:
            out += [TrainConfig(task="adding", T=T, hidden=128, optimizer="rmsprop", lr=1e-3, decay=0.9, clip=None,
                                batch_size=20, steps=steps, seed=seed, eval_size=500, eval_every=steps // 40,
                                checkpoint_every=500, t_max=T if label == "lstm-chrono" else None,
                                extra={"label": label}, **ARMS[label])
                    for T, steps in ADDING_STEPS.items() for seed in range(2 * seeds)
                    for label in ("lstm-fb1", "lstm-chrono")]
        return out

    def claims(self, groups):
        out = []
        copy = {g.label: g for g in groups.values() if g.task == "copy"}
        if copy:
            def recall(k):
                return sum(r["final"].get("recall_accuracy", 0) for r in copy[k].done) / max(len(copy[k].done), 1)

            def fmt(k):
                return (f"{copy[k].ratio:.3f} x baseline, recall accuracy {recall(k):.3f}"
                        if k in copy and copy[k].done else "not run")
            T = sorted({g.T for g in copy.values()})
            out += [("copy: with the usual forget bias the LSTM stalls at the copy baseline for long delays",
                     beat_claim(groups, "copy", "lstm-fb1", (), paper_steps=COPY_PAPER_STEPS)
                     + f"; forget bias 1: {fmt('lstm-fb1')}"),
                    ("copy: chrono initialisation lets it learn the copy task where the default stalls",
                     beat_claim(groups, "copy", "lstm-chrono", T, paper_steps=COPY_PAPER_STEPS)
                     + f"; chrono: {fmt('lstm-chrono')}; against forget bias 1: "
                     + (compare(copy['lstm-chrono'], copy['lstm-fb1']) if 'lstm-chrono' in copy and 'lstm-fb1' in copy
                        else "not run")),
                    ("(floor, not in the paper) an orthogonal tanh RNN", f"rnn: {fmt('rnn')}")]
        adding = {(g.T, g.label): g for g in groups.values() if g.task == "adding"}
        if adding:
            caveat = " (within 1,000 and 5,000 iterations; the paper's batch size is not stated, ours is 20)"
            for label, said in (("lstm-fb1", "adding: the LSTM with forget bias 1 converges at T = 200 and 750"),
                                ("lstm-chrono", "adding: the LSTM with chrono initialisation converges at T = 200 "
                                                "and 750")):
                out.append((said + caveat, beat_claim(groups, "adding", label, PAPER_BEATS[label],
                                                      paper_steps=ADDING_STEPS, paper_T=tuple(ADDING_STEPS))))
            for T in sorted({T for T, _ in adding}):
                if (T, "lstm-chrono") in adding and (T, "lstm-fb1") in adding:
                    out.append((f"adding, T = {T}: chrono converges faster than forget bias 1"
                                + (" (7 times faster at T = 750)" if T == 750 else ""),
                                self._faster(adding[(T, "lstm-chrono")], adding[(T, "lstm-fb1")])))
                    # the same claim read at equal budget: the final held-out loss after the paper's steps
                    out.append((f"adding, T = {T}: after the paper's {ADDING_STEPS.get(T, 0):,} steps chrono's "
                                f"loss is lower than forget bias 1's",
                                compare(adding[(T, "lstm-chrono")], adding[(T, "lstm-fb1")])))
        return out

    @staticmethod
    def _faster(a, b):
        """Steps to reach the 'convincingly beats' level per seed (:func:`compare_steps`)."""
        budget = max(r["config"]["steps"] for g in (a, b) for r in g.done)
        return compare_steps([steps_below(r, ADDING_CONVINCING) for r in a.done],
                             [steps_below(r, ADDING_CONVINCING) for r in b.done], budget,
                             what=f"{ADDING_CONVINCING}x the baseline", labels=("chrono", "forget bias 1"))
