"""The adding problem in its original form (Hochreiter & Schmidhuber 1997, Experiment 4)."""
from __future__ import annotations

import numpy as np

from .base import Batch, Task, register_task

SOLVED_ERROR = 0.04   # "processed correctly if the absolute error at the sequence end is below 0.04"
N_FIRST = 10          # X1 is marked among the first ten pairs


@register_task("adding1997")
class Adding1997(Task):
    r"""The original adding problem: variable-length sequences of (value, marker) pairs.

    Each step carries a pair: a value uniform in [-1, 1] and a marker in
    {-1, 0, 1}. A sequence's length is an integer uniform in
    [T, T + floor(T/10)]. Exactly two pairs are marked with 1: first one of the
    first ten pairs (its value is X1), then one of the first floor(T/2) - 1
    pairs not yet marked (X2). The first and the final pair carry marker -1
    unless marked. A marked first pair has its value set to 0 (the paper states
    this for X1; X2 can also land on the first pair, probability about
    0.9 / (T/2 - 2), and the same rule is applied to it). The target at the
    sequence's end is 0.5 + (X1 + X2) / 4; the loss is the squared error there,
    and a sequence counts as solved when the absolute error is below 0.04.

    Memoryless baseline: predict 0.5, MSE = (Var X1 + Var X2) / 16, with
    Var X = (1 - P(X on the first pair)) / 3 (about 0.0392 at T = 100).

    Hochreiter & Schmidhuber (1997), "Long Short-Term Memory", Neural
    Computation 9(8), Sec. 5.4, Experiment 4.
    """

    reference = "Hochreiter & Schmidhuber 1997, Neural Computation 9(8), Experiment 4"
    description = ("(value in [-1,1], marker) pairs, length in [T, T+T/10], target 0.5+(X1+X2)/4; "
                   "solved when |error| < 0.04")
    input_size = 2
    output_size = 1
    readout = "last"
    loss = "mse"
    min_T = 24   # X2's range (first T/2 - 1 pairs) must extend past X1's (first 10)
    baseline_rule = "always predict 0.5: MSE = (Var X1 + Var X2)/16"

    solved_rule = "at least 99 % of held-out sequences within 0.04 of the target"

    def is_solved(self, final):
        return final.get("solved_rate", 0.0) >= 0.99

    def seq_len(self) -> int:
        return self.T + self.T // 10

    @property
    def max_dependency(self) -> int:
        return self.seq_len()

    def _p_first(self):
        """P(X1 on the first pair), P(X2 on the first pair)."""
        n2 = self.T // 2 - 1
        p1 = 1.0 / N_FIRST
        return p1, (1.0 - p1) / (n2 - 1)

    def baseline(self) -> float:
        p1, p2 = self._p_first()
        return ((1.0 - p1) / 3.0 + (1.0 - p2) / 3.0) / 16.0

    def baseline_solved_rate(self) -> float:
        """Fraction of sequences the constant 0.5 solves: P(|X1 + X2| < 4 * 0.04)."""
        a = 4 * SOLVED_ERROR
        p1, p2 = self._p_first()
        both = 2 * (2 * a - a * a / 2) / 4      # |U1 + U2| < a, U ~ U[-1, 1] (triangular density)
        one = a                                # |U| < a
        return (1 - p1 - p2) * both + (p1 + p2) * one

    def sample(self, rng, batch_size):
        T, B = self.T, batch_size
        n2 = T // 2 - 1
        lengths = rng.integers(T, T + T // 10 + 1, size=B)
        Tmax = self.seq_len()
        x = np.zeros((Tmax, B, 2))
        cols = np.arange(B)
        valid = np.arange(Tmax)[:, None] < lengths[None, :]
        x[:, :, 0] = np.where(valid, rng.uniform(-1.0, 1.0, size=(Tmax, B)), 0.0)
        i1 = rng.integers(0, N_FIRST, size=B)
        # X2: uniform over the first n2 pairs except i1 (draw from n2 - 1, skip over i1).
        j = rng.integers(0, n2 - 1, size=B)
        i2 = j + (j >= i1)
        x[0, :, 1] = -1.0
        x[lengths - 1, cols, 1] = -1.0
        x[i1, cols, 1] = 1.0
        x[i2, cols, 1] = 1.0
        x[0, :, 0] = np.where(x[0, :, 1] == 1.0, 0.0, x[0, :, 0])
        target = 0.5 + (x[i1, cols, 0] + x[i2, cols, 0]) / 4.0
        return Batch(x, target[:, None], lengths=lengths.astype(np.int64))

    def metrics(self, outputs, batch):
        err = np.abs(outputs[:, 0] - batch.targets[:, 0])
        return {"solved_rate": float((err < SOLVED_ERROR).sum())}
