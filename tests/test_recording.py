"""Recording every named value of a forward, for every registered variant."""
import numpy as np
import pytest

import lstmlab
from lstmlab.emit import layout
from lstmlab.recording import record, recordable_names


@pytest.mark.parametrize("variant", lstmlab.names())
def test_recorded_values_are_what_the_kernels_computed(variant):
    layer = lstmlab.RNN(variant, 3, 4, dtype=np.float64, seed=1, init="torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3, 3))
    L = np.array([5, 3, 1])
    rec = record(layer, x, lengths=L)
    assert set(rec) == {f"layer0.{n}" for n in recordable_names(variant)}
    y, final, ctx = layer.forward(x, lengths=L)
    alive = np.arange(5)[:, None] < L[None, :]
    h = rec[f"layer0.{layer.spec.state[0]}"]
    np.testing.assert_allclose(h[alive], y[alive], atol=1e-12)  # the output is the new first state
    assert np.isnan(h[~alive]).all()
    tape = ctx.tapes[0]
    slot = layout(layer.spec).slot
    for name in layer.spec.saved:  # every value the backward reads, as the kernels stored it
        k = slot[name]
        np.testing.assert_allclose(rec[f"layer0.{name}"][alive], tape.S[:, :, k * 4:(k + 1) * 4][alive],
                                   atol=1e-12, err_msg=name)
    for k, s in enumerate(layer.spec.state):
        np.testing.assert_allclose(rec[f"layer0.{s}"][alive], tape.Z[1:, :, k * 4:(k + 1) * 4][alive], atol=1e-12)


def test_gru_gates_are_recorded_though_it_saves_none():
    names = recordable_names("gru")
    assert {"r_act", "z_act", "n_act"} <= set(names)
    layer = lstmlab.RNN("gru", 2, 3, seed=0)
    rec = record(layer, np.ones((4, 2, 2), np.float32), names=["z_act"])
    z = rec["layer0.z_act"]
    assert z.shape == (4, 2, 3) and ((z > 0) & (z < 1)).all()


def test_bidirectional_layers_are_recorded_in_time_order():
    layer = lstmlab.RNN("lstm", 2, 3, 2, bidirectional=True, dtype=np.float64, seed=0)
    x = np.random.default_rng(1).standard_normal((4, 2, 2))
    rec = record(layer, x, lengths=[4, 2])
    y, _, _ = layer.forward(x, lengths=[4, 2])
    np.testing.assert_allclose(rec["layer1.reverse.h"][:2, 1], y[:2, 1, 3:], atol=1e-12)
    np.testing.assert_allclose(rec["layer1.h"][:, 0], y[:, 0, :3], atol=1e-12)


def test_unknown_names_are_listed():
    layer = lstmlab.RNN("lstm", 2, 3)
    with pytest.raises(ValueError, match=r"names: \['forget'\] are not computed by variant 'lstm'; it computes"):
        record(layer, np.ones((2, 1, 2), np.float32), names=["forget"])
