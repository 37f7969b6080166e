"""Property tests of the layer's public API: any input gives the right answer or a clean error.

Random variants, sizes, lengths, dtypes, layouts, states, layers and
directions (hypothesis, bounded: few examples, small shapes, so the whole
file adds well under a minute). Valid inputs must match the NumPy reference
of ``tests/reference.py``; invalid ones must raise ``ValueError`` or
``TypeError`` (never crash, never reach a kernel with a wrong buffer).
"""
import numpy as np
import reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lstmlab

VARIANTS = ["lstm", "gru", "peephole", "mgu", "rnn"]  # one per stage structure; every variant has its own tests
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def valid_calls(draw):
    variant = draw(st.sampled_from(VARIANTS))
    D, H = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    T, B = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    layers, bidir = draw(st.integers(1, 2)), draw(st.booleans())
    batch_first = draw(st.booleans())
    lengths = draw(st.none() | st.lists(st.integers(1, T), min_size=B, max_size=B))
    with_state = draw(st.booleans())
    seed = draw(st.integers(0, 2 ** 16))
    return variant, D, H, T, B, layers, bidir, batch_first, lengths, with_state, seed


@SETTINGS
@given(valid_calls())
def test_valid_calls_match_the_reference(call):
    variant, D, H, T, B, layers, bidir, batch_first, lengths, with_state, seed = call
    rng = np.random.default_rng(seed)
    layer = lstmlab.RNN(variant, D, H, layers, bidirectional=bidir, batch_first=batch_first, dtype=np.float64,
                        seed=seed)
    n = layers * (2 if bidir else 1)
    x = rng.standard_normal((T, B, D))
    state = tuple(rng.uniform(-0.5, 0.5, (n, B, H)) for _ in layer.spec.state) if with_state else None
    y, final, ctx = layer.forward(x.transpose(1, 0, 2).copy() if batch_first else x, state, lengths)
    L = np.full(B, T) if lengths is None else np.asarray(lengths)
    s0 = state or tuple(np.zeros((n, B, H)) for _ in layer.spec.state)
    step = reference.EQUATIONS.get(variant) or reference.generic_step(layer.spec)
    want_y, want_final = reference.run(step, layer.params, x, s0, L, layers, bidir)
    got_y = y.transpose(1, 0, 2) if batch_first else y
    np.testing.assert_allclose(got_y, want_y, atol=1e-10)
    for a, b in zip(final, want_final):
        np.testing.assert_allclose(a, b, atol=1e-10)
    grads, dx, d0 = layer.backward(ctx, np.ones_like(y))
    assert dx.shape == (x.transpose(1, 0, 2).shape if batch_first else x.shape)
    assert all(np.isfinite(g).all() for g in grads.values())


@st.composite
def any_calls(draw):
    """Calls where anything may be wrong: shapes, dtypes, lengths, states, layout."""
    variant = draw(st.sampled_from(VARIANTS))
    D, H = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    layer_kw = dict(num_layers=draw(st.integers(1, 2)), bidirectional=draw(st.booleans()),
                    batch_first=draw(st.booleans()), dtype=draw(st.sampled_from([np.float32, np.float64])))
    shape = draw(st.lists(st.integers(0, 4), min_size=1, max_size=4))
    x_dtype = draw(st.sampled_from([np.float32, np.float64, np.int64, np.float16]))
    lengths = draw(st.none() | st.lists(st.integers(-1, 6), min_size=0, max_size=4))
    state_n = draw(st.sampled_from([None, 0, 1, 2, 3]))
    state_shape = draw(st.lists(st.integers(0, 4), min_size=1, max_size=4))
    special = draw(st.sampled_from([None, "nan", "inf", "noncontiguous"]))
    return variant, D, H, layer_kw, shape, x_dtype, lengths, state_n, state_shape, special


@SETTINGS
@given(any_calls())
def test_any_call_is_right_or_a_clean_error(call):
    variant, D, H, layer_kw, shape, x_dtype, lengths, state_n, state_shape, special = call
    layer = lstmlab.RNN(variant, D, H, **layer_kw)
    x = np.ones(shape, dtype=x_dtype)
    if special == "nan" and x.size and x.dtype.kind == "f":
        x.flat[0] = np.nan
    elif special == "inf" and x.size and x.dtype.kind == "f":
        x.flat[-1] = np.inf
    elif special == "noncontiguous" and x.ndim == 3:
        x = np.ones((shape[0], shape[1], shape[2] * 2), x_dtype)[:, :, ::2]
    state = None if state_n is None else tuple(np.zeros(state_shape, layer.dtype) for _ in range(state_n))
    try:
        y, final, ctx = layer.forward(x, state, lengths)
    except (ValueError, TypeError):
        return  # a clean error
    grads, dx, _ = layer.backward(ctx, np.ones_like(y))
    assert np.isfinite(y).all() and dx.shape == x.shape
