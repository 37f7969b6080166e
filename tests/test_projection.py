"""The projection of the output state (LSTMP, lstmlab.projection): torch parity, every variant, errors.

The projected layer runs the variant's own kernels (with R P as its recurrent
matrix), so nothing here compiles beyond what the other tests compile.
"""
import numpy as np
import pytest
from conftest import check_sampled_gradients, run_cuda_script

import lstmlab
from lstmlab import torch_compat

torch = pytest.importorskip("torch")


def _torch_lstmp(D, H, P, L, bi, dtype):
    torch.manual_seed(3)
    return torch.nn.LSTM(D, H, num_layers=L, bidirectional=bi, proj_size=P).to(dtype)


@pytest.mark.parametrize("L,bi", [(1, False), (2, True)])
def test_matches_torch_lstm_with_proj_size_outputs_state_and_every_gradient(L, bi):
    """float64: outputs, h_n (proj_size units), c_n and the gradients of x, h_0, c_0 and every weight."""
    T, B, D, H, P = 6, 3, 4, 5, 2
    ref = _torch_lstmp(D, H, P, L, bi, torch.float64)
    layer = lstmlab.RNN("lstm", D, H, num_layers=L, bidirectional=bi, proj_size=P, dtype=np.float64)
    layer.set_params(torch_compat.from_torch(layer, {k: v.detach().numpy() for k, v in ref.state_dict().items()}))
    n = L * (2 if bi else 1)
    x = torch.randn(T, B, D, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(n, B, P, dtype=torch.float64, requires_grad=True)  # a non-zero r_0: the lift is exercised
    c0 = torch.randn(n, B, H, dtype=torch.float64, requires_grad=True)
    y, (hn, cn) = ref(x, (h0, c0))
    ours, (hn2, cn2), ctx = layer.forward(x.detach().numpy(), (h0.detach().numpy(), c0.detach().numpy()))
    assert ours.shape == (T, B, P * (2 if bi else 1)) and hn2.shape == (n, B, P) and cn2.shape == (n, B, H)
    for a, b in ((ours, y), (hn2, hn), (cn2, cn)):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-10, atol=1e-12)
    wy, wh, wc = torch.randn_like(y), torch.randn_like(hn), torch.randn_like(cn)
    ((y * wy).sum() + (hn * wh).sum() + (cn * wc).sum()).backward()
    grads, dx, (dh0, dc0) = layer.backward(ctx, wy.numpy(), (wh.numpy(), wc.numpy()))
    for a, b in ((dx, x), (dh0, h0), (dc0, c0)):
        np.testing.assert_allclose(a, b.grad.numpy(), rtol=1e-9, atol=1e-12)
    theirs = dict(ref.named_parameters())
    for ours_prefix, suffix in torch_compat._suffixes(layer):
        for short, name in (("W", "weight_ih"), ("R", "weight_hh"), ("proj", "weight_hr"), ("b", "bias_ih")):
            np.testing.assert_allclose(grads[f"{ours_prefix}.{short}"], theirs[name + suffix].grad.numpy(),
                                       rtol=1e-9, atol=1e-12, err_msg=f"{ours_prefix}.{short}")


def test_torch_module_loads_nn_lstm_proj_weights_and_agrees_in_float32():
    """The torch module with proj_size: nn.LSTM's state_dict in, the same outputs and gradients (float32,
    within 1e-5), a packed batch of unequal lengths, and torch_state_dict() back out."""
    from torch.nn.utils.rnn import pack_padded_sequence

    import lstmlab.torch as lt

    ref = _torch_lstmp(3, 6, 4, 2, False, torch.float32)
    m = lt.module_class("lstm")(3, 6, num_layers=2, proj_size=4)
    m.load_state_dict(ref.state_dict())
    assert "proj_size=4" in repr(m)
    x = torch.randn(5, 3, 3)
    packed = pack_padded_sequence(x, torch.tensor([5, 3, 2]), enforce_sorted=False)
    (ya, (ha, ca)), (yb, (hb, cb)) = m(packed), ref(packed)
    for a, b in ((ya.data, yb.data), (ha, hb), (ca, cb)):
        assert torch.allclose(a, b, atol=1e-5)
    (ya.data.sum() + ha.sum() + ca.sum()).backward()
    (yb.data.sum() + hb.sum() + cb.sum()).backward()
    ours, theirs = dict(m.named_parameters()), dict(ref.named_parameters())
    for a, b in (("layer1_proj", "weight_hr_l1"), ("layer0_R", "weight_hh_l0"), ("layer0_W", "weight_ih_l0")):
        assert torch.allclose(ours[a].grad, theirs[b].grad, atol=1e-4), a
    ref2 = _torch_lstmp(3, 6, 4, 2, False, torch.float32)
    ref2.load_state_dict(m.torch_state_dict())
    assert torch.allclose(ref2(x)[0], m(x)[0].detach(), atol=1e-6)
    with pytest.raises(ValueError, match=r"state h: expected size \(2, 3, 4\)"):
        m(x, (torch.zeros(2, 3, 6), torch.zeros(2, 3, 6)))
    with pytest.raises(KeyError, match="weight_hr"):
        lt.module_class("lstm")(3, 6, num_layers=2).load_state_dict(ref.state_dict())


@pytest.mark.parametrize("variant", lstmlab.names())
def test_every_variant_is_projected_with_exact_gradients_or_refused_by_name(variant):
    """Finite differences in float64 (parameters, proj, x, both initial states, two layers, two directions,
    unequal lengths), or a clear refusal for a variant that reads its output state pointwise."""
    try:
        lstmlab.RNN(variant, 2, 3, proj_size=2)
    except ValueError as exc:
        assert "proj_size" in str(exc) and repr(variant) in str(exc) and "pointwise" in str(exc)
        return
    rep = lstmlab.gradcheck(variant, hidden_size=3, num_layers=2, bidirectional=True, lengths=np.array([4, 2]),
                            proj_size=2)
    assert rep.passed, str(rep)


def test_weight_drop_acts_on_the_projected_recurrent_matrix_with_exact_gradients():
    rng = np.random.default_rng(4)
    layer = lstmlab.RNN("lstm", 2, 4, proj_size=2, weight_drop=0.4, dtype=np.float64, seed=1)
    assert layer.params["layer0.R"].shape == (16, 2) and layer.params["layer0.proj"].shape == (2, 4)
    x = rng.standard_normal((4, 2, 2))
    state = (rng.uniform(-0.5, 0.5, (1, 2, 2)), rng.uniform(-0.5, 0.5, (1, 2, 4)))
    check_sampled_gradients(layer, x, state, None)


def test_zero_state_gives_zero_lift_and_a_rank_deficient_projection_is_refused_only_with_a_state():
    layer = lstmlab.RNN("lstm", 2, 4, proj_size=2, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((3, 2, 2))
    y0, _, _ = layer.forward(x)
    y1, _, _ = layer.forward(x, (np.zeros((1, 2, 2)), np.zeros((1, 2, 4))))
    np.testing.assert_array_equal(y0, y1)
    layer.params["layer0.proj"] = np.zeros((2, 4))
    y, fin, ctx = layer.forward(x)  # nothing to lift: runs, and its backward too
    layer.backward(ctx, np.ones_like(y))
    with pytest.raises(ValueError, match="rank-deficient"):
        layer.forward(x, (np.ones((1, 2, 2)), np.zeros((1, 2, 4))))


@pytest.mark.parametrize("kw,msg", [
    (dict(proj_size=4), "smaller than hidden_size=4"),
    (dict(proj_size=-1), "non-negative int"),
    (dict(proj_size=True), "non-negative int"),
    (dict(proj_size=2, zoneout=0.1), "zoneout on the projected state 'h'"),
    (dict(proj_size=2, recurrent_dropout=0.1), "recurrent_dropout with a projection"),
])
def test_bad_projections_are_refused_by_name(kw, msg):
    with pytest.raises(ValueError, match=msg):
        lstmlab.RNN("lstm", 2, 4, **kw)


def test_gru_is_refused_and_options_set_later_are_checked_too():
    with pytest.raises(ValueError, match=r"variant 'gru' reads its output state 'h' in its pointwise maths"):
        lstmlab.RNN("gru", 2, 4, proj_size=2)
    layer = lstmlab.RNN("lstm", 2, 4, proj_size=2, zoneout={"c": 0.5})  # the cell may be zoned out
    with pytest.raises(ValueError, match="zoneout on the projected state"):
        layer.zoneout = 0.2
    with pytest.raises(ValueError, match="recurrent_dropout with a projection"):
        layer.recurrent_dropout = 0.2
    with pytest.raises(AttributeError, match="proj_size: fixed"):
        layer.proj_size = 3


def test_training_config_and_cli_take_proj_size(tmp_path):
    from lstmlab.cli import main
    from lstmlab.training import TrainConfig, train
    with pytest.raises(ValueError, match="proj_size"):
        TrainConfig(task="adding", T=10, variant="gru", hidden=8, proj_size=4).validate()
    res = train(TrainConfig(task="adding", T=10, variant="lstm", hidden=8, proj_size=3, steps=20, batch_size=8,
                            optimizer="adam", lr=1e-2, eval_every=10, eval_size=32), tmp_path / "run", progress=False)
    assert res.step == 20 and np.isfinite(res.final["loss"])
    import json
    assert main(["train", "--task", "adding", "-T", "10", "--hidden", "8", "--proj-size", "3", "--steps", "4",
                 "--batch-size", "4", "--eval-every", "2", "--eval-size", "8", "--no-progress",
                 "--out", str(tmp_path / "cli")]) == 0
    assert json.loads((tmp_path / "cli" / "config.json").read_text())["config"]["proj_size"] == 3


CUDA_SCRIPT = """
import numpy as np
import lstmlab
cpu = lstmlab.RNN("lstm", 2, 4, dtype=np.float64, seed=1, proj_size=2)
gpu = lstmlab.RNN("lstm", 2, 4, dtype=np.float64, seed=1, proj_size=2, device="cuda")
gpu.set_params(cpu.params)
rng = np.random.default_rng(0)
x = rng.standard_normal((3, 2, 2))
st = (rng.uniform(-0.5, 0.5, (1, 2, 2)), rng.uniform(-0.5, 0.5, (1, 2, 4)))
yc, fc, cc = cpu.forward(x, st)
yg, fg, cg = gpu.forward(x, st)
dy = rng.standard_normal(yc.shape)
gc, dxc, dsc = cpu.backward(cc, dy)
gg, dxg, dsg = gpu.backward(cg, dy)
err = max([np.abs(yc - yg).max(), np.abs(dxc - dxg).max()] + [np.abs(a - b).max() for a, b in zip(fc, fg)]
          + [np.abs(a - b).max() for a, b in zip(dsc, dsg)] + [np.abs(gc[k] - gg[k]).max() for k in gc])
assert err < 1e-10, err
print("ok")
"""


def test_cuda_matches_cpu():
    """The projected layer on the CUDA backend (the simulator without a GPU) against the CPU's."""
    run_cuda_script(CUDA_SCRIPT)


def test_torch_conversion_of_a_projection_is_for_the_lstm_only():
    with pytest.raises(ValueError, match=r"proj_size=2 has a torch counterpart for 'lstm' only"):
        torch_compat.to_torch(lstmlab.RNN("rnn", 2, 4, proj_size=2))


def test_a_projected_layer_streams_as_its_whole_sequence_forward_and_refresh_sees_updates_in_place():
    layer = lstmlab.RNN("lstm", 3, 6, num_layers=2, proj_size=2, dtype=np.float64, seed=5, zoneout={"c": 0.3})
    layer.eval()
    rng = np.random.default_rng(2)
    x = rng.standard_normal((7, 2, 3))
    state = (rng.uniform(-0.5, 0.5, (2, 2, 2)), rng.uniform(-0.5, 0.5, (2, 2, 6)))
    y, (h, c), _ = layer.forward(x, state)
    s = layer.stream(batch=2, state=state)
    ys = np.stack([s.step(x[t]) for t in range(7)])
    np.testing.assert_allclose(ys, y, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(s.state[0], h, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(s.state[1], c, rtol=1e-12, atol=1e-14)
    layer.params["layer1.proj"][...] *= 0.5  # in place: seen after refresh()
    s.reset(state)
    s.refresh()
    np.testing.assert_allclose(np.stack([s.step(x[t]) for t in range(7)]), layer.forward(x, state)[0],
                               rtol=1e-12, atol=1e-14)


def test_recording_a_projected_layer_gives_the_cells_own_values():
    from lstmlab.recording import record
    layer = lstmlab.RNN("lstm", 2, 4, proj_size=2, dtype=np.float64, seed=3)
    x = np.random.default_rng(1).standard_normal((5, 2, 2))
    y, _, _ = layer.forward(x)
    rec = record(layer, x)
    assert rec["layer0.h"].shape == (5, 2, 4)
    np.testing.assert_allclose(rec["layer0.h"] @ layer.params["layer0.proj"].T, y, rtol=1e-12, atol=1e-14)
    o, tc = rec["layer0.o_act"], rec["layer0.tanh_c"]
    np.testing.assert_allclose(o * tc, rec["layer0.h"], rtol=1e-12, atol=1e-14)
