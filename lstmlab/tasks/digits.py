"""Handwritten digits read pixel by pixel: a small real data set, where regularisation has something to show."""
from __future__ import annotations

import math
import threading

import numpy as np

from .base import Batch, Task, register_task

#: Fixed seeds of the split and of the permutation: part of the task's definition, not of a run.
_SPLIT_SEED, _PERMUTATION_SEED = 20150401, 20160101
TEST_FRACTION = 1 / 3
_DATA: dict = {}
_LOCK = threading.Lock()


def load(permuted: bool = False) -> dict:
    """The digits as sequences: ``{"train": (x, y), "test": (x, y)}``.

    x: (N, 64) float64 pixel intensities in [0, 1] (scikit-learn's 0-16 scaled),
    row by row, or in the task's fixed random order when ``permuted``; y: (N,)
    int64 classes 0-9. The split is stratified and fixed (a third of each
    class to the test set, chosen with a fixed seed): 1,198 train and 599 test
    images of scikit-learn's 1,797 (the UCI optdigits test set, 8 x 8, 16
    grey levels; Alpaydin & Kaynak 1998), read from the installed package.
    """
    with _LOCK:
        if permuted not in _DATA:
            try:
                from sklearn.datasets import load_digits
            except ImportError:
                raise ImportError("task 'digits' needs scikit-learn, which ships the images: "
                                  "pip install 'lstmlab[digits]' (or scikit-learn)") from None
            d = load_digits()
            x, y = d.data.astype(np.float64) / 16.0, d.target.astype(np.int64)
            if permuted:
                x = x[:, np.random.default_rng(_PERMUTATION_SEED).permutation(x.shape[1])]
            rng = np.random.default_rng(_SPLIT_SEED)
            test = np.zeros(len(y), bool)
            for k in range(10):
                idx = np.flatnonzero(y == k)
                test[rng.permutation(idx)[:int(round(len(idx) * TEST_FRACTION))]] = True
            _DATA[permuted] = {"train": (x[~test], y[~test]), "test": (x[test], y[test])}
        return _DATA[permuted]


@register_task("digits")
class Digits(Task):
    """Classify an 8 x 8 handwritten digit from its 64 pixels, one per step.

    The small cousin of pixel-by-pixel MNIST (Le, Jaitly & Hinton 2015, Sec.
    4.2) and of permuted MNIST (``permuted=True``: the pixels in one fixed
    random order, so that neighbouring pixels are far apart in time; Le et al.
    2015; Arjovsky et al. 2016, Sec. 4.4), on scikit-learn's digits. Training
    batches are drawn with replacement from the training split; the held-out
    set is always the whole test split (``eval_size`` does not change it).

    inputs (64, B, 1) intensities in [0, 1]; targets (B,) classes; the class is
    read at the last step (cross-entropy). Needs the ``digits`` extra.
    """

    reference = ("pixel-by-pixel digits as in Le et al. 2015 (Sec. 4.2) and Arjovsky et al. 2016 (Sec. 4.4), on "
                 "scikit-learn's 8x8 digits (Alpaydin & Kaynak 1998)")
    description = "classify 8x8 handwritten digits read pixel by pixel (T = 64); permuted=True shuffles the pixels"
    input_size = 1
    output_size = 10
    readout = "last"
    loss = "xent"
    min_T = max_T = 64
    baseline_rule = "cross-entropy of the training split's class frequencies (about ln 10)"
    solved_rule = "held-out (test) accuracy >= 0.95"

    def __init__(self, T: int = 64, *, permuted: bool = False):
        super().__init__(T)
        if not isinstance(permuted, (bool, np.bool_)):
            raise ValueError(f"permuted: expected True or False, got {permuted!r}")
        self.permuted = bool(permuted)
        self.data = load(self.permuted)

    @property
    def max_dependency(self) -> int:
        return self.T

    def baseline(self) -> float:
        _, y_train = self.data["train"]
        _, y_test = self.data["test"]
        prior = np.bincount(y_train, minlength=10) / len(y_train)
        return float(-np.mean(np.log(prior[y_test])))

    def is_solved(self, final):
        return final.get("accuracy", 0.0) >= 0.95

    @staticmethod
    def _batch(x, y, idx) -> Batch:
        return Batch(inputs=np.ascontiguousarray(x[idx].T[:, :, None]), targets=y[idx].copy())

    def sample(self, rng, batch_size):
        x, y = self.data["train"]
        return self._batch(x, y, rng.integers(0, len(y), batch_size))

    def heldout(self, size: int, seed: int, batch_size: int = 256) -> list[Batch]:
        """The whole test split, in order (``size`` and ``seed`` do not change it)."""
        x, y = self.data["test"]
        n = len(y)
        return [self._batch(x, y, np.arange(i, min(i + batch_size, n))) for i in range(0, n, batch_size)]

    def metrics(self, outputs, batch):
        return {"accuracy": float((outputs.argmax(axis=-1) == batch.targets).sum())}

    def describe(self) -> str:
        x, _ = self.data["train"]
        return (f"{self.name} (T={self.T}{', permuted' if self.permuted else ''}): {len(x)} training and "
                f"{len(self.data['test'][1])} test images; baseline {self.baseline():.6g} "
                f"(ln 10 = {math.log(10):.4g}) - {self.baseline_rule}")
