"""Layer normalisation (lstmlab.layernorm): the three definitions against torch, gradients, errors.

Each normalised variant compiles its own kernels (tens of seconds), so the
tests share a few float64 layers: the LSTM in every definition (checked
against torch autograd), the GRU (reset after the product) and the MGU (two stages) under "xh" by
finite differences, with zoneout on top.
"""
import numpy as np
import pytest
from conftest import check_sampled_gradients, run_cuda_script, user_variant_source

import lstmlab
from lstmlab import layernorm
from lstmlab.registry import get_spec
from lstmlab.scalar import sigmoid, tanh
from lstmlab.variants.lstm import LSTM

torch = pytest.importorskip("torch")


def _ln(v, g, b=None, eps=layernorm.EPS):
    mu = v.mean(1, keepdim=True)
    var = ((v - mu) ** 2).mean(1, keepdim=True)
    out = (v - mu) / torch.sqrt(var + eps) * g
    return out + b if b is not None else out


def lstm_reference(kind, P, x, h, c):
    """torch.nn.LSTM's maths with the layer norm of ``kind`` written out, for autograd."""
    H = h.shape[1]
    blocks = "ifgo"
    ys = []
    for t in range(x.shape[0]):
        xw, rh = x[t] @ P["W"].T, h @ P["R"].T
        if kind == "gates":  # each gate's x + a on its own (TensorFlow contrib's cell)
            pre = torch.cat([_ln((xw + rh)[:, k * H:(k + 1) * H], P[f"ln_g_{b}"], P[f"ln_b_{b}"])
                             for k, b in enumerate(blocks)], 1)
        else:  # W x and R h separately, over all four gates (Ba et al. 2016)
            cat = lambda name: torch.cat([P[f"{name}_{b}"] for b in blocks])  # noqa: E731
            pre = _ln(xw, cat("ln_gx"), cat("ln_bx")) + _ln(rh, cat("ln_ga"))
        i, f, g, o = pre.split(H, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(_ln(c, P["ln_gc"], P["ln_bc"]) if kind == "xh+cell" else c)
        ys.append(h)
    return torch.stack(ys), h, c


@pytest.fixture(scope="module", params=layernorm.KINDS)
def lstm_layer(request):
    rng = np.random.default_rng(0)
    layer = lstmlab.RNN("lstm", 3, 5, dtype=np.float64, seed=0, layer_norm=request.param)
    for k in layer.params:  # move gains and shifts off 1 and 0 so every path is exercised
        layer.params[k] = layer.params[k] + rng.uniform(-0.3, 0.3, layer.params[k].shape)
    return request.param, layer


def test_lstm_matches_torch_autograd(lstm_layer):
    kind, layer = lstm_layer
    rng = np.random.default_rng(1)
    T, B = 6, 3
    x = rng.standard_normal((T, B, 3))
    s0 = rng.uniform(-0.5, 0.5, (2, 1, B, 5))
    L = np.array([6, 4, 2])
    y, (hT, cT), ctx = layer.forward(x, (s0[0], s0[1]))
    dy, dh, dc = (rng.standard_normal(a.shape) for a in (y, hT, cT))
    grads, dx, (dh0, dc0) = layer.backward(ctx, dy, (dh, dc))
    tp = {k.split(".")[-1]: torch.tensor(v, requires_grad=True) for k, v in layer.params.items()}
    tx = torch.tensor(x, requires_grad=True)
    th0, tc0 = (torch.tensor(s[0], requires_grad=True) for s in s0)
    ty, th, tc = lstm_reference(kind, tp, tx, th0, tc0)
    np.testing.assert_allclose(y, ty.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(cT[0], tc.detach().numpy(), atol=1e-12)
    ((ty * torch.tensor(dy)).sum() + (th * torch.tensor(dh[0])).sum() + (tc * torch.tensor(dc[0])).sum()).backward()
    assert "layer0.b" not in grads  # the shifts after the normalisation replace the input bias
    for k, v in grads.items():
        np.testing.assert_allclose(v, tp[k.split(".")[-1]].grad.numpy(), atol=1e-10, err_msg=k)
    np.testing.assert_allclose(dx, tx.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(dh0[0], th0.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(dc0[0], tc0.grad.numpy(), atol=1e-10)
    # variable lengths: the state stops at each sequence's end, like the plain cell
    y2, (h2, c2), _ = layer.forward(x, (s0[0], s0[1]), L)
    for b, n in enumerate(L):
        yb, (hb, cb), _ = layer.forward(x[:n, b:b + 1], (s0[0][:, b:b + 1], s0[1][:, b:b + 1]))
        np.testing.assert_allclose(y2[:n, b], yb[:, 0], atol=1e-12)
        np.testing.assert_allclose(h2[:, b], hb[:, 0], atol=1e-12)
        np.testing.assert_allclose(y2[n:, b], 0.0)


def test_lstm_deterministic_and_invariant_to_input_scale(lstm_layer):
    """LN(W x) is invariant to scaling W: the defining property of the normalisation."""
    kind, layer = lstm_layer
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 2, 3))
    y1 = layer(x)[0]
    np.testing.assert_array_equal(y1, layer(x)[0])
    if kind != "gates":  # per-gate LN normalises W x + R h together: no separate invariance
        W = layer.params["layer0.W"].copy()
        layer.params["layer0.W"] = 3.0 * W
        try:
            # up to the epsilon under the square root: var + eps against 9 var + eps
            np.testing.assert_allclose(layer(x)[0], y1, atol=1e-3)
        finally:
            layer.params["layer0.W"] = W


@pytest.mark.parametrize("variant", ["gru", "mgu"])
def test_xh_gradients_by_finite_differences_with_zoneout(variant):
    layer = lstmlab.RNN(variant, 2, 3, dtype=np.float64, seed=3, layer_norm="xh", zoneout=0.2)
    rng = np.random.default_rng(4)
    for k in layer.params:
        layer.params[k] = layer.params[k] + rng.uniform(-0.3, 0.3, layer.params[k].shape)
    x = rng.standard_normal((4, 2, 2))
    state = (rng.uniform(-0.5, 0.5, (1, 2, 3)),)
    check_sampled_gradients(layer, x, state, np.array([4, 3]))


def test_parameters_and_initialisation():
    spec = layernorm.normalise(get_spec("lstm"), "xh+cell")
    assert spec is layernorm.normalise(get_spec("lstm"), "xh+cell")  # cached
    shapes = spec.param_shapes(3, 4)
    assert "b" not in shapes and shapes["ln_gc"] == (4,)
    p = lstmlab.RNN("lstm", 3, 4, layer_norm="xh", seed=0, forget_bias=2.0).params
    np.testing.assert_array_equal(p["layer0.ln_bx_f"], 2.0)  # the forget bias goes to the shift
    np.testing.assert_array_equal(p["layer0.ln_gx_i"], 1.0)
    np.testing.assert_array_equal(p["layer0.ln_bx_i"], 0.0)
    chrono = lstmlab.RNN("lstm", 3, 4, layer_norm="gates", seed=0, init="chrono", t_max=50).params
    np.testing.assert_array_equal(chrono["layer0.ln_b_i"], -chrono["layer0.ln_b_f"])
    assert chrono["layer0.ln_b_f"].min() >= 0


def test_training_config_and_cli_flag():
    from lstmlab.training.config import TrainConfig
    cfg = TrainConfig(task="adding", variant="lstm", layer_norm="gates", steps=1).validate()
    assert cfg.layer_norm == "gates"
    with pytest.raises(ValueError, match="layer_norm='gates'.*'gru'"):
        TrainConfig(task="adding", variant="gru", layer_norm="gates", steps=1).validate()
    from lstmlab.cli import build_parser
    args = build_parser().parse_args(["train", "--task", "adding", "--layer-norm", "xh+cell"])
    assert args.layer_norm == "xh+cell"


@pytest.mark.parametrize("variant, kind, match", [
    ("lstm", "batch", "layer_norm: expected one of"),
    ("gru", "xh+cell", "layer_norm='xh\\+cell': variant 'gru' declares no memory cell"),
    ("gru", "gates", "layer_norm='gates': variant 'gru'.*x_k \\+ a_k"),
    ("rnn", "xh+cell", "variant 'rnn' declares no memory cell"),
])
def test_refusals_name_the_option_and_the_variant(variant, kind, match):
    with pytest.raises(ValueError, match=match):
        lstmlab.RNN(variant, 2, 3, layer_norm=kind)


class _LinearOutput(LSTM):
    """h = o * c instead of o * tanh(c), with the LSTM's cell_output inherited."""

    @staticmethod
    def forward(x_i, x_f, x_g, x_o, a_i, a_f, a_g, a_o, c):
        i, f, g, o = sigmoid(x_i + a_i), sigmoid(x_f + a_f), tanh(x_g + a_g), sigmoid(x_o + a_o)
        c_new = f * c + i * g
        return o * c_new, c_new, i, f, g, o, tanh(c_new)


def test_cell_output_is_checked_against_the_forward():
    """A subclass that changes how h is made but inherits cell_output is refused, not silently wrong."""
    lstmlab.register(_LinearOutput, name="test_ln_linear_out", override=True)
    try:
        with pytest.raises(ValueError, match="is not _LinearOutput.cell_output of its cell"):
            layernorm.normalise(get_spec("test_ln_linear_out"), "xh+cell")
    finally:
        lstmlab.unregister("test_ln_linear_out")


def test_layer_norm_of_a_state_of_size_one_is_refused():
    with pytest.raises(ValueError, match="layer_norm.*hidden_size=1"):
        lstmlab.RNN("lstm", 2, 1, layer_norm="xh")


CUDA_SCRIPT = user_variant_source("user_ln") + """
import numpy as np
from numba import cuda

cases = [("lstm", "xh+cell", "step"), ("lstm", "xh+cell", "persistent"), ("lstm", "gates", "step"),
         ("gru", "xh", "step"), ("user_ln", "xh", "step")]
for name, kind, kernels in cases:
    cpu = lstmlab.RNN(name, 2, 4, dtype=np.float64, seed=1, layer_norm=kind)
    gpu = lstmlab.RNN(name, 2, 4, dtype=np.float64, seed=1, layer_norm=kind, device="cuda", cuda_kernels=kernels)
    rng = np.random.default_rng(0)
    cpu.set_params({k: v + rng.uniform(-0.3, 0.3, v.shape) for k, v in cpu.params.items()})
    gpu.set_params(cpu.params)
    x = rng.standard_normal((3, 2, 2))
    L = np.array([3, 2])
    yc, fc, cc = cpu.forward(x, lengths=L)
    dy = rng.standard_normal(yc.shape)
    gc, dxc, _ = cpu.backward(cc, dy)
    if kernels == "step" and name != "lstm":  # the stack kept on the device: device arrays in and out
        yg, fg, cg = gpu._forward(cuda.to_device(x), None, L, None, None,
                                  {k: cuda.to_device(v) for k, v in cpu.params.items()})
        gg, dxg, _ = gpu.backward(cg, cuda.to_device(dy))
        yg, dxg, gg = yg.copy_to_host(), dxg.copy_to_host(), {k: v.copy_to_host() for k, v in gg.items()}
    else:
        yg, fg, cg = gpu.forward(x, lengths=L)
        gg, dxg, _ = gpu.backward(cg, dy)
    err = max([np.abs(yc - yg).max(), np.abs(dxc - dxg).max()] + [np.abs(gc[k] - gg[k]).max() for k in gc])
    assert err < 1e-10, (name, kind, kernels, err)
print("ok")
"""


def test_cuda_matches_cpu():
    """The CUDA kernels (simulator without a GPU) against the CPU with layer norm: the LSTM's cell form (step and
    persistent kernels) and per-gate form, the GRU and a user's variant ("xh", the stack kept on the device)."""
    run_cuda_script(CUDA_SCRIPT)
