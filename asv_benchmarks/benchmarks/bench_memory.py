"""Peak memory of a training step on a long sequence (T = 10 000, B = 16, H = 256)."""
import numpy as np

import lstmlab
from lstmlab.benchmark.memory import must_keep_bytes, step_peak_bytes

from .common import size

LONG = "10000,16,64,256"


class LongSequence:
    params = ([None, 100], [LONG])
    param_names = ["recompute", "T,B,D,H"]
    timeout = 600

    def setup(self, K, shape):
        T, B, D, H = size(shape)
        self.layer = lstmlab.RNN("lstm", D, H)
        y, _, c = self.layer.forward(np.zeros((3, 2, D), np.float32), recompute=K)
        self.layer.backward(c, np.ones_like(y))  # compile outside the measurement
        self.x = np.random.default_rng(0).standard_normal((T, B, D)).astype(np.float32)
        self.dy = np.ones((T, B, H), np.float32)

    def peakmem_train_step(self, K, shape):
        y, _, ctx = self.layer.forward(self.x, recompute=K)
        self.layer.backward(ctx, self.dy)

    def track_peak_over_must_keep(self, K, shape):
        peak, _ = step_peak_bytes("lstm", *size(shape), recompute=K)
        return peak / must_keep_bytes("lstm", *size(shape))

    track_peak_over_must_keep.unit = "ratio"
