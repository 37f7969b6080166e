"""Arjovsky, Shah & Bengio (2016), Sec. 4: the LSTM on the copy and adding tasks."""
import sys

from lstmlab.repro import BEATS, Reproduction, script_main
from lstmlab.training import TrainConfig

COPY_T = (100, 200, 300, 500)
ADDING_T = (100, 200, 400, 750)


class Arjovsky2016(Reproduction):
    name = "arjovsky2016"
    title = "Arjovsky et al. 2016: LSTM on copy memory and adding"
    paper = "Arjovsky, Shah & Bengio 2016, \"Unitary Evolution Recurrent Neural Networks\", ICML, arXiv:1511.06464, Sec. 4"
    description = ("Copy task at T in {100, 200, 300, 500} with a 40-unit LSTM; adding task at T in "
                   "{100, 200, 400, 750} with 128 units; RMSProp (learning rate 1e-3, decay 0.9), gradient norm "
                   "clipped at 1, batch 20, forget bias 1, as in the paper's Section 4 and code. The paper "
                   "budget trains 5,000 steps (copy) and 10,000 steps (adding); the quick budget 150 steps.")

    def configs(self, budget, seeds):
        quick = budget == "quick"
        common = dict(variant="lstm", optimizer="rmsprop", lr=1e-3, decay=0.9, clip=1.0, batch_size=20,
                      eval_size=200 if quick else 1000, eval_every=25 if quick else 100,
                      checkpoint_every=50 if quick else 500, extra={"label": "lstm"})
        out = []
        for seed in range(seeds):
            out += [TrainConfig(task="copy", T=T, hidden=40, steps=150 if quick else 5000, seed=seed, **common)
                    for T in COPY_T]
            out += [TrainConfig(task="adding", T=T, hidden=128, steps=150 if quick else 10000, seed=seed, **common)
                    for T in ADDING_T]
        return out

    def claims(self, groups):
        copy = [g for g in groups.values() if g.task == "copy"]
        add = [g for g in groups.values() if g.task == "adding"]
        ratios = lambda gs: ", ".join(f"T={g.T}: {g.ratio:.2f}" for g in gs)  # noqa: E731
        long_add = [g for g in add if g.T == 750]
        return [
            ("Copy: the LSTM beats the baseline only at T = 100, after sitting on it for a long time",
             f"beats the baseline (below {BEATS}x) at: {self.fmt_T(copy, lambda g: g.beats_baseline)}; "
             f"loss / baseline {ratios(copy)}"),
            ("Adding: the LSTM convincingly beats the baseline up to T = 400",
             f"beats the baseline at: {self.fmt_T(add, lambda g: g.beats_baseline)}; loss / baseline {ratios(add)}"),
            ("Adding, T = 750: the LSTM does well but its MSE does not approach 0",
             "; ".join(f"final MSE {g.mean:.3g} (baseline {g.baseline:.3g})" for g in long_add) or "not run"),
        ]


REPRO = Arjovsky2016()

if __name__ == "__main__":
    sys.exit(script_main(REPRO))
