"""Parity with torch.nn.LSTM and torch.nn.GRU after converting the weights."""
import numpy as np
import pytest

import lstmlab
from lstmlab.torch_compat import from_torch, to_torch

torch = pytest.importorskip("torch")

MODULES = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU,
           "rnn": lambda *a, **k: torch.nn.RNN(*a, nonlinearity="tanh", **k),
           "irnn": lambda *a, **k: torch.nn.RNN(*a, nonlinearity="relu", **k)}
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


@pytest.mark.parametrize("name", sorted(MODULES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layers,bidir", [(1, False), (2, True)])
def test_outputs_states_and_all_gradients(name, dtype, layers, bidir):
    torch.manual_seed(0)
    T, B, D, H = 7, 3, 4, 5
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    mod = MODULES[name](D, H, layers, bidirectional=bidir).to(tdt)
    layer = lstmlab.RNN(name, D, H, layers, bidirectional=bidir, dtype=dtype)
    layer.set_params(from_torch(layer, {k: v.detach().numpy() for k, v in mod.state_dict().items()}))
    rng = np.random.default_rng(0)
    n = layers * (2 if bidir else 1)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    st = tuple(rng.uniform(-1, 1, (n, B, H)).astype(dtype) for _ in layer.spec.state)
    xt = torch.tensor(x, requires_grad=True)
    stt = [torch.tensor(s, requires_grad=True) for s in st]
    yt, fin_t = mod(xt, tuple(stt) if name == "lstm" else stt[0])
    fin_t = fin_t if name == "lstm" else (fin_t,)
    wy = rng.standard_normal(yt.shape).astype(dtype)
    ws = [rng.standard_normal(f.shape).astype(dtype) for f in fin_t]
    loss = (yt * torch.tensor(wy)).sum() + sum((f * torch.tensor(w)).sum() for f, w in zip(fin_t, ws))
    loss.backward()

    y, fin, ctx = layer.forward(x, st)
    grads, dx, ds0 = layer.backward(ctx, wy, tuple(ws))
    tol = TOL[dtype]
    np.testing.assert_allclose(y, yt.detach().numpy(), **tol)
    for a, b in zip(fin, fin_t):
        np.testing.assert_allclose(a, b.detach().numpy(), **tol)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **tol)
    for a, b in zip(ds0, stt):
        np.testing.assert_allclose(a, b.grad.numpy(), **tol)
    # parameter gradients, mapped through the same conversion
    tgrads = {k: v.grad.numpy() for k, v in mod.named_parameters()}
    ours = from_torch(layer, tgrads) if name == "gru" else None
    for l in range(layers):
        for d in range(2 if bidir else 1):
            sfx, pre = f"_l{l}" + ("_reverse" if d else ""), f"layer{l}" + (".reverse" if d else "")
            np.testing.assert_allclose(grads[f"{pre}.W"], tgrads[f"weight_ih{sfx}"], **tol)
            np.testing.assert_allclose(grads[f"{pre}.R"], tgrads[f"weight_hh{sfx}"], **tol)
            np.testing.assert_allclose(grads[f"{pre}.b"], tgrads[f"bias_ih{sfx}"], **tol)
            if name != "gru":  # one effective bias: d b_hh == d b_ih
                np.testing.assert_allclose(grads[f"{pre}.b"], tgrads[f"bias_hh{sfx}"], **tol)
            else:
                np.testing.assert_allclose(grads[f"{pre}.b_R"], ours[f"{pre}.b_R"], **tol)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_lengths_match_packed_sequences(name):
    torch.manual_seed(1)
    T, B, D, H = 6, 3, 2, 4
    mod = MODULES[name](D, H, 1, bidirectional=True).double()
    layer = lstmlab.RNN(name, D, H, bidirectional=True, dtype=np.float64)
    layer.set_params(from_torch(layer, {k: v.detach().numpy() for k, v in mod.state_dict().items()}))
    x = np.random.default_rng(2).standard_normal((T, B, D))
    lengths = [6, 2, 4]
    packed = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x), lengths, enforce_sorted=False)
    out, fin_t = mod(packed)
    yt, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)
    y, fin, _ = layer.forward(x, lengths=lengths)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    h_t = fin_t[0] if name == "lstm" else fin_t
    np.testing.assert_allclose(fin[0], h_t.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["lstm", "irnn"])
def test_round_trip_to_torch(name):
    layer = lstmlab.RNN(name, 3, 4, 2, bidirectional=True, dtype=np.float64, init="torch", seed=3)
    mod = MODULES[name](3, 4, 2, bidirectional=True).double()
    mod.load_state_dict({k: torch.from_numpy(v) for k, v in to_torch(layer).items()})
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    np.testing.assert_allclose(layer.forward(x)[0], mod(torch.tensor(x))[0].detach().numpy(), rtol=1e-10, atol=1e-12)
    again = from_torch(layer, to_torch(layer))
    for k, v in layer.params.items():
        np.testing.assert_array_equal(again[k], v)


def test_conversion_errors():
    layer = lstmlab.RNN("peephole", 2, 3)
    with pytest.raises(ValueError, match="must be one of .*'irnn'.*'rnn'"):
        to_torch(layer)
    lstm = lstmlab.RNN("lstm", 2, 3)
    sd = to_torch(lstm)
    del sd["bias_hh_l0"]
    with pytest.raises(KeyError, match="bias_hh_l0"):
        from_torch(lstm, sd)
    sd = to_torch(lstm)
    sd["weight_hr_l0"] = np.zeros((3, 3), np.float32)
    with pytest.raises(KeyError, match="weight_hr_l0"):
        from_torch(lstm, sd)
