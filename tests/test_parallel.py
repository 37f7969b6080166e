"""Two threads: a bidirectional layer's directions at once (lstmlab.parallel) give the one-thread results."""
import threading
import time

import numpy as np
import pytest
from conftest import random_layer

from lstmlab import config, parallel


def _run(layer, x, st, lengths, dy, ds):
    y, fin, ctx = layer.forward(x, st, lengths)
    grads, dx, d0 = layer.backward(ctx, dy, ds)
    return y, fin, grads, dx, d0


@pytest.mark.parametrize("variant,layers", [("peephole", 2), ("gru", 1)])
def test_directions_at_once_equal_one_thread(variant, layers, monkeypatch):
    layer = random_layer(variant, D=3, H=5, L=layers, bidirectional=True)
    rng = np.random.default_rng(0)
    B, n = 7, 2 * layers
    x = rng.standard_normal((6, B, 3))
    st = tuple(rng.uniform(-0.5, 0.5, (n, B, 5)) for _ in layer.spec.state)
    lengths = rng.integers(1, 7, B)
    dy = rng.standard_normal((6, B, 10))
    ds = tuple(rng.standard_normal((n, B, 5)) for _ in layer.spec.state)
    one = _run(layer, x, st, lengths, dy, ds)
    seen = []
    real = parallel.run_all
    monkeypatch.setattr(parallel, "run_all", lambda fns: seen.append(len(fns)) or real(fns))
    monkeypatch.setattr(config, "THREADS", 2)
    two = _run(layer, x, st, lengths, dy, ds)
    assert seen == [2] * (2 * layers)  # every layer's forward and backward ran its two directions together
    for a, b in [(one[0], two[0]), (one[3], two[3])] + list(zip(one[1], two[1])) + list(zip(one[4], two[4])):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-13)
    for k in one[2]:
        np.testing.assert_allclose(two[2][k], one[2][k], rtol=1e-12, atol=1e-13, err_msg=k)


def test_run_all_uses_threads_only_when_asked(monkeypatch):
    def who():
        time.sleep(0.01)
        return threading.get_ident()
    assert len(set(parallel.run_all([who, who]))) == 1  # one thread: in order, on this thread
    monkeypatch.setattr(config, "THREADS", 2)
    assert len(set(parallel.run_all([who, who]))) == 2
    assert parallel.run_all([lambda: 1, lambda: 2]) == [1, 2]


def test_bad_thread_count_from_the_environment_is_named():
    import os
    import subprocess
    import sys
    env = dict(os.environ, LSTMLAB_THREADS="two")
    p = subprocess.run([sys.executable, "-c", "import lstmlab"], capture_output=True, text=True, env=env)
    assert p.returncode != 0 and "LSTMLAB_THREADS: expected a positive int number of threads, got 'two'" in p.stderr
