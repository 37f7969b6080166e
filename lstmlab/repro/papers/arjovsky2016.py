"""Arjovsky, Shah & Bengio (2016), Sec. 4: tanh RNN, IRNN and LSTM on the copy and adding tasks."""

from lstmlab.repro import Reproduction, beat_claim, compare, pooled, register_reproduction
from lstmlab.repro.base import ADDING_CONVINCING, ADDING_CONVINCING_RULE
from lstmlab.training import TrainConfig

COPY_T = (100, 200, 300, 500)
ADDING_T = (100, 200, 400, 750)
#: The paper's hidden sizes: about 6,500 parameters each on copy; 128 units on adding.
SIZES = {"copy": {"rnn": 80, "irnn": 80, "lstm": 40}, "adding": {"rnn": 128, "irnn": 128, "lstm": 128}}
ARMS = ("rnn", "irnn", "lstm")
#: Training steps of the paper's figures (x-axis ends, batch 20): copy 10^6 examples;
#: adding 30k / 47k / 36k / 100k steps at T = 100 / 200 / 400 / 750.
PAPER_STEPS = {"copy": {T: 50_000 for T in COPY_T}, "adding": {100: 30_000, 200: 47_000, 400: 36_000, 750: 100_000}}
#: What this repository's paper budget trains (cut to fit about 4 hours on 2 cores).
OUR_STEPS = {"copy": {100: 50_000, 200: 10_000, 300: 5_000, 500: 3_000},
             "adding": {100: 30_000, 200: 15_000, 400: 6_000, 750: 3_000}}
#: Where the paper reports each arm beating the baseline (uRNN for reference only: not built).
#: Adding counts "convincingly" (below ADDING_CONVINCING x); at T = 750 the paper's LSTM "does well"
#: but ends near 0.5-0.6x, reported on its own line.
PAPER_BEATS = {"copy": {"rnn": (), "irnn": (), "lstm": (100,)},
               "adding": {"rnn": (), "irnn": (), "lstm": (100, 200, 400)}}
QUICK = dict(task="adding", T=100, hidden=64, steps=2500, batch_size=32, optimizer="adam", lr=1e-2)


@register_reproduction()
class Arjovsky2016(Reproduction):
    name = "arjovsky2016"
    title = "Arjovsky et al. 2016: tanh RNN, IRNN and LSTM on copy memory and adding"
    paper = ("Arjovsky, Shah & Bengio 2016, \"Unitary Evolution Recurrent Neural Networks\", ICML, "
             "arXiv:1511.06464, Sec. 4")
    description = (
        "Copy task at T in {100, 200, 300, 500} with the paper's sizes for about 6,500 parameters (tanh RNN 80, "
        "IRNN 80, LSTM 40 units); adding task at T in {100, 200, 400, 750}, 128 units each. As in the paper and "
        "its released code: RMSProp (learning rate 1e-3, decay 0.9), gradients clipped element-wise at 1, batch "
        "20, LSTM forget bias 1, IRNN with R = I and zero biases. The paper found the IRNN \"particularly unstable\" "
        "under this optimiser; here its non-finite updates are skipped and counted (listed below the tables) "
        "rather than ending the run. The paper's uRNN is not a gated cell and is not "
        "built; its reported outcome is set beside ours. Quick budget: the adding task at T = 100 only, with Adam "
        "(1e-2), batch 32, 64 units and 2,500 steps, 4 seeds (the fewest at which the exact tests can tell two arms "
        "apart), chosen so that the paper's central contrast (gates against plain recurrence) can show within "
        "minutes: in our trials with Adam at 1e-2 the LSTM left the plateau within about 1,800 steps in every "
        "seed (at 3e-3 some seeds needed more than 2,000).")
    default_seeds = {"quick": 4, "paper": 2}
    beat_fractions = {"adding": ADDING_CONVINCING}
    beats_rule = ADDING_CONVINCING_RULE

    def budget_note(self, budget):
        if budget == "quick":
            return ("adding at T = 100 only, Adam 1e-2 for 2,500 steps (not the paper's RMSProp 1e-3 for about "
                    "30,000 steps): a short set-up in which gated and plain cells can be told apart in minutes. "
                    "It says nothing about the copy task or about T > 100; the paper budget does.")
        return ("cut to fit about 4 hours on 2 cores: " + ", ".join(
            f"{task} T={T}: {OUR_STEPS[task][T]:,} of the paper's ~{PAPER_STEPS[task][T]:,} steps"
            for task in ("copy", "adding") for T in OUR_STEPS[task])
            + ". A claim not shown within fewer steps than the paper's is reported as not reproduced at this "
              "budget, never as agreeing.")

    def configs(self, budget, seeds):
        quick = budget == "quick"
        out = []
        for seed in range(seeds):
            if quick:
                out += [TrainConfig(variant=arm, clip=1.0, seed=seed, eval_size=500, eval_every=100,
                                    checkpoint_every=500, extra={"label": arm}, **QUICK) for arm in ARMS]
                continue
            for task, Ts in (("copy", COPY_T), ("adding", ADDING_T)):
                for T in Ts:
                    steps = OUR_STEPS[task][T]
                    out += [TrainConfig(task=task, T=T, variant=arm, hidden=SIZES[task][arm], optimizer="rmsprop",
                                        lr=1e-3, decay=0.9, clip=1.0, clip_mode="value", batch_size=20,
                                        steps=steps, seed=seed, eval_size=500, eval_every=max(steps // 50, 25),
                                        checkpoint_every=500, extra={"label": arm},
                                        on_nonfinite="skip" if arm == "irnn" else "stop")
                            for arm in ARMS]
        return out

    def claims(self, groups):
        tasks = sorted({g.task for g in groups.values()}, key=("copy", "adding").index)
        out = []
        for task in tasks:
            paper = PAPER_BEATS[task]
            steps = PAPER_STEPS[task]
            for arm in ARMS:
                said = (f"beats the baseline at T={', '.join(map(str, paper[arm]))}" if paper[arm]
                        else "never beats the baseline")
                out.append((f"{task}, {arm}: {said}", beat_claim(groups, task, arm, paper[arm], paper_steps=steps,
                                                                  paper_T=COPY_T if task == "copy" else ADDING_T)))
            if task == "adding":
                g750 = [g for g in groups.values() if g.task == "adding" and g.T == 750 and g.label == "lstm"]
                if g750 and g750[0].done:
                    g = g750[0]
                    out.append(("adding, lstm, T = 750: does well, but the MSE does not come near 0 (the paper's "
                                "curve ends near 0.08-0.1, about 0.5-0.6x the baseline)",
                                f"median final MSE {g.median:.3g} ({g.median_ratio:.3g}x the baseline), seeds "
                                + ", ".join(f"{x:.3g}" for x in g.losses())))
            out.append((f"{task}, uRNN (not built here): beats the baseline at every T"
                        + (" and solves copy in very few iterations" if task == "copy" else
                           "; lower error than the LSTM but noisier"), "not run: not a gated cell"))
            by = {(g.T, g.label): g for g in groups.values() if g.task == task}
            Ts = sorted({g.T for g in groups.values() if g.task == task})
            if len(Ts) > 1:
                out.append((f"{task}, every T pooled (loss / baseline): the LSTM does better than the tanh RNN",
                            compare(pooled(groups, task, "lstm"), pooled(groups, task, "rnn"))))
            for T in Ts:
                if (T, "lstm") in by and (T, "rnn") in by:
                    out.append((f"{task}, T = {T}: the LSTM does better than the tanh RNN"
                                + (" (implied: it beats the baseline, the RNN does not)" if T in paper["lstm"]
                                   else " (not claimed at this T)"),
                                compare(by[(T, "lstm")], by[(T, "rnn")])))
        return out
