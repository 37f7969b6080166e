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
#: A run "beats the baseline" when its final held-out loss is below this fraction of it.
BEATS = 0.9


@dataclass
class Group:
    """The runs of one (task, T, label) cell, over seeds."""

    task: str
    T: int
    label: str
    records: list

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
    def ratio(self) -> float:
        return self.mean / self.baseline if self.done else float("nan")

    @property
    def solved(self) -> int:
        return sum(bool(r.get("solved")) for r in self.done)

    @property
    def beats_baseline(self) -> bool:
        return bool(self.done) and self.ratio < BEATS

    @property
    def steps_per_second(self) -> float:
        v = [r["steps_per_second"] for r in self.done if r.get("steps_per_second")]
        return float(np.mean(v)) if v else float("nan")


def group_records(records) -> dict:
    """(task, T, label) -> Group, in first-seen order."""
    out = {}
    for r in records:
        c = r["config"]
        key = (c["task"], c["T"], r["label"])
        out.setdefault(key, Group(c["task"], c["T"], r["label"], [])).records.append(r)
    return out


class Reproduction:
    """Base class. Subclasses set ``name``, ``title``, ``paper``, ``description`` and implement
    :meth:`configs` and :meth:`claims`."""

    name = ""
    title = ""
    paper = ""
    description = ""
    default_seeds = {"quick": 1, "paper": 1}

    def configs(self, budget: str, seeds: int) -> list[TrainConfig]:
        raise NotImplementedError

    def claims(self, groups: dict) -> list[tuple[str, str]]:
        """(what the paper reports, what our runs show) pairs."""
        return []

    def sections(self, groups: dict) -> list[str]:
        """Extra Markdown lines for the summary (e.g. a ranking)."""
        return []

    # helpers for subclasses
    @staticmethod
    def fmt_T(groups, pred) -> str:
        Ts = [f"T={g.T}" for g in groups if pred(g)]
        return ", ".join(Ts) if Ts else "none"


def check_budget(budget: str) -> str:
    if budget not in BUDGETS:
        raise ValueError(f"budget: expected one of {BUDGETS}, got {budget!r}")
    return budget


def fmt_loss(g: Group) -> str:
    if not g.done:
        return "failed"
    return f"{g.mean:.4g} ± {g.std:.2g}" if len(g.done) > 1 else f"{g.mean:.4g}"
