"""A context belongs to the layer (and parameter version) that made it; kernels never see a wrong buffer.

Handing a GRU forward's context to an LSTM layer's backward used to reach a
compiled kernel with buffers of the wrong shape and crash the process later
(exit 139). Each such case now fails with a clear error before any kernel
runs, and the process carries on.
"""
import subprocess
import sys

import numpy as np
import pytest

import lstmlab
from lstmlab import engine

REPRODUCER = """
import numpy as np, lstmlab
x = np.zeros((5, 2, 3), np.float32)
for made, used in [("gru", "lstm"), ("janet", "lstm"), ("mgu", "lstm"), ("lstm", "gru"), ("lstm", "lstm")]:
    a, b = lstmlab.RNN(made, 3, 4), lstmlab.RNN(used, 3, 4)
    y, _, ctx = a.forward(x)
    try:
        b.backward(ctx, np.ones_like(y))
    except ValueError as exc:
        assert "ctx: made by the forward of" in str(exc), exc
    else:
        raise SystemExit(f"{made} -> {used}: accepted")
    # and the engine itself refuses a foreign tape (a direct caller skips the layer)
    try:
        nst = len(b.spec.state)
        engine.backward(b.spec, ctx.tapes[0], np.ones((5, 2, 4), np.float32), np.zeros((nst, 2, 4), np.float32))
    except ValueError as exc:
        assert "tape" in str(exc) or "params" in str(exc), exc
    else:
        if made != used:
            raise SystemExit(f"engine accepted a {made} tape for {used}")
for _ in range(20):  # ordinary work afterwards: this is where it used to die
    layer = lstmlab.RNN("lstm", 3, 4)
    y, _, ctx = layer.forward(np.ones((30, 2, 3), np.float32))
    layer.backward(ctx, np.ones_like(y))
print("clean")
""".replace("engine.backward", "lstmlab.engine.backward")


def test_foreign_contexts_are_refused_and_the_process_survives():
    rc = subprocess.run([sys.executable, "-c", "import lstmlab.engine\n" + REPRODUCER], capture_output=True,
                        text=True, timeout=600)
    assert rc.returncode == 0 and "clean" in rc.stdout, (rc.returncode, rc.stdout, rc.stderr[-2000:])


def _layer(name="lstm", H=4):
    return lstmlab.RNN(name, 3, H, dtype=np.float64, seed=0)


def test_context_of_another_size_is_refused():
    a, b = _layer(H=4), _layer(H=5)
    y, _, ctx = a.forward(np.zeros((3, 2, 3)))
    with pytest.raises(ValueError, match="hidden 4.*not this 'lstm' layer.*hidden 5"):
        b.backward(ctx, np.ones((3, 2, 5)))


@pytest.mark.parametrize("how", ["assign", "set_params"])
def test_a_stale_context_is_refused(how):
    layer = _layer()
    y, _, ctx = layer.forward(np.zeros((3, 2, 3)))
    if how == "assign":
        layer.params["layer0.R"] = np.zeros_like(layer.params["layer0.R"])
    else:
        layer.set_params(dict(layer.params))
    with pytest.raises(ValueError, match="parameters were replaced"):
        layer.backward(ctx, np.ones_like(y))
    y, _, ctx = layer.forward(np.zeros((3, 2, 3)))  # a fresh forward is fine
    layer.backward(ctx, np.ones_like(y))


def test_in_place_updates_keep_the_context():
    layer = _layer()
    y, _, ctx = layer.forward(np.zeros((3, 2, 3)))
    layer.params["layer0.R"] *= 0.5  # what the optimisers do
    layer.backward(ctx, np.ones_like(y))


@pytest.mark.parametrize("name, value, err, msg", [
    ("layer0.R", np.zeros((16, 4), np.float32), TypeError, "expected dtype float64 .*got float32"),
    ("layer0.R", np.zeros((16, 5)), ValueError, r"expected shape \(16, 4\), got \(16, 5\)"),
    ("layer0.RR", np.zeros((16, 4)), KeyError, "did you mean 'layer0.R'"),
    ("layer0.R", [[0.0]], TypeError, "expected a numpy array"),
])
def test_assignments_into_params_are_checked(name, value, err, msg):
    layer = _layer()
    with pytest.raises(err, match=msg):
        layer.params[name] = value


def test_params_cannot_lose_entries():
    layer = _layer()
    with pytest.raises(TypeError, match="cannot be removed"):
        del layer.params["layer0.R"]
    with pytest.raises(TypeError, match="cannot be removed"):
        layer.params.pop("layer0.W")


def test_engine_checks_shapes_before_any_kernel():
    layer = _layer()
    p = {k.split(".")[-1]: v for k, v in layer.params.items()}
    x = np.zeros((3, 2, 3))
    with pytest.raises(ValueError, match=r"params\['R'\]: expected shape"):
        engine.forward(layer.spec, dict(p, R=np.zeros((16, 5))), x, np.zeros((2, 2, 4)), np.full(2, 3, np.int64))
    with pytest.raises(ValueError, match="lengths: expected shape"):
        engine.forward(layer.spec, p, x, np.zeros((2, 2, 4)), np.full(1, 3, np.int64))
    with pytest.raises(TypeError, match="lengths: expected dtype int64"):
        engine.forward(layer.spec, p, x, np.zeros((2, 2, 4)), np.full(2, 3, np.int32))
