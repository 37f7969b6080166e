"""The gradient-by-lag diagnostic against torch autograd and a per-sequence reference."""
import numpy as np
import pytest

import lstmlab
from lstmlab.diagnostics import gradient_by_lag, model_gradient_by_lag
from lstmlab.torch_compat import to_torch

torch = pytest.importorskip("torch")


def test_matches_torch_autograd():
    T, B, D, H = 12, 3, 2, 5
    layer = lstmlab.RNN("rnn", D, H, dtype=np.float64, seed=1)
    mod = torch.nn.RNN(D, H, nonlinearity="tanh").double()
    mod.load_state_dict({k: torch.from_numpy(v) for k, v in to_torch(layer).items()})
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, D))
    g = rng.standard_normal((B, H))
    xt = torch.tensor(x, requires_grad=True)
    y, _ = mod(xt)
    (y[-1] * torch.tensor(g)).sum().backward()
    want = np.linalg.norm(xt.grad.numpy(), axis=2).mean(axis=1)[::-1]     # lag k = T-1-t
    np.testing.assert_allclose(gradient_by_lag(layer, x, g), want, rtol=1e-10, atol=1e-14)


def test_lengths_align_lags_per_sequence():
    layer = lstmlab.RNN("lstm", 2, 4, dtype=np.float64, seed=0)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((9, 2, 2))
    g = rng.standard_normal((2, 4))
    both = gradient_by_lag(layer, x, g, lengths=np.array([9, 5]))
    a = gradient_by_lag(layer, x[:, :1], g[:1])
    b = gradient_by_lag(layer, np.ascontiguousarray(x[:5, 1:]), g[1:])
    np.testing.assert_allclose(both[:5], (a[:5] + b) / 2, rtol=1e-12)
    np.testing.assert_allclose(both[5:], a[5:], rtol=1e-12)       # only the long sequence reaches lag >= 5


def test_the_gates_keep_the_gradient_the_tanh_rnn_loses():
    x = np.random.default_rng(0).standard_normal((120, 8, 2)).astype(np.float32)
    g = {v: gradient_by_lag(lstmlab.RNN(v, 2, 32, seed=0), x) for v in ("rnn", "lstm", "irnn")}
    decay = {v: g[v][100] / g[v][0] for v in g}
    assert decay["rnn"] < 1e-10 < decay["lstm"]               # geometric loss vs the cell path
    assert decay["irnn"] > 1e-3                                # R = I keeps it at initialisation


@pytest.mark.parametrize("task", ["adding", "copy", "adding1997"])
def test_model_diagnostic(task):
    from lstmlab.tasks import make_task
    from lstmlab.training import SequenceModel
    t = make_task(task, 30)
    model = SequenceModel(t, "gru", 8, rng=np.random.default_rng(0))
    batch = t.batch(np.random.default_rng(1), 4)
    g = model_gradient_by_lag(model, batch)
    assert g.shape == (batch.inputs.shape[0],) and np.all(np.isfinite(g[:30])) and g[0] > 0
    # each sequence's own last-step term: the batch's curve is the mean of the single-sequence ones
    g_each = [model_gradient_by_lag(model, _one(batch, b, t.readout == "every")) for b in range(4)]
    n = int(batch.lengths.min()) if batch.lengths is not None else len(g)   # lags every sequence reaches
    np.testing.assert_allclose(g[:n], np.mean([x[:n] for x in g_each], axis=0), rtol=1e-4)


def _one(batch, b, every):
    """Sequence b of a time-major batch, as a batch of one."""
    pick = {"inputs": lambda v: v[:, b:b + 1],
            "targets": (lambda v: v[:, b:b + 1]) if every else (lambda v: v[b:b + 1]),
            "lengths": lambda v: v[b:b + 1], "weights": lambda v: v[:, b:b + 1] if v.ndim > 1 else v[b:b + 1]}
    return type(batch)(**{k: None if v is None else np.ascontiguousarray(pick[k](v)) for k, v in vars(batch).items()})


def test_bad_input():
    layer = lstmlab.RNN("rnn", 2, 3)
    with pytest.raises(ValueError, match=r"x: expected shape \(T, B, D\)"):
        gradient_by_lag(layer, np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match=r"dy_last: expected shape \(2, 3\)"):
        gradient_by_lag(layer, np.zeros((4, 2, 2), np.float32), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="lengths: expected 2 ints in"):
        gradient_by_lag(layer, np.zeros((4, 2, 2), np.float32), lengths=np.array([5, 1]))
