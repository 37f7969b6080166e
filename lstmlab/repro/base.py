"""What a reproduction is: a named grid of runs per budget, and the paper's claims to check.

A reproduction subclasses :class:`Reproduction`, builds its runs in
:meth:`configs` and states the paper's findings in :meth:`claims`, each set
beside what our runs show. Runs carry a ``label`` (``config.extra["label"]``)
naming the arm being compared: a variant, or a variant and its initialisation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..training import TrainConfig

BUDGETS = ("quick", "paper")
#: A run "beats the baseline" when its final held-out loss is below this fraction of it;
#: an arm does when its median seed does (so one lucky seed of three does not decide).
BEATS = 0.9
#: Two arms differ when the two-sided exact permutation test on log final loss gives p below
#: this; otherwise "within noise".
ALPHA = 0.05


@dataclass
class Group:
    """The runs of one (task, T, label) cell, over seeds."""

    task: str
    T: int
    label: str
    records: list
    #: a seed beats the baseline below this fraction of it (the reproduction's rule for the task)
    beats_at: float = BEATS

    @property
    def done(self):
        return [r for r in self.records if r["status"] == "done"]

    @property
    def baseline(self) -> float:
        return self.done[0]["final"]["baseline"] if self.done else float("nan")

    def losses(self) -> np.ndarray:
        return np.array([r["final"]["loss"] for r in self.done])

    @property
    def mean(self) -> float:
        return float(self.losses().mean()) if self.done else float("nan")

    @property
    def std(self) -> float:
        return float(self.losses().std(ddof=1)) if len(self.done) > 1 else 0.0

    @property
    def median(self) -> float:
        return float(np.median(self.losses())) if self.done else float("nan")

    @property
    def ratio(self) -> float:
        """Mean final loss over the baseline."""
        return self.mean / self.baseline if self.done else float("nan")

    @property
    def median_ratio(self) -> float:
        return self.median / self.baseline if self.done else float("nan")

    def ratios(self) -> np.ndarray:
        """Each seed's final loss over the baseline."""
        return self.losses() / self.baseline if self.done else np.array([])

    @property
    def solved(self) -> int:
        return sum(bool(r.get("solved")) for r in self.done)

    @property
    def beats(self) -> int:
        """How many seeds end below ``beats_at`` x the baseline."""
        return int(np.sum(self.ratios() < self.beats_at))

    @property
    def beats_baseline(self) -> bool:
        """The arm's verdict: its median seed ends below ``beats_at`` x the baseline."""
        return bool(self.done) and self.median_ratio < self.beats_at

    @property
    def seeds(self) -> list:
        return [r["seed"] for r in self.done]

    @property
    def steps_per_second(self) -> float:
        v = [r["steps_per_second"] for r in self.done if r.get("steps_per_second")]
        return float(np.mean(v)) if v else float("nan")


def pooled(groups: dict, task: str, label: str) -> Group:
    """One Group of every T of ``task`` run by ``label``, each seed's loss divided by its baseline
    (baseline 1), so that seeds of different T can be compared together."""
    recs, frac = [], BEATS
    for g in sorted((g for g in groups.values() if g.task == task and g.label == label), key=lambda g: g.T):
        frac = g.beats_at
        for r in g.records:
            if r["status"] == "done":
                f = r["final"]
                r = {**r, "final": {**f, "loss": f["loss"] / f["baseline"], "baseline": 1.0}}
            recs.append(r)
    return Group(task, 0, label, recs, frac)


def group_records(records, beats_at=None) -> dict:
    """(task, T, label) -> Group, in first-seen order.

    ``beats_at``: task name -> the fraction of the baseline a seed must end
    below to beat it (:meth:`Reproduction.beats_at`); ``BEATS`` when not given.
    """
    out = {}
    for r in records:
        c = r["config"]
        key = (c["task"], c["T"], r["label"])
        frac = beats_at(c["task"]) if beats_at is not None else BEATS
        out.setdefault(key, Group(c["task"], c["T"], r["label"], [], frac)).records.append(r)
    return out


class Reproduction:
    """Base class. Subclasses set ``name``, ``title``, ``paper``, ``description`` and implement
    :meth:`configs` and :meth:`claims`."""

    name = ""
    title = ""
    paper = ""
    description = ""
    default_seeds = {"quick": 1, "paper": 1}
    #: Why the fractions of :meth:`beats_at` are what they are (shown in the summary).
    beats_rule = ""

    def configs(self, budget: str, seeds: int) -> list[TrainConfig]:
        raise NotImplementedError

    def claims(self, groups: dict) -> list[tuple[str, str]]:
        """(what the paper reports, what our runs show) pairs."""
        return []

    def beats_at(self, task: str) -> float:
        """A seed beats the baseline of ``task`` when its final loss is below this fraction of it."""
        return BEATS

    def budget_note(self, budget: str) -> str:
        """One line shown at the top of the summary: what this budget can and cannot show."""
        return ""

    def sections(self, groups: dict) -> list[str]:
        """Extra Markdown lines for the summary (e.g. a ranking)."""
        return []

    # helpers for subclasses
    @staticmethod
    def fmt_T(groups, pred) -> str:
        Ts = [f"T={g.T}" for g in groups if pred(g)]
        return ", ".join(Ts) if Ts else "none"


def permutation_p(a, b) -> float:
    """Two-sided exact permutation test of a difference in mean log final loss.

    Every split of the pooled seeds into groups of len(a) and len(b) is
    enumerated (a fixed-seed Monte Carlo of 20,000 splits past that). With
    2 seeds against 2 the smallest possible p is 1/3: such a comparison can
    never leave "within noise", which is the honest reading.
    """
    import itertools
    a, b = np.log(np.asarray(a, float)), np.log(np.asarray(b, float))
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    pool, n = np.concatenate([a, b]), len(a)
    obs = abs(a.mean() - b.mean())
    total = len(pool)
    from math import comb
    if comb(total, n) <= 20000:
        splits = (np.array(c) for c in itertools.combinations(range(total), n))
        count = num = 0
        for idx in splits:
            mask = np.zeros(total, bool)
            mask[idx] = True
            num += abs(pool[mask].mean() - pool[~mask].mean()) >= obs - 1e-12
            count += 1
        return num / count
    rng = np.random.default_rng(0)
    num = 0
    for _ in range(20000):
        perm = rng.permutation(total)
        num += abs(pool[perm[:n]].mean() - pool[perm[n:]].mean()) >= obs - 1e-12
    return (num + 1) / 20001


def fisher_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided Fisher exact test of k1/n1 against k2/n2 (solved or beating counts)."""
    from scipy.stats import fisher_exact
    return float(fisher_exact([[k1, n1 - k1], [k2, n2 - k2]])[1])


@dataclass
class Comparison:
    """Two arms' final losses and beating counts under the exact tests."""

    a: Group
    b: Group
    p_loss: float   # permutation test on log final loss
    p_beat: float   # Fisher exact test on seeds beating the baseline

    @property
    def word(self) -> str:
        """'lower' / 'higher' (a's median against b's) when the permutation test gives p < ALPHA, else
        'within noise'. One test decides (no choosing the smaller of two p-values); Fisher's p on the
        beating counts is reported beside it."""
        if not self.p_loss < ALPHA:
            return "within noise"
        return "lower" if self.a.median < self.b.median else "higher"

    def text(self) -> str:
        a, b = self.a, self.b
        head = self.word if self.word == "within noise" else f"{a.label} {self.word} than {b.label}"
        return (f"{head}: median {a.median:.3g} vs {b.median:.3g}; beating {a.beats}/{len(a.done)} vs "
                f"{b.beats}/{len(b.done)}; permutation p = {self.p_loss:.2g}, Fisher p = {self.p_beat:.2g}")


def compare_groups(a: Group, b: Group) -> Comparison | None:
    """The exact tests of ``a`` against ``b``; None when either has no finished run."""
    if not a.done or not b.done:
        return None
    return Comparison(a, b, permutation_p(a.losses(), b.losses()),
                      fisher_p(a.beats, len(a.done), b.beats, len(b.done)))


def compare(a: Group, b: Group) -> str:
    """'<a> lower than <b>', '<a> higher than <b>' or 'within noise', with medians, counts and p-values."""
    c = compare_groups(a, b)
    return c.text() if c else "not comparable (a cell did not finish)"


def beat_claim(groups: dict, task: str, label: str, paper_beats, *, paper_steps=None, solved: bool = False) -> str:
    """Our verdict beside the paper's on where ``label`` beats the baseline on ``task``.

    ``paper_beats``: the T at which the paper reports it beating the baseline
    (every other T run here, it does not). ``paper_steps``: the paper's training
    steps, one number or a dict T -> steps. ``solved=True`` judges by the
    task's solved rule (a majority of seeds solved) instead of beating the baseline. Returns the "our runs show" text,
    led by one of **agrees**, **contradicted** (our runs show the opposite at
    a budget at least the paper's, or beat where the paper did not), or **not
    reproduced at this budget** (the paper's effect did not appear in fewer
    steps than the paper trained).
    """
    gs = sorted((g for g in groups.values() if g.task == task and g.label == label), key=lambda g: g.T)
    gs = [g for g in gs if g.done]
    if not gs:
        return "not run"
    paper_beats = set(paper_beats)
    def theirs(T):
        return paper_steps.get(T) if isinstance(paper_steps, dict) else paper_steps

    def ours(g):
        return max(r["config"]["steps"] for r in g.done)

    def hit(g):
        return g.solved * 2 > len(g.done) if solved else g.beats_baseline

    does, doesnt = ("solves it", "does not solve it") if solved else ("beats the baseline", "does not beat the baseline")
    missing = [g for g in gs if g.T in paper_beats and not hit(g)]
    short = [g for g in missing if theirs(g.T) is not None and ours(g) < theirs(g.T)]
    long = [g for g in missing if g not in short]
    extra = [g.T for g in gs if g.T not in paper_beats and hit(g)]
    parts = []
    if extra:
        parts.append(f"**contradicted**: ours {does} at T={', '.join(map(str, extra))}, the paper's does not")
    if long:
        parts.append(f"**contradicted**: ours {doesnt} at T={', '.join(str(g.T) for g in long)}")
    if short:
        parts.append(f"**not reproduced at this budget**: ours {doesnt} at " + ", ".join(
            f"T={g.T} ({ours(g):,} steps against the paper's ~{theirs(g.T):,})" for g in short))
    verdict = "; ".join(parts) or "**agrees**"
    detail = (f"T={g.T}: solved {g.solved}/{len(g.done)} seeds" for g in gs) if solved else map(fmt_verdict, gs)
    return verdict + "; " + "; ".join(detail)


def check_budget(budget: str) -> str:
    if budget not in BUDGETS:
        raise ValueError(f"budget: expected one of {BUDGETS}, got {budget!r}")
    return budget


def fmt_loss(g: Group) -> str:
    if not g.done:
        return "failed"
    return f"{g.mean:.4g} ± {g.std:.2g}" if len(g.done) > 1 else f"{g.mean:.4g}"


def fmt_verdict(g: Group) -> str:
    """'beats (k/n seeds, median x r)' or 'on the baseline (...)', for claims tables."""
    if not g.done:
        return f"T={g.T}: not run"
    word = "beats" if g.beats_baseline else "does not beat"
    return f"T={g.T}: {word} ({g.beats}/{len(g.done)} seeds below {g.beats_at}x; median {g.median_ratio:.3g}x)"
