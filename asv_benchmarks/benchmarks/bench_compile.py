"""Compile time of a variant (cold kernel cache) and time to first result (warm cache).

Each measurement is a fresh ``python`` process with its own cache folders
(``LSTMLAB_CACHE_DIR``, ``NUMBA_CACHE_DIR``), so nothing compiled by asv's own
process or an earlier run leaks in.
"""
import os
import subprocess
import sys
import tempfile

_SCRIPT = """
import time
t0 = time.perf_counter()
import numpy as np, lstmlab
t1 = time.perf_counter()
layer = lstmlab.RNN({variant!r}, 4, 8)
y, _, c = layer.forward(np.zeros((5, 2, 4), np.float32))
layer.backward(c, np.ones_like(y))
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def _run(variant, cache):
    env = dict(os.environ, LSTMLAB_CACHE_DIR=cache, NUMBA_CACHE_DIR=cache)
    out = subprocess.run([sys.executable, "-c", _SCRIPT.format(variant=variant)], env=env,
                         capture_output=True, text=True, check=True, timeout=300)
    imp, first = map(float, out.stdout.split())
    return imp, first


class Compile:
    params = (["lstm", "gru", "mgu"],)
    param_names = ["variant"]
    timeout = 600
    number = 1
    repeat = 1

    def setup(self, variant):
        self.tmp = tempfile.TemporaryDirectory()
        # the shared BLAS wrappers compile once per cache: pay for them here
        _run("janet", self.tmp.name)

    def teardown(self, variant):
        self.tmp.cleanup()

    def track_first_call_cold_seconds(self, variant):
        """First forward + backward of a variant whose kernels are not cached yet."""
        return _run(variant, self.tmp.name)[1]

    track_first_call_cold_seconds.unit = "seconds"

    def track_first_result_warm_seconds(self, variant):
        """Import plus first forward + backward in a fresh process, kernels cached."""
        _run(variant, self.tmp.name)
        imp, first = _run(variant, self.tmp.name)
        return imp + first

    track_first_result_warm_seconds.unit = "seconds"
