"""Dropout between layers, DropConnect and variational recurrent dropout, for every registered variant."""
import numpy as np
import pytest
from conftest import check_sampled_gradients, random_inputs

import lstmlab
from lstmlab import regularise
from lstmlab.registry import get_spec


def _layer(variant, bidirectional=False, **options):
    layer = lstmlab.RNN(variant, 2, 2, 2, dtype=np.float64, init="torch", seed=3, bidirectional=bidirectional,
                        **options)
    rng = np.random.default_rng(4)
    for k, v in layer.params.items():
        layer.params[k] = rng.uniform(-0.6, 0.6, v.shape)
    return layer


def _options(variant):
    recurrent = 0.3 if get_spec(variant).products else 0.0
    return dict(dropout=0.4, weight_drop=recurrent, recurrent_dropout=recurrent)


def test_gradients_are_exact_for_the_sampled_masks(variant):
    _check_gradients(_layer(variant, **_options(variant)))


@pytest.mark.parametrize("threads", [1, 2])
def test_gradients_bidirectional_and_on_two_threads(threads, monkeypatch):
    from lstmlab import config
    monkeypatch.setattr(config, "THREADS", threads)
    _check_gradients(_layer("lstm", bidirectional=True, **_options("lstm")))


def _check_gradients(layer):
    x, state = random_inputs(layer, T=3, B=2)
    check_sampled_gradients(layer, x, state, [3, 2])


def test_masks_act_in_training_only_and_are_seeded(variant):
    layer = _layer(variant, **_options(variant))
    plain = _layer(variant)
    x, state = random_inputs(layer, T=4, B=3)
    y1, _, _ = layer.forward(x, state, rng=np.random.default_rng(1))
    y2, _, _ = layer.forward(x, state, rng=np.random.default_rng(1))
    y3, _, _ = layer.forward(x, state, rng=np.random.default_rng(2))
    assert np.array_equal(y1, y2)          # the same generator: the same masks
    assert not np.allclose(y1, y3)         # another draw: other masks
    y_plain, _, _ = plain.forward(x, state)
    assert not np.allclose(y1, y_plain)
    layer.eval()
    y_eval, f_eval, _ = layer.forward(x, state, rng=np.random.default_rng(1))
    assert np.array_equal(y_eval, y_plain)  # eval mode: exactly the deterministic cell
    assert all(np.array_equal(a, b) for a, b in zip(f_eval, plain.forward(x, state)[1]))
    assert layer.train() is layer and layer.training


def test_the_options_leave_the_initialisation_as_it_was():
    """The layer's own mask stream is spawned from the seed, not drawn from it: the same parameters
    as before the options existed, for an int seed and for a shared Generator (the training model's)."""
    from lstmlab.init import init_params
    ref = init_params(get_spec("lstm"), 2, 3, np.random.default_rng(0), dtype=np.float32)
    for seed in (0, np.random.default_rng(0)):
        layer = lstmlab.RNN("lstm", 2, 3, seed=seed, dropout=0.0, weight_drop=0.2)
        assert all(np.array_equal(layer.params[f"layer0.{k}"], v) for k, v in ref.items())
    g = np.random.default_rng(0)
    lstmlab.RNN("lstm", 2, 3, seed=g)
    init_params(get_spec("lstm"), 2, 3, after_rng := np.random.default_rng(0), dtype=np.float32)
    assert g.random() == after_rng.random()  # the layer drew exactly its parameters from g


def test_options_are_checked_when_set():
    layer = lstmlab.RNN("indrnn", 2, 3, 2)
    with pytest.raises(ValueError, match=r"dropout: expected a probability in \[0, 1\) for variant 'indrnn'"):
        layer.dropout = 1.0
    with pytest.raises(ValueError, match="weight_drop: expected 0 for variant 'indrnn'.*got 0.1"):
        layer.weight_drop = 0.1
    with pytest.raises(ValueError, match="recurrent_dropout: expected 0 for variant 'indrnn', which has no recurrent"):
        layer.recurrent_dropout = 0.1
    layer.dropout = 0.25
    assert layer.dropout == 0.25


def test_dropout_mask_statistics():
    """Inverted dropout: each output of the lower layer kept with probability 1 - p, scaled by 1/(1 - p)."""
    layer = lstmlab.RNN("rnn", 1, 64, 2, dtype=np.float64, dropout=0.25, seed=0)
    x = np.ones((50, 40, 1))
    _, _, ctx = layer.forward(x, rng=np.random.default_rng(0))
    m = ctx.drop_masks[0]
    assert m.shape == (50, 40, 64)
    assert set(np.unique(m)) == {0.0, 1 / 0.75}
    assert abs((m == 0).mean() - 0.25) < 0.01
    # weight drop: one mask per recurrent matrix and forward
    wd = lstmlab.RNN("lstm", 1, 64, dtype=np.float64, weight_drop=0.5, seed=0)
    _, _, ctx = wd.forward(x, rng=np.random.default_rng(0))
    (masks,) = ctx.weight_masks
    assert masks["R"].shape == wd.params["layer0.R"].shape
    assert abs((masks["R"] == 0).mean() - 0.5) < 0.02


@pytest.mark.parametrize("option", ["dropout", "weight_drop", "recurrent_dropout"])
@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan"), "0.2", True])
def test_bad_probabilities_name_the_option_and_the_variant(option, bad):
    with pytest.raises(ValueError, match=rf"{option}: expected a probability in \[0, 1\) for variant 'gru'"):
        lstmlab.RNN("gru", 2, 3, 2, **{option: bad})


def test_dropout_on_one_layer_warns_as_torch_does():
    with pytest.warns(UserWarning, match="num_layers=1"):
        lstmlab.RNN("lstm", 2, 3, dropout=0.2)


def test_bad_rng_is_refused():
    layer = lstmlab.RNN("lstm", 2, 3, 2, dropout=0.2)
    with pytest.raises(TypeError, match="rng: expected None or a numpy.random.Generator"):
        layer.forward(np.zeros((2, 1, 2), np.float32), rng=5)


def test_recurrent_dropout_is_one_mask_per_sequence_on_the_recurrent_input():
    """Gal & Ghahramani's variational form: for one sequence, R (m * h_{t-1}) at every step is the plain cell
    with R's columns scaled by the same mask m (inverted: 0 or 1/(1-p))."""
    for variant in ("lstm", "gru"):
        layer = lstmlab.RNN(variant, 2, 5, dtype=np.float64, seed=1, recurrent_dropout=0.4)
        x = np.random.default_rng(0).standard_normal((6, 1, 2))
        y, _, _ = layer.forward(x, rng=np.random.default_rng(7))
        spec = layer.spec
        masks = regularise.input_masks(spec, np.random.default_rng(7), 0.4, 1, 5, np.float64)
        assert set(np.unique(np.concatenate(masks, axis=None))) <= {0.0, 1 / 0.6}
        plain = lstmlab.RNN(variant, 2, 5, dtype=np.float64)
        p = dict(layer.params)
        for pr, m in zip(spec.products, masks):
            p[f"layer0.{pr.name}"] = p[f"layer0.{pr.name}"] * m[0][None, :]
        plain.set_params(p)
        np.testing.assert_allclose(y, plain.forward(x)[0], rtol=1e-13, atol=1e-15)
