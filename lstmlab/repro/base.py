"""What a reproduction is: a named grid of runs per budget, and the paper's claims to check.

A reproduction subclasses :class:`Reproduction`, builds its runs in
:meth:`configs` and states the paper's findings in :meth:`claims`, each set
beside what our runs show. Runs carry a ``label`` (``config.extra["label"]``)
naming the arm being compared: a variant, or a variant and its initialisation.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from math import comb

import numpy as np

from ..training import TrainConfig

BUDGETS = ("quick", "paper")
#: A run "beats the baseline" when its final held-out loss is below this fraction of it;
#: an arm does when more than half of its seeds do (one lucky seed does not decide).
BEATS = 0.9
#: On the adding task a model that reads only one of the two marked values reaches 0.5x the
#: baseline (MSE 1/12); beating it "convincingly" is read as below this fraction.
ADDING_CONVINCING = 0.25
ADDING_CONVINCING_RULE = (f"on adding, beating the baseline \"convincingly\" is read as below {ADDING_CONVINCING}x, "
                          f"since a model that reads only one of the two marked values already reaches 0.5x")
#: One JSON line per invocation of a reproduction in its results folder (start, seconds, runs recorded).
INVOCATIONS = "invocations.jsonl"
#: The loss a NaN or infinite final loss is counted as (worse than any finite one).
WORST = 1e30
#: Two arms differ when the two-sided exact rank test (Wilcoxon-Mann-Whitney) on final loss
#: gives p below this; otherwise "within noise".
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
        """Final held-out losses of the finished seeds; a NaN or infinite one (a run that blew up
        and skipped its updates) counts as ``WORST``, worse than any finite loss."""
        v = np.array([r["final"]["loss"] for r in self.done], dtype=float)
        return np.where(np.isfinite(v), v, WORST)

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
        """The arm's verdict: more than half of its seeds end below ``beats_at`` x the baseline
        (the same majority rule as for solving: one good seed of two does not decide)."""
        return bool(self.done) and self.beats * 2 > len(self.done)

    @property
    def diverged(self) -> int:
        """How many seeds blew up: a non-finite final loss, one above 1000x the baseline, or more
        than half of the run's updates skipped as non-finite."""
        def bad(r):
            loss, steps = r["final"]["loss"], r["config"]["steps"]
            return (not np.isfinite(loss) or loss > 1e3 * r["final"]["baseline"]
                    or (r.get("skipped") or 0) * 2 > steps)
        return sum(bad(r) for r in self.done)

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
    #: task -> the fraction of its baseline a seed must end below to beat it (``BEATS`` otherwise).
    beat_fractions: dict = {}
    #: Why those fractions are what they are (shown in the summary).
    beats_rule = ""

    def configs(self, budget: str, seeds: int) -> list[TrainConfig]:
        raise NotImplementedError

    def claims(self, groups: dict) -> list[tuple[str, str]]:
        """(what the paper reports, what our runs show) pairs."""
        return []

    def beats_at(self, task: str) -> float:
        """A seed beats the baseline of ``task`` when its final loss is below this fraction of it."""
        return self.beat_fractions.get(task, BEATS)

    def budget_note(self, budget: str) -> str:
        """One line shown at the top of the summary: what this budget can and cannot show."""
        return ""

    def sections(self, groups: dict) -> list[str]:
        """Extra Markdown lines for the summary (e.g. a ranking). ``self.folder`` is the results folder."""
        return []

    #: The results folder being reported on (set by the report before it calls the hooks).
    folder = None

    def prepare(self, records: list, folder) -> None:
        """After the runs, before the report: analyses that need the runs' checkpoints (default: none).

        Write what they find into ``folder``: a later re-render, without checkpoints, reads it back."""

    def extra_plots(self, groups: dict, folder, plt) -> list[str]:
        """Plots beyond the generic ones: write PNGs into ``folder``, return their file names."""
        return []

    # helpers for subclasses
    @staticmethod
    def fmt_T(groups, pred) -> str:
        Ts = [f"T={g.T}" for g in groups if pred(g)]
        return ", ".join(Ts) if Ts else "none"


def permutation_p(a, b) -> float:
    """Two-sided exact permutation test of a difference in mean rank of log final loss
    (the exact Wilcoxon-Mann-Whitney test; tied values share their mean rank).

    Ranks, not the log losses themselves: one seed that diverged to 1e60 counts as the
    worst seed, not as a mean-shifting outlier that can hide 7 seeds of 8 below every
    seed of the other arm. Every split of the pooled seeds into groups of len(a) and
    len(b) is enumerated (a fixed-seed Monte Carlo of 20,000 splits past that). With
    2 seeds against 2 the smallest possible p is 1/3: such a comparison can never
    leave "within noise", which is the honest reading.
    """
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    pool, n = _pooled_ranks(a, b), len(a)
    obs = abs(pool[:n].mean() - pool[n:].mean())
    total = len(pool)
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


def lower_ranked(a, b) -> bool:
    """Whether ``a``'s values rank lower than ``b``'s on the pooled ranks (the tested statistic's sign)."""
    r = _pooled_ranks(a, b)
    return bool(r[:len(a)].mean() < r[len(a):].mean())


def _pooled_ranks(a, b) -> np.ndarray:
    """Ranks of ``a`` then ``b`` pooled, on the log scale with NaN/inf as ``WORST``; ties share their mean rank."""
    from scipy.stats import rankdata
    return rankdata(np.concatenate([_log_losses(a), _log_losses(b)]))


def compare_steps(a_steps, b_steps, budget: int, *, what: str, labels: tuple, reached: str = "reached") -> str:
    """'a gets there in fewer steps than b', led by **agrees** / **contradicted** / **within noise**,
    **untestable** (too few seeds) or **not shown** (no seed of either arm got there).

    ``a_steps``, ``b_steps``: per seed, the step at which ``what`` was first reached, or None. The
    exact rank test compares them with never counted as ``budget + 1`` (which favours the slow arm);
    Fisher's test on how many got there is shown beside it.
    """
    sa, sb = ([s if s is not None else budget + 1 for s in x] for x in (a_steps, b_steps))
    ka, kb = sum(s is not None for s in a_steps), sum(s is not None for s in b_steps)
    fmt = lambda x: ", ".join("never" if s is None else f"{s}" for s in x)  # noqa: E731
    p = permutation_p(np.array(sa, float), np.array(sb, float))
    floor = min_p(len(sa), len(sb))
    detail = (f"steps to {what} per seed: {labels[0]} {fmt(a_steps)}; {labels[1]} {fmt(b_steps)} ({reached} "
              f"{ka}/{len(sa)} vs {kb}/{len(sb)}); rank test p = {p:.2g}, Fisher p = "
              f"{fisher_p(ka, len(sa), kb, len(sb)):.2g}")
    if floor >= ALPHA:
        return f"**untestable** with {len(sa)} and {len(sb)} seeds (smallest attainable p {floor:.2g}): " + detail
    if ka == 0 and kb == 0:
        return "**not shown** (neither arm reached it in any seed): " + detail
    if p < ALPHA:
        return ("**agrees**: " if lower_ranked(sa, sb) else "**contradicted**: ") + detail
    return "**within noise**: " + detail


def _log_losses(x) -> np.ndarray:
    """log of final losses, NaN/inf counted as ``WORST`` and 0 kept finite: the tested statistic's scale."""
    return np.log(np.clip(np.nan_to_num(np.asarray(x, float), nan=WORST, posinf=WORST), 1e-300, WORST))


def min_p(n1: int, n2: int) -> float:
    """Smallest two-sided p of the exact rank test with n1 and n2 seeds: the most extreme
    split and its mirror image (one split when n1 != n2 cannot mirror)."""
    if n1 == 0 or n2 == 0:
        return 1.0
    return (2 if n1 == n2 else 1) / comb(n1 + n2, n1)


def fisher_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided Fisher exact test of k1/n1 against k2/n2 (solved or beating counts)."""
    from scipy.stats import fisher_exact
    return float(fisher_exact([[k1, n1 - k1], [k2, n2 - k2]])[1])


@dataclass
class Comparison:
    """Two arms' final losses and beating counts under the exact tests."""

    a: Group
    b: Group
    p_loss: float   # exact rank (Wilcoxon-Mann-Whitney) test on final loss
    p_beat: float   # Fisher exact test on seeds beating the baseline

    @property
    def floor(self) -> float:
        """The smallest two-sided p the rank test can give with these seed counts."""
        return min_p(len(self.a.done), len(self.b.done))

    @property
    def word(self) -> str:
        """'lower' / 'higher' (a's mean rank against b's, the statistic tested) when the
        rank test gives p < ALPHA; 'untestable' when no outcome of these seed counts could;
        else 'within noise'. One test decides (no choosing the smaller of two p-values); Fisher's p
        on the beating counts is reported beside it."""
        if self.floor >= ALPHA:
            return "untestable"
        if not self.p_loss < ALPHA:
            return "within noise"
        return "lower" if lower_ranked(self.a.losses(), self.b.losses()) else "higher"

    def text(self) -> str:
        a, b = self.a, self.b
        if self.word == "untestable":
            head = (f"cannot be tested with {len(a.done)} and {len(b.done)} seeds (smallest attainable p "
                    f"{self.floor:.2g})")
        else:
            head = self.word if self.word == "within noise" else f"{a.label} {self.word} than {b.label}"
        return (f"{head}: median {a.median:.3g} vs {b.median:.3g}; beating {a.beats}/{len(a.done)} vs "
                f"{b.beats}/{len(b.done)}; rank test p = {self.p_loss:.2g}, Fisher p = {self.p_beat:.2g}")


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


def beat_claim(groups: dict, task: str, label: str, paper_beats, *, paper_steps=None, solved: bool = False,
               paper_T=None) -> str:
    """Our verdict beside the paper's on where ``label`` beats the baseline on ``task``.

    ``paper_beats``: the T at which the paper reports it beating the baseline (every
    other T run here, it does not; T not run here are ignored). ``paper_steps``: the
    paper's training steps, one number or a dict T -> steps (None: not known).
    ``solved=True`` judges by the task's solved rule (a majority of seeds solved)
    instead of by beating the baseline. ``paper_T``: every T the paper ran (default
    ``paper_beats``), so that those with no finished run here are listed. Returns the
    "our runs show" text, led by **agrees** (naming the T), **contradicted** (the
    opposite of the paper at a budget at least the paper's, or a success where the
    paper reports none), **diverged** (most seeds blew up: a failure of stability,
    not of budget), **not reproduced at this budget** (the paper's effect did not
    appear in fewer steps than the paper trained, or its budget is not known),
    **consistent at this shorter budget** (the paper's "does not" met by ours in
    fewer steps, which is weaker evidence) or **undecided** (as many seeds each way).
    """
    gs = sorted((g for g in groups.values() if g.task == task and g.label == label and g.done),
                key=lambda g: g.T)
    if not gs:
        return "not run"
    not_run = sorted(set(paper_beats if paper_T is None else paper_T) - {g.T for g in gs})
    paper_beats = set(paper_beats) & {g.T for g in gs}

    def theirs(T):
        if isinstance(paper_steps, dict):
            if T not in paper_steps:
                raise ValueError(f"paper_steps: no entry for T={T} (has {sorted(paper_steps)})")
            return paper_steps[T]
        return paper_steps

    def ours(g):
        return max(r["config"]["steps"] for r in g.done)

    def count(g):
        return g.solved if solved else g.beats

    def hit(g):
        return count(g) * 2 > len(g.done)

    def split(g):   # as many seeds each way: no majority, so no verdict either way
        return count(g) * 2 == len(g.done)

    def short(g):   # fewer steps than the paper, or the paper's budget not known
        return theirs(g.T) is None or ours(g) < theirs(g.T)

    def budget(g):
        return (f"{ours(g):,} steps against the paper's ~{theirs(g.T):,}" if theirs(g.T) is not None
                else f"{ours(g):,} steps; the paper's budget is not known")

    does, doesnt = ("solves it", "does not solve it") if solved else ("beats the baseline",
                                                                     "does not beat the baseline")
    undecided = [g for g in gs if split(g)]
    decided = [g for g in gs if not split(g)]
    # most seeds blown up: a failure of stability, not of budget, whatever the paper says of that T
    blown = [g for g in decided if not hit(g) and g.diverged * 2 > len(g.done)]
    decided = [g for g in decided if g not in blown]
    missing = [g for g in decided if g.T in paper_beats and not hit(g)]
    extra = [g.T for g in decided if g.T not in paper_beats and hit(g)]
    negatives = [g for g in decided if g.T not in paper_beats and not hit(g)]
    parts = []
    if extra:
        parts.append(f"**contradicted**: ours {does} at T={', '.join(map(str, extra))}, the paper's does not")
    if [g for g in missing if not short(g)]:
        parts.append(f"**contradicted**: ours {doesnt} at "
                     f"T={', '.join(str(g.T) for g in missing if not short(g))}")
    if blown:
        parts.append(f"**diverged**: ours {doesnt} at "
                     + ", ".join(f"T={g.T} ({g.diverged}/{len(g.done)} seeds blew up)" for g in blown))
    if [g for g in missing if short(g)]:
        parts.append(f"**not reproduced at this budget**: ours {doesnt} at "
                     + ", ".join(f"T={g.T} ({budget(g)})" for g in missing if short(g)))
    if undecided:
        parts.append("**undecided** (as many seeds each way) at "
                     + ", ".join(f"T={g.T} ({count(g)}/{len(g.done)} seeds)" for g in undecided))
    if not parts or (len(parts) == len([x for x in (undecided, blown) if x]) and decided):
        agree = [g for g in decided if g not in negatives]
        weak = [g for g in negatives if short(g)]
        strong = [g for g in negatives if not short(g)]
        if weak and not agree and not strong:
            parts.append("**consistent at this shorter budget** ("
                         + ", ".join(f"T={g.T}: {budget(g)}" for g in weak) + ")")
        elif decided:
            said = "**agrees** at " + ", ".join(f"T={g.T}" for g in decided)
            if weak:
                said += " (at " + ", ".join(f"T={g.T}" for g in weak) + " only at a shorter budget than the paper's)"
            parts.append(said)
    if not_run:
        parts.append(f"the paper's T={', '.join(map(str, not_run))} not run here (or no seed finished)")
    detail = (f"T={g.T}: solved {g.solved}/{len(g.done)} seeds" for g in gs) if solved else map(fmt_verdict, gs)
    return "; ".join(parts) + "; " + "; ".join(detail)


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
    word = ("split" if g.beats * 2 == len(g.done) else "beats" if g.beats_baseline else "does not beat")
    return f"T={g.T}: {word} ({g.beats}/{len(g.done)} seeds below {g.beats_at}x; median {g.median_ratio:.3g}x)"
