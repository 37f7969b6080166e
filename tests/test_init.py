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
