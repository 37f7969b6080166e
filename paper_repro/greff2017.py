"""Greff et al. (2017): the vanilla LSTM, its eight variants, and four relatives, at one budget."""
import sys

import numpy as np

from lstmlab.repro import Reproduction, script_main
from lstmlab.training import TrainConfig

VANILLA = "peephole"
GREFF = ("peephole", "nig", "nfg", "nog", "niaf", "noaf", "np", "cifg", "fgr")
OTHERS = ("lstm", "gru", "janet", "mgu")
HURTS = 1.25   # a variant "hurts" when its mean final loss exceeds vanilla's by this factor


class Greff2017(Reproduction):
    name = "greff2017"
    title = "Greff et al. 2017: LSTM variants on copy and adding"
    paper = ("Greff, Srivastava, Koutník, Steunebrink & Schmidhuber 2017, \"LSTM: A Search Space Odyssey\", "
             "IEEE TNNLS, arXiv:1503.04069")
    description = ("The vanilla (peephole) LSTM, Greff et al.'s eight variants, and lstm, gru, janet, mgu, each "
                   "trained on the copy and the adding task at one common budget (Adam, learning rate 3e-3, "
                   "gradient norm clipped at 1, batch 32, hidden 64), over several seeds. Greff et al. studied "
                   "speech, handwriting and music with a hyper-parameter search per variant; here the tasks are "
                   "the long-dependency ones and the budget is shared, so the comparison is of the gates alone. "
                   "Paper budget: copy T=50 and adding T=100, 2,000 steps, 3 seeds; quick: copy T=5 and adding "
                   "T=20, 600 steps, 2 seeds.")
    default_seeds = {"quick": 2, "paper": 3}

    def configs(self, budget, seeds):
        quick = budget == "quick"
        tasks = (("copy", 5), ("adding", 20)) if quick else (("copy", 50), ("adding", 100))
        out = []
        for task, T in tasks:
            for variant in GREFF + OTHERS:
                for seed in range(seeds):
                    out.append(TrainConfig(task=task, T=T, variant=variant, hidden=32 if quick else 64,
                                           optimizer="adam", lr=3e-3, clip=1.0, batch_size=32,
                                           steps=600 if quick else 2000, seed=seed,
                                           eval_size=200 if quick else 1000, eval_every=25 if quick else 100,
                                           checkpoint_every=50 if quick else 500, extra={"label": variant}))
        return out

    def _by_task(self, groups):
        tasks = {}
        for g in groups.values():
            tasks.setdefault(g.task, {})[g.label] = g
        return tasks

    def claims(self, groups):
        out = []
        for task, gs in self._by_task(groups).items():
            v = gs.get(VANILLA)
            if v is None or not v.done:
                continue
            r = {k: g.mean / v.mean for k, g in gs.items() if g.done}
            verdict = lambda k: "hurts" if r.get(k, np.nan) > HURTS else "no clear harm"  # noqa: E731
            better = [k for k in GREFF[1:] if r.get(k, np.inf) < 1 / HURTS]
            out += [
                (f"{task}: no variant improves significantly on vanilla",
                 f"variants more than {HURTS}x better than vanilla: {', '.join(better) or 'none'}"),
                (f"{task}: the forget gate is critical (NFG hurts)",
                 f"NFG / vanilla = {r.get('nfg', np.nan):.2f} ({verdict('nfg')})"),
                (f"{task}: the output activation is critical (NOAF hurts)",
                 f"NOAF / vanilla = {r.get('noaf', np.nan):.2f} ({verdict('noaf')})"),
                (f"{task}: coupling input and forget gate (CIFG) and removing peepholes (NP) do not hurt",
                 f"CIFG / vanilla = {r.get('cifg', np.nan):.2f} ({verdict('cifg')}); "
                 f"NP / vanilla = {r.get('np', np.nan):.2f} ({verdict('np')})"),
            ]
        return out

    def sections(self, groups):
        lines = ["## Ranking (mean final held-out loss, best first)", ""]
        for task, gs in self._by_task(groups).items():
            ranked = sorted((g for g in gs.values() if g.done), key=lambda g: g.mean)
            lines.append(f"- {task} (T={ranked[0].T if ranked else '?'}): "
                         + ", ".join(f"{i + 1}. {g.label} ({g.mean:.3g})" for i, g in enumerate(ranked)))
        return lines


REPRO = Greff2017()

if __name__ == "__main__":
    sys.exit(script_main(REPRO))
