"""Greff et al. (2017): the vanilla LSTM, its eight variants, and four relatives, at one budget."""
import math

from lstmlab.repro import ALPHA, Reproduction, compare_groups, register_reproduction
from lstmlab.training import TrainConfig

VANILLA = "peephole"
GREFF = ("peephole", "nig", "nfg", "nog", "niaf", "noaf", "np", "cifg", "fgr")
OTHERS = ("lstm", "gru", "janet", "mgu", "rnn")   # rnn: the tanh RNN, a floor without gates


@register_reproduction()
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
                   "The tanh RNN (rnn) is the floor: what no gates at all give. Paper budget: copy T=50 and adding "
                   "T=100, 2,000 steps, 6 seeds (the fewest at which a Bonferroni test over the 8 variants can "
                   "pass); quick: adding T=20, 600 steps, 4 seeds.")
    default_seeds = {"quick": 4, "paper": 6}

    def budget_note(self, budget):
        if budget == "quick":
            return ("adding at T = 20 only, 600 steps, 4 seeds (the fewest at which the exact tests can tell two "
                    "arms apart): a short task where removing a critical component can already show; copy needs "
                    "the paper budget.")
        return ("not the paper's experiments: Greff et al. searched each variant's hyper-parameters on speech, "
                "handwriting and music; this budget trains every variant at one shared setting on copy (T = 50) "
                "and adding (T = 100) for 2,000 steps, so it tests whether their component findings carry over "
                "to long-dependency tasks, and a finding not shown here is not a contradiction of theirs.")

    def configs(self, budget, seeds):
        quick = budget == "quick"
        tasks = (("adding", 20),) if quick else (("copy", 50), ("adding", 100))
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
            tests = {k: compare_groups(gs[k], v) for k in GREFF[1:] if k in gs and gs[k].done}
            family = ALPHA / max(len(tests), 1)          # Bonferroni over the variants compared
            better = [k for k, c in tests.items() if c and c.p_loss < family and c.word == "lower"]
            loose = [k for k, c in tests.items() if c and c.word == "lower"]
            n = min((len(gs[k].done) for k in tests), default=0)
            floor = 2 / math.comb(n + len(v.done), n) if n else 1.0   # smallest two-sided p attainable
            if better:
                first = f"**contradicted**: lower than vanilla after Bonferroni over {len(tests)}: {', '.join(better)}"
            elif floor >= family:
                first = (f"**cannot be tested at this budget**: with {n} seeds the smallest attainable p is "
                         f"{floor:.2g}, above the Bonferroni level {family:.2g} for {len(tests)} variants")
            else:
                first = f"**agrees**: none is lower than vanilla after Bonferroni over {len(tests)} (p < {family:.2g})"
            if loose:
                first += f"; lower at p < {ALPHA} uncorrected: {', '.join(loose)}"
            out += [(f"{task}: no variant improves significantly on vanilla", first),
                    (f"{task}: the forget gate is critical (NFG hurts)", _versus(gs.get("nfg"), v, hurts=True)),
                    (f"{task}: the output activation is critical (NOAF hurts)", _versus(gs.get("noaf"), v, hurts=True)),
                    (f"{task}: coupling input and forget gate (CIFG) does not hurt",
                     _versus(gs.get("cifg"), v, hurts=False)),
                    (f"{task}: removing peepholes (NP) does not hurt", _versus(gs.get("np"), v, hurts=False)),
                    (f"{task}: (floor, not in the paper) the tanh RNN without gates", _versus(gs.get("rnn"), v))]
        return out

    def sections(self, groups):
        lines = []
        for task, gs in self._by_task(groups).items():
            if gs and not any(g.solved for g in gs.values()):
                lines += [f"**{task}: no arm solved it in any seed**, so its comparisons above are between losses "
                          f"near the baseline (plateau levels), not between solutions.", ""]
        lines += ["## Ranking (median final held-out loss over seeds, best first)", ""]
        for task, gs in self._by_task(groups).items():
            ranked = sorted((g for g in gs.values() if g.done), key=lambda g: g.median)
            lines.append(f"- {task} (T={ranked[0].T if ranked else '?'}): "
                         + ", ".join(f"{i + 1}. {g.label} ({g.median:.3g}, solved {g.solved}/{len(g.done)})"
                                     for i, g in enumerate(ranked)))
        return lines


def _versus(g, vanilla, hurts=None) -> str:
    """'lower'/'higher than vanilla' when the exact test says so, else 'within noise'; with the figures.

    ``hurts``: the paper's claim for this variant (True: it hurts; False: it does not; None: no claim),
    which prefixes **agrees** / **contradicted** / **not shown** (no significant difference where the
    paper found harm).
    """
    c = compare_groups(g, vanilla) if g is not None else None
    if c is None:
        return "not run"
    word = c.word if c.word == "within noise" else f"{c.word} than vanilla"
    lead = ""
    if hurts is not None and g.beats == 0 and vanilla.beats == 0 and not g.diverged and not vanilla.diverged:
        # both on the plateau: a difference between plateau levels says nothing about the component
        lead = "**not shown** (no seed of either arm left the baseline): "
    elif hurts is True:
        lead = {"higher": "**agrees**: ", "lower": "**contradicted**: "}.get(c.word, "**not shown**: ")
    elif hurts is False:
        lead = "**contradicted**: " if c.word == "higher" else "**agrees**: "
    return (f"{lead}{word}: median {g.median:.3g} vs {vanilla.median:.3g} ({g.median / vanilla.median:.2f}x); "
            f"beats the baseline {g.beats}/{len(g.done)} vs {vanilla.beats}/{len(vanilla.done)}; solved "
            f"{g.solved}/{len(g.done)} vs {vanilla.solved}/{len(vanilla.done)}; rank test p = {c.p_loss:.2g}, "
            f"Fisher p = {c.p_beat:.2g}")
