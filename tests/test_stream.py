"""Streaming (layer.stream): one step per call, state kept; equal to the whole-sequence forward."""
import numpy as np
import pytest

import lstmlab

VARIANTS = lstmlab.names()


def _x(T, B, D, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal((T, B, D)).astype(dtype)


@pytest.mark.parametrize("variant", VARIANTS)
def test_stream_equals_the_whole_sequence_forward(variant):
    layer = lstmlab.RNN(variant, 3, 5, num_layers=2, seed=1, dtype=np.float64)
    x = _x(12, 2, 3, dtype=np.float64)
    y, final, _ = layer.forward(x)
    s = layer.stream(batch=2)
    ys = np.stack([s.step(x[t]) for t in range(12)])
    np.testing.assert_allclose(ys, y, rtol=1e-12, atol=1e-12)
    for a, b in zip(s.state, final):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_stream_is_bitwise_the_forward_of_one_step_at_a_time():
    layer = lstmlab.RNN("peephole", 2, 8, seed=2)
    x = _x(10, 3, 2)
    s = layer.stream(batch=3)
    state = None
    for t in range(10):
        y, state, _ = layer.forward(x[t:t + 1], state)
        assert np.array_equal(s.step(x[t]), y[0])
    assert all(np.array_equal(a, b) for a, b in zip(s.state, state))
    # float32 against the whole sequence: within rounding of the batched input projection
    y_all, _, _ = layer.forward(x)
    s.reset()
    np.testing.assert_allclose(np.stack([s.step(x[t]) for t in range(10)]), y_all, rtol=1e-6, atol=1e-6)


def test_reset_state_and_batch_one():
    layer = lstmlab.RNN("lstm", 1, 4, seed=3)
    x = _x(6, 1, 1)
    s = layer.stream()
    first = [s.step(x[t, 0]) for t in range(6)]  # (input_size,) in, (hidden,) out at batch 1
    assert first[0].shape == (4,)
    s.reset()
    assert np.array_equal(np.stack([s.step(x[t, 0]) for t in range(6)]), np.stack(first))
    h0, c0 = np.full((1, 1, 4), 0.5, np.float32), np.zeros((1, 1, 4), np.float32)
    s.reset((h0, c0))
    y, _, _ = layer.forward(x, (h0, c0))
    assert np.allclose(s.step(x[0, 0]), y[0, 0], atol=1e-7)


def test_parameter_updates_in_place_and_replacements_are_seen():
    layer = lstmlab.RNN("cifg", 2, 4, seed=4)
    s = layer.stream(batch=1)
    x = _x(1, 1, 2)[0]
    s.step(x)
    for v in layer.params.values():  # as an optimiser does: in place
        v *= 0.5
    s.reset()
    fresh = lstmlab.RNN("cifg", 2, 4)
    fresh.set_params({k: v.copy() for k, v in layer.params.items()})
    y, _, _ = fresh.forward(x[None])
    np.testing.assert_allclose(s.step(x), y[0], rtol=1e-6, atol=1e-7)
    # and the whole-sequence forward sees in-place updates too (no per-call copies of the weights)
    np.testing.assert_allclose(layer.forward(x[None])[0], y, rtol=1e-6, atol=1e-7)
    layer.set_params({k: np.zeros_like(v) for k, v in layer.params.items()})
    s.reset()
    assert np.array_equal(s.step(x), np.zeros((1, 4), np.float32))


def test_refusals():
    with pytest.raises(ValueError, match="bidirectional layer needs the whole sequence"):
        lstmlab.RNN("lstm", 2, 3, bidirectional=True).stream()
    s = lstmlab.RNN("lstm", 2, 3).stream(batch=2)
    with pytest.raises(ValueError, match=r"x_t: expected a float32 array of shape \(2, 2\)"):
        s.step(np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match=r"x_t: expected a float32 array of shape \(2, 2\)"):
        s.step(np.zeros((2, 2), np.float64))
    with pytest.raises(ValueError, match="x_t: contains NaN or Inf"):
        s.step(np.full((2, 2), np.nan, np.float32))
    with pytest.raises(ValueError, match="batch: expected a positive int"):
        lstmlab.RNN("lstm", 2, 3).stream(batch=0)
