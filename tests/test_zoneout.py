"""Zoneout inside the compiled kernels, for every registered variant: reference, gradients, modes."""
import numpy as np
import pytest
from conftest import check_sampled_gradients, random_inputs
from reference import generic_step

import lstmlab
from lstmlab import regularise
from lstmlab.registry import get_spec


def _probs(variant):
    state = get_spec(variant).state
    return {s: p for s, p in zip(state, (0.4, 0.7, 0.2))} if len(state) > 1 else 0.4


def _layer(variant, layers=2, **kw):
    layer = lstmlab.RNN(variant, 2, 2, layers, dtype=np.float64, init="torch", seed=3, zoneout=_probs(variant),
                        **kw)
    rng = np.random.default_rng(4)
    for k, v in layer.params.items():
        layer.params[k] = rng.uniform(-0.6, 0.6, v.shape)
    return layer


def _reference(layer, x, state, lengths, masks):
    """The stack step by step in NumPy: s_t = z * s_{t-1} + (1 - z) * cell(s_{t-1}, x_t)."""
    spec, H = layer.spec, layer.hidden_size
    step, nst = generic_step(spec), len(spec.state)
    T, B, _ = x.shape
    inp, final = x, [np.array(s) for s in state]
    for layer_i in range(layer.num_layers):
        p, zm = layer.block_params(f"layer{layer_i}"), masks[layer_i]
        out = np.zeros((T, B, H))
        for b in range(B):
            s = tuple(f[layer_i, b:b + 1] for f in final)
            for t in range(lengths[b]):
                new = step(p, inp[t, b:b + 1], s)
                z = zm[t, b].reshape(nst, H)
                s = tuple(z[k] * s[k] + (1 - z[k]) * new[k] for k in range(nst))
                out[t, b] = s[0][0]
            for f, v in zip(final, s):
                f[layer_i, b] = v[0]
        inp = out
    return inp, tuple(final)


def test_zoneout_matches_the_reference_with_exact_gradients(variant):
    layer = _layer(variant)
    x, state = random_inputs(layer, T=4, B=2)
    lengths = [4, 2]
    draw = np.random.default_rng(11)  # the layer draws one mask per layer, in order, from the forward's rng
    masks = [regularise.zone_mask(draw, layer._zoneout, 4, 2, 2, True, np.float64) for _ in range(2)]
    assert 0 < np.mean(masks) < 1
    y, fin, ctx = layer.forward(x, state, lengths, rng=np.random.default_rng(11))
    ctx.release()
    yr, fr = _reference(layer, x, state, lengths, masks)
    np.testing.assert_allclose(y, yr, rtol=1e-12, atol=1e-14)
    for a, b in zip(fin, fr):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    check_sampled_gradients(layer, x, state, lengths, mask_seed=11)
    # eval mode: the expectation z = p (Krueger et al.), deterministic, and not the plain cell
    layer.eval()
    ye, _, _ = layer.forward(x, state, lengths)
    const = [regularise.zone_mask(None, layer._zoneout, 4, 2, 2, False, np.float64)] * 2
    np.testing.assert_allclose(ye, _reference(layer, x, state, lengths, const)[0], rtol=1e-12, atol=1e-14)
    plain = lstmlab.RNN(variant, 2, 2, 2, dtype=np.float64)
    plain.set_params(layer.params)
    assert not np.allclose(ye, plain.forward(x, state, lengths)[0])


def test_masks_are_seeded_and_follow_the_mode():
    layer = _layer("lstm")
    x, state = random_inputs(layer, T=5, B=3)
    y1 = layer.forward(x, state, rng=np.random.default_rng(1))[0]
    assert np.array_equal(y1, layer.forward(x, state, rng=np.random.default_rng(1))[0])
    assert not np.allclose(y1, layer.forward(x, state, rng=np.random.default_rng(2))[0])
    layer.eval()
    assert np.array_equal(layer.forward(x, state)[0], layer.forward(x, state, rng=np.random.default_rng(2))[0])
    assert layer.zoneout == {"h": 0.4, "c": 0.7} and not layer.draws_masks


def test_mask_statistics_per_state():
    spec = get_spec("lstm")
    probs = regularise.check_zoneout(spec, {"c": 0.5, "h": 0.05})
    assert probs == (0.05, 0.5)  # spec.state order (h, c); unnamed states would get 0
    z = regularise.zone_mask(np.random.default_rng(0), probs, 200, 30, 16, True, np.float32).reshape(200, 30, 2, 16)
    assert z.dtype == np.float32 and set(np.unique(z)) == {0.0, 1.0}
    assert abs(z[:, :, 0].mean() - 0.05) < 0.01 and abs(z[:, :, 1].mean() - 0.5) < 0.01


def test_recompute_and_bidirectional_with_zoneout_equal_plain_bptt():
    layer = _layer("gru", layers=1, bidirectional=True)
    x, state = random_inputs(layer, T=7, B=2)
    y, _, ctx = layer.forward(x, state, [7, 4], rng=np.random.default_rng(3))
    g, dx, _ = layer.backward(ctx, np.ones_like(y))
    yk, _, ck = layer.forward(x, state, [7, 4], rng=np.random.default_rng(3), recompute=3)
    gk, dxk, _ = layer.backward(ck, np.ones_like(y))
    assert np.array_equal(y, yk)
    np.testing.assert_allclose(dx, dxk, rtol=1e-12, atol=1e-14)
    for k in g:
        np.testing.assert_allclose(g[k], gk[k], rtol=1e-12, atol=1e-14)


def test_a_stream_runs_the_eval_cell_with_zoneout_as_set_now():
    layer = _layer("lstm").eval()
    x = np.random.default_rng(0).standard_normal((6, 2, 2))
    s = layer.stream(batch=2)
    np.testing.assert_array_equal(np.stack([s.step(x[t]) for t in range(6)]), layer.forward(x)[0])
    layer.zoneout = 0.9  # a stream made before the change follows it
    s.reset()
    np.testing.assert_array_equal(np.stack([s.step(x[t]) for t in range(6)]), layer.forward(x)[0])


def test_memory_estimate_counts_zoneout_and_recompute_checks_the_whole_mask():
    from lstmlab import memory, recompute
    spec = get_spec("lstm")
    plain = memory.layer_bytes(spec, 2, 8, 100, 4, 8)["tape"]
    assert memory.layer_bytes(spec, 2, 8, 100, 4, 8, zoneout_steps=100)["tape"] == plain + 2 * 100 * 4 * 2 * 8 * 8
    layer = lstmlab.RNN("lstm", 2, 3)
    x, s0, L = np.zeros((4, 2, 2), np.float32), np.zeros((2, 2, 3), np.float32), np.full(2, 4, np.int64)
    with pytest.raises(ValueError, match=r"zoneout: expected shape \(4, 2, 6\), got \(5, 2, 6\)"):
        recompute.forward(spec, layer.block_params("layer0"), x, s0, L, K=2, zoneout=np.zeros((5, 2, 6), np.float32))


@pytest.mark.parametrize("bad, msg", [
    (1.0, r"zoneout: expected a probability in \[0, 1\) for variant 'gru', got 1.0"),
    (-0.1, r"zoneout: expected a probability in \[0, 1\) for variant 'gru'"),
    ("0.2", r"zoneout: expected a probability in \[0, 1\) for variant 'gru', got '0.2'"),
    ({"c": 0.1}, r"zoneout: expected probabilities for states of variant 'gru' \('h',\), got unknown state"),
    ({"h": 1.5}, r"zoneout\['h'\]: expected a probability in \[0, 1\) for variant 'gru'"),
])
def test_bad_zoneout_names_the_option_and_the_variant(bad, msg):
    with pytest.raises(ValueError, match=msg):
        lstmlab.RNN("gru", 2, 3, zoneout=bad)
    layer = lstmlab.RNN("gru", 2, 3)
    with pytest.raises(ValueError, match=msg):
        layer.zoneout = bad


def test_the_kernels_refuse_a_wrong_mask():
    from lstmlab import engine
    spec = get_spec("lstm")
    layer = lstmlab.RNN("lstm", 2, 3)
    p = layer.block_params("layer0")
    x, s0, L = np.zeros((4, 2, 2), np.float32), np.zeros((2, 2, 3), np.float32), np.full(2, 4, np.int64)
    with pytest.raises(ValueError, match=r"zoneout: expected shape \(4, 2, 6\), got \(4, 2, 3\)"):
        engine.forward(spec, p, x, s0, L, np.zeros((4, 2, 3), np.float32))
    with pytest.raises(TypeError, match="zoneout: expected dtype float32, got float64"):
        engine.forward(spec, p, x, s0, L, np.zeros((4, 2, 6)))
