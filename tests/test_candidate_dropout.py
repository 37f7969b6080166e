"""Recurrent dropout on the candidate (Semeniuta et al. 2016, lstmlab.candidate_dropout): every variant, errors."""
import numpy as np
import pytest
from conftest import check_sampled_gradients, run_cuda_script

import lstmlab
from lstmlab import candidate_dropout, regularise
from lstmlab.registry import get_spec


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


tanh = np.tanh


def _takes(variant) -> bool:
    try:
        candidate_dropout.masked(get_spec(variant))
    except ValueError:
        return False
    return True


def test_lstm_drops_only_its_candidate_with_a_mask_per_step():
    """c_t = f c_{t-1} + i (m_t g_t), written out in NumPy with the mask the layer draws."""
    T, B, D, H, p = 6, 3, 2, 4, 0.4
    layer = lstmlab.RNN("lstm", D, H, recurrent_dropout=p, recurrent_dropout_form="semeniuta", dtype=np.float64,
                        seed=3)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((T, B, D))
    y, (hT, cT), _ = layer.forward(x, rng=np.random.default_rng(7))
    m = regularise.mask(np.random.default_rng(7), (T, B, H), p, np.float64)  # what the layer drew
    W, R, b = (layer.params[f"layer0.{k}"] for k in ("W", "R", "b"))
    h, c = np.zeros((B, H)), np.zeros((B, H))
    for t in range(T):
        z = x[t] @ W.T + b + h @ R.T
        i, f, g, o = sigmoid(z[:, :H]), sigmoid(z[:, H:2 * H]), tanh(z[:, 2 * H:3 * H]), sigmoid(z[:, 3 * H:])
        c = f * c + i * (m[t] * g)
        h = o * tanh(c)
        np.testing.assert_allclose(y[t], h, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(cT[0], c, rtol=1e-12, atol=1e-14)
    assert 0 < (m == 0).mean() < 1 and not np.allclose(y, layer.eval().forward(x)[0])


@pytest.mark.parametrize("variant", [v for v in lstmlab.names() if _takes(v)])
def test_every_variant_with_a_candidate_has_exact_gradients_and_eval_is_the_plain_cell(variant):
    layer = lstmlab.RNN(variant, 2, 3, recurrent_dropout=0.3, recurrent_dropout_form="semeniuta",
                        dtype=np.float64, seed=2, init="torch")
    rng = np.random.default_rng(0)
    for k, v in layer.params.items():  # every path carries gradient (peepholes too)
        layer.params[k] = rng.uniform(-0.6, 0.6, v.shape)
    x = rng.standard_normal((5, 2, 2))
    state = tuple(rng.uniform(-0.5, 0.5, (1, 2, 3)) for _ in layer.spec.state)
    check_sampled_gradients(layer, x, state, np.array([5, 3]))
    plain = lstmlab.RNN(variant, 2, 3, dtype=np.float64)
    plain.set_params(layer.params)
    a = layer.forward(x, state, rng=np.random.default_rng(1))[0]
    b = layer.forward(x, state, rng=np.random.default_rng(1))[0]
    np.testing.assert_array_equal(a, b)  # seeded: the same masks
    layer.eval()
    np.testing.assert_array_equal(layer.forward(x, state)[0], plain.forward(x, state)[0])


def test_stacked_bidirectional_and_checkpointed_runs_agree():
    layer = lstmlab.RNN("gru", 2, 3, num_layers=2, bidirectional=True, recurrent_dropout=0.5,
                        recurrent_dropout_form="semeniuta", dtype=np.float64, seed=4)
    x = np.random.default_rng(2).standard_normal((7, 2, 2))
    L = np.array([7, 4])
    y, _, ctx = layer.forward(x, lengths=L, rng=np.random.default_rng(3))
    g, dx, _ = layer.backward(ctx, np.ones_like(y))
    y2, _, ctx2 = layer.forward(x, lengths=L, rng=np.random.default_rng(3), recompute=3)
    g2, dx2, _ = layer.backward(ctx2, np.ones_like(y))
    np.testing.assert_allclose(y2, y, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx2, dx, rtol=1e-10, atol=1e-12)
    for k in g:
        np.testing.assert_allclose(g2[k], g[k], rtol=1e-10, atol=1e-12, err_msg=k)


def test_it_combines_with_layer_norm_the_mask_on_the_normalised_candidate():
    """LSTM with layer norm "xh+cell": the activation is found in the stage reading the normalised g."""
    from lstmlab import layernorm
    assert candidate_dropout.masked(layernorm.normalise(get_spec("gru"), "xh")).cls.step_masks == ("cand",)
    layer = lstmlab.RNN("lstm", 2, 3, layer_norm="xh+cell", recurrent_dropout=0.4,
                        recurrent_dropout_form="semeniuta", dtype=np.float64, seed=2)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 2, 2))
    state = tuple(rng.uniform(-0.5, 0.5, (1, 2, 3)) for _ in layer.spec.state)
    check_sampled_gradients(layer, x, state, np.array([4, 3]))
    plain = lstmlab.RNN("lstm", 2, 3, layer_norm="xh+cell", dtype=np.float64, seed=2)
    np.testing.assert_array_equal(layer.eval().forward(x, state)[0], plain.forward(x, state)[0])


def test_it_combines_with_a_projection_and_weight_drop():
    layer = lstmlab.RNN("lstm", 2, 4, proj_size=2, weight_drop=0.3, recurrent_dropout=0.3,
                        recurrent_dropout_form="semeniuta", dtype=np.float64, seed=1)
    rng = np.random.default_rng(5)
    check_sampled_gradients(layer, rng.standard_normal((4, 2, 2)),
                            (rng.uniform(-0.5, 0.5, (1, 2, 2)), rng.uniform(-0.5, 0.5, (1, 2, 4))), None)


@pytest.mark.parametrize("kw,msg", [
    (dict(variant="rnn"), "variant 'rnn' cannot take it: it declares no candidate_block"),
    (dict(variant="niaf"), "a candidate without an activation is not supported"),
    (dict(variant="lstm", recurrent_dropout_form="gal"), "recurrent_dropout_form: expected one of"),
])
def test_what_cannot_take_it_is_refused_by_name(kw, msg):
    kw = {"recurrent_dropout_form": "semeniuta", **kw}
    with pytest.raises(ValueError, match=msg):
        lstmlab.RNN(kw.pop("variant"), 2, 4, recurrent_dropout=0.2, **kw)


def test_training_config_and_cli_take_the_form(tmp_path):
    import json

    from lstmlab.cli import main
    from lstmlab.training import TrainConfig
    with pytest.raises(ValueError, match="cannot take it"):
        TrainConfig(task="adding", T=10, variant="rnn", recurrent_dropout=0.2,
                    recurrent_dropout_form="semeniuta").validate()
    assert main(["train", "--task", "adding", "-T", "10", "--hidden", "6", "--recurrent-dropout", "0.25",
                 "--recurrent-dropout-form", "semeniuta", "--steps", "4", "--batch-size", "4", "--eval-every", "2",
                 "--eval-size", "8", "--no-progress", "--out", str(tmp_path / "cli")]) == 0
    cfg = json.loads((tmp_path / "cli" / "config.json").read_text())["config"]
    assert cfg["recurrent_dropout_form"] == "semeniuta" and cfg["recurrent_dropout"] == 0.25


def test_a_variant_cannot_declare_step_masks_or_a_candidate_that_is_not_an_input():
    from lstmlab.spec import describe
    from lstmlab.variant import VariantError
    from lstmlab.variants.lstm import LSTM

    class WrongCandidate(LSTM):
        candidate_block = "gg"

    class OwnMasks(LSTM):
        step_masks = ("m",)

    with pytest.raises(VariantError, match=r"candidate_block = 'gg' is not one of inputs"):
        describe(WrongCandidate, "test_wrong_candidate")
    with pytest.raises(VariantError, match="per-step masks are set by lstmlab.candidate_dropout"):
        describe(OwnMasks, "test_own_masks")


CUDA_SCRIPT = """
import numpy as np
import lstmlab
for kernels in ("step", "persistent"):
    kw = dict(recurrent_dropout=0.4, recurrent_dropout_form="semeniuta", dtype=np.float64, seed=1)
    cpu = lstmlab.RNN("lstm", 2, 3, **kw)
    gpu = lstmlab.RNN("lstm", 2, 3, device="cuda", cuda_kernels=kernels, **kw)
    gpu.set_params(cpu.params)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 2))
    L = np.array([3, 2])
    yc, fc, cc = cpu.forward(x, lengths=L, rng=np.random.default_rng(4))
    yg, fg, cg = gpu.forward(x, lengths=L, rng=np.random.default_rng(4))
    dy = rng.standard_normal(yc.shape)
    gc, dxc, _ = cpu.backward(cc, dy)
    gg, dxg, _ = gpu.backward(cg, dy)
    err = max([np.abs(yc - yg).max(), np.abs(dxc - dxg).max()] + [np.abs(gc[k] - gg[k]).max() for k in gc])
    assert err < 1e-10, (kernels, err)
    assert not np.allclose(yc, cpu.eval().forward(x, lengths=L)[0])  # the masks acted
print("ok")
"""


def test_cuda_matches_cpu():
    """Semeniuta's form on the CUDA backend (the simulator without a GPU), step and persistent kernels."""
    run_cuda_script(CUDA_SCRIPT)
