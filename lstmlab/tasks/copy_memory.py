"""The copy-memory task (Arjovsky, Shah & Bengio 2016, Sec. 4.1)."""
from __future__ import annotations

import math

import numpy as np

from .base import Batch, Task, register_task

N_DATA = 8      # data symbols a0..a7
BLANK = 8       # a8
DELIM = 9       # a9, "start recalling"
N_COPY = 10     # symbols to remember


@register_task("copy")
class CopyMemory(Task):
    r"""Remember 10 symbols across a delay of T steps, then reproduce them.

    Ten categories a0..a9: a0..a7 are data, a8 is blank, a9 is the delimiter.
    Input (length T + 20): 10 symbols drawn uniformly with replacement from
    a0..a7, then T - 1 blanks, the delimiter, and 10 blanks. Target (length
    T + 20): T + 10 blanks, then the same 10 symbols in order. The loss is the
    softmax cross-entropy averaged over all T + 20 steps (and the batch).

    Memoryless baseline: predict blank for the first T + 10 steps and a uniform
    guess over the 8 data symbols for the last 10, giving
    :math:`10 \ln 8 / (T + 20)`.

    Arjovsky, Shah & Bengio (2016), "Unitary Evolution Recurrent Neural
    Networks", ICML, arXiv:1511.06464, Sec. 4.1. (Their code numbers the symbols
    differently: 0 blank, 1..8 data, 9 marker; the task is the same.)
    """

    reference = "Arjovsky, Shah & Bengio 2016 (arXiv:1511.06464), Sec. 4.1"
    description = "reproduce 10 symbols (from 8) after a delay of T blanks; cross-entropy over T+20 steps"
    n_symbols = 10
    output_size = 10
    readout = "every"
    loss = "xent"
    min_T = 1
    baseline_rule = "blank for T+10 steps, then uniform over the 8 data symbols: 10 ln 8 / (T+20)"

    solved_rule = "recall accuracy >= 0.99 on the held-out set"

    def is_solved(self, final):
        return final.get("recall_accuracy", 0.0) >= 0.99

    def seq_len(self) -> int:
        return self.T + 2 * N_COPY

    @property
    def max_dependency(self) -> int:
        return self.T + N_COPY

    def baseline(self) -> float:
        return N_COPY * math.log(N_DATA) / (self.T + 2 * N_COPY)

    def sample(self, rng, batch_size):
        T, B = self.T, batch_size
        data = rng.integers(0, N_DATA, size=(N_COPY, B))
        inputs = np.full((T + 2 * N_COPY, B), BLANK, np.int64)
        inputs[:N_COPY] = data
        inputs[T + N_COPY - 1] = DELIM
        targets = np.full((T + 2 * N_COPY, B), BLANK, np.int64)
        targets[T + N_COPY:] = data
        return Batch(inputs, targets)

    def metrics(self, outputs, batch):
        # Fraction of the 10 recalled symbols predicted right (memoryless: 1/8).
        pred = outputs[-N_COPY:].argmax(axis=-1)
        correct = (pred == batch.targets[-N_COPY:]).mean(axis=0)
        return {"recall_accuracy": float(correct.sum())}
