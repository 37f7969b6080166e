"""Hochreiter & Schmidhuber (1997), Experiment 4: the original adding problem."""
import sys

from lstmlab.repro import Reproduction, script_main
from lstmlab.training import TrainConfig

TS = (100, 500, 1000)
ARMS = ("lstm", "nfg")   # nfg: no forget gate, the closest built-in to the 1997 cell (it keeps peepholes)


class Hochreiter1997(Reproduction):
    name = "hochreiter1997"
    title = "Hochreiter & Schmidhuber 1997: the adding problem"
    paper = "Hochreiter & Schmidhuber 1997, \"Long Short-Term Memory\", Neural Computation 9(8), Experiment 4"
    description = ("The 1997 adding problem (values in [-1, 1], lengths in [T, T + T/10], target 0.5 + (X1 + X2)/4) "
                   "at T in {100, 500, 1000}, solved when at least 99 % of held-out sequences are within 0.04. "
                   "A small network as in the paper (8 units; the paper used 2 blocks of 2 cells), trained with "
                   "Adam (3e-3, clip 1, batch 20) rather than the paper's truncated online gradient. Arms: lstm "
                   "(with forget gate) and nfg (no forget gate, like the 1997 cell, but with peepholes). Paper "
                   "budget: 4,000 / 10,000 / 20,000 steps for T = 100 / 500 / 1000 (80k / 200k / 400k "
                   "sequences); quick: 500 steps.")

    def configs(self, budget, seeds):
        quick = budget == "quick"
        steps = {100: 4000, 500: 10000, 1000: 20000}
        return [TrainConfig(task="adding1997", T=T, variant=arm, hidden=8, optimizer="adam", lr=3e-3, clip=1.0,
                            batch_size=20, steps=500 if quick else steps[T], seed=seed,
                            eval_size=200 if quick else 1000, eval_every=25 if quick else 200,
                            checkpoint_every=50 if quick else 500, extra={"label": arm})
                for seed in range(seeds) for T in TS for arm in ARMS]

    def claims(self, groups):
        out = []
        for arm in ARMS:
            gs = [g for g in groups.values() if g.label == arm]
            rates = ", ".join(f"T={g.T}: {g.done[0]['final'].get('solved_rate', float('nan')):.3f}"
                              for g in gs if g.done)
            out.append((f"LSTM solves the adding problem at T = 100, 500 and 1000 (all test sequences within 0.04)",
                        f"{arm}: solved at {self.fmt_T(gs, lambda g: g.solved > 0)}; held-out fraction within "
                        f"0.04: {rates}"))
        return out


REPRO = Hochreiter1997()

if __name__ == "__main__":
    sys.exit(script_main(REPRO))
