"""The adding task in the form of Le et al. (2015) and Arjovsky et al. (2016)."""
from __future__ import annotations

import numpy as np

from .base import Batch, Task, register_task


@register_task("adding")
class Adding(Task):
    r"""Add the two marked numbers of a long sequence.

    Each of the T steps carries two channels: a value uniform in [0, 1] and a
    marker. Exactly two markers are 1: one at a position uniform in the first
    half [0, T/2), one uniform in the second half [T/2, T); the rest are 0.
    The target, read at the last step, is the sum of the two marked values;
    the loss is the mean squared error.

    Memoryless baseline: always predict 1 (the mean of the sum), MSE = Var of a
    sum of two independent U[0, 1] = 1/6 ~ 0.167.

    Le, Jaitly & Hinton (2015), arXiv:1504.00941; Arjovsky, Shah & Bengio
    (2016), arXiv:1511.06464, Sec. 4.2.
    """

    reference = "Le, Jaitly & Hinton 2015 (arXiv:1504.00941); Arjovsky et al. 2016, Sec. 4.2"
    description = "sum of two marked values in [0,1], one marker in each half; MSE at the last step"
    input_size = 2
    output_size = 1
    readout = "last"
    loss = "mse"
    min_T = 2
    baseline_rule = "always predict 1: MSE = 1/6"

    solved_rule = "held-out MSE < 0.01 (6 % of the baseline)"

    def is_solved(self, final):
        return final["loss"] < 0.01

    def baseline(self) -> float:
        return 1.0 / 6.0

    def sample(self, rng, batch_size):
        T, B = self.T, batch_size
        half = T // 2
        x = np.zeros((T, B, 2))
        x[:, :, 0] = rng.uniform(0.0, 1.0, size=(T, B))
        first = rng.integers(0, half, size=B)
        second = rng.integers(half, T, size=B)
        cols = np.arange(B)
        x[first, cols, 1] = 1.0
        x[second, cols, 1] = 1.0
        target = (x[first, cols, 0] + x[second, cols, 0])[:, None]
        return Batch(x, target)
