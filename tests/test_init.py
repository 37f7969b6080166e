"""Initialisation schemes."""
import numpy as np
import pytest

import lstmlab


def _bias(layer, block):
    H, k = layer.hidden_size, layer.spec.inputs.index(block)
    return layer.params["layer0.b"][k * H:(k + 1) * H]


def test_default_forget_bias_and_bounds():
    layer = lstmlab.RNN("lstm", 3, 16, seed=1)
    assert np.all(_bias(layer, "f") == 1.0) and np.all(_bias(layer, "i") == 0.0)
    assert np.abs(layer.params["layer0.R"]).max() <= 1 / 4
    assert np.all(_bias(lstmlab.RNN("lstm", 3, 16, forget_bias=2.5), "f") == 2.5)


def test_torch_scheme_uniform_everywhere():
    layer = lstmlab.RNN("gru", 3, 16, init="torch", seed=0)
    for v in layer.params.values():
        assert np.abs(v).max() <= 0.25 and np.abs(v).max() > 0.2


def test_chrono():
    layer = lstmlab.RNN("lstm", 1, 64, init="chrono", t_max=100, seed=0)
    bf, bi = _bias(layer, "f"), _bias(layer, "i")
    assert np.all((bf >= 0) & (bf <= np.log(99)))
    np.testing.assert_array_equal(bi, -bf)
    janet = lstmlab.RNN("janet", 1, 8, init="chrono", t_max=50)
    assert np.all(_bias(janet, "f") > 0)
    with pytest.raises(ValueError, match="t_max"):
        lstmlab.RNN("lstm", 1, 8, init="chrono")
    with pytest.raises(ValueError, match="no forget block"):
        lstmlab.RNN("cifg", 1, 8, init="chrono", t_max=10)


def test_orthogonal_blocks_and_seeding():
    layer = lstmlab.RNN("peephole", 2, 8, orthogonal=True, dtype=np.float64, seed=4)
    R = layer.params["layer0.R"]
    for r in range(0, 32, 8):
        blk = R[r:r + 8]
        np.testing.assert_allclose(blk @ blk.T, np.eye(8), atol=1e-12)
    again = lstmlab.RNN("peephole", 2, 8, orthogonal=True, dtype=np.float64, seed=4)
    assert all(np.array_equal(again.params[k], v) for k, v in layer.params.items())
    other = lstmlab.RNN("peephole", 2, 8, orthogonal=True, dtype=np.float64, seed=5)
    assert not np.array_equal(other.params["layer0.R"], R)


def test_unknown_scheme():
    with pytest.raises(ValueError, match="expected one of"):
        lstmlab.RNN("lstm", 1, 4, init="xavier")


def test_recurrent_init_identity_for_non_gated_cells():
    irnn = lstmlab.RNN("irnn", 3, 6, dtype=np.float64, seed=0)       # its default: R = I, b = 0
    np.testing.assert_array_equal(irnn.params["layer0.R"], np.eye(6))
    assert np.all(irnn.params["layer0.b"] == 0.0)
    scaled = lstmlab.RNN("rnn", 3, 6, recurrent_init="identity", recurrent_gain=0.5, dtype=np.float64)
    np.testing.assert_array_equal(scaled.params["layer0.R"], 0.5 * np.eye(6))
    ind = lstmlab.RNN("indrnn", 3, 6, seed=0)
    u = ind.params["layer0.u"]
    assert np.all((u >= 0) & (u <= 1)) and u.std() > 0                  # U[0, 1], not zeros
    assert np.all(lstmlab.RNN("indrnn", 3, 6, recurrent_init="identity").params["layer0.u"] == 1.0)
    # an explicit default overrides the variant's identity
    assert not np.array_equal(lstmlab.RNN("irnn", 3, 6, recurrent_init="default").params["layer0.R"], np.eye(6))


@pytest.mark.parametrize("name", ["lstm", "gru", "peephole", "mgu"])
def test_identity_refused_on_gated_cells(name):
    with pytest.raises(ValueError, match=f"recurrent_init='identity': variant '{name}' is gated"):
        lstmlab.RNN(name, 2, 4, recurrent_init="identity")


def test_recurrent_init_combines_with_bias_schemes():
    layer = lstmlab.RNN("lstm", 1, 8, init="chrono", t_max=50, recurrent_init="orthogonal", dtype=np.float64)
    R = layer.params["layer0.R"]
    np.testing.assert_allclose(R[:8] @ R[:8].T, np.eye(8), atol=1e-12)
    assert np.all(_bias(layer, "f") > 0)
    alias = lstmlab.RNN("lstm", 1, 8, orthogonal=True, dtype=np.float64, seed=2)
    same = lstmlab.RNN("lstm", 1, 8, recurrent_init="orthogonal", dtype=np.float64, seed=2)
    np.testing.assert_array_equal(alias.params["layer0.R"], same.params["layer0.R"])
    with pytest.raises(ValueError, match="recurrent_init: expected one of"):
        lstmlab.RNN("rnn", 1, 4, recurrent_init="eye")
    with pytest.raises(ValueError, match="contradicts recurrent_init='identity'"):
        lstmlab.RNN("rnn", 1, 4, orthogonal=True, recurrent_init="identity")
    with pytest.raises(ValueError, match="'indrnn' has no recurrent matrix"):
        lstmlab.RNN("indrnn", 1, 4, recurrent_init="orthogonal")
    with pytest.raises(ValueError, match="recurrent_gain: expected a finite number > 0, got nan"):
        lstmlab.RNN("rnn", 1, 4, recurrent_init="identity", recurrent_gain=float("nan"))
    with pytest.raises(ValueError, match="recurrent_gain: expected a finite number > 0, got -1"):
        lstmlab.RNN("irnn", 1, 4, recurrent_gain=-1)
    with pytest.raises(ValueError, match="recurrent_init='orthogonal', so recurrent_gain=0.5 would be ignored"):
        lstmlab.RNN("rnn", 1, 4, recurrent_init="orthogonal", recurrent_gain=0.5)
    np.testing.assert_array_equal(lstmlab.RNN("irnn", 1, 3, recurrent_gain=np.float32(0.5), dtype=np.float64)
                                  .params["layer0.R"], 0.5 * np.eye(3))


def test_train_config_checks_recurrent_init():
    from lstmlab.training import TrainConfig
    with pytest.raises(ValueError, match="variant 'gru' is gated"):
        TrainConfig(variant="gru", recurrent_init="identity").validate()
    TrainConfig(variant="rnn", recurrent_init="orthogonal").validate()


def test_variant_declarations_of_the_initialisation_hooks_are_checked():
    from lstmlab import Variant, VariantError
    from lstmlab.spec import describe

    class Bad(lstmlab.variants.LSTM):
        recurrent_init = "identity"       # a gated class cannot default to R = I

    with pytest.raises(VariantError, match="needs gated = False"):
        describe(Bad)

    class Stray(lstmlab.variants.IRNN):
        recurrent_unit_params = ("v",)

    with pytest.raises(VariantError, match=r"recurrent_unit_params \['v'\] are not unit_params"):
        describe(Stray)
    assert issubclass(lstmlab.variants.IndRNN, Variant)
