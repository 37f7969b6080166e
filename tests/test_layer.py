"""Layer behaviour: dtypes, determinism, batch_first, lengths, streaming."""
import numpy as np
import pytest
from conftest import random_inputs, random_layer

import lstmlab
from lstmlab import config


def test_float32_agrees_with_float64(variant):
    l64 = random_layer(variant, D=3, H=4)
    l32 = random_layer(variant, D=3, H=4, dtype=np.float32)
    x, st = random_inputs(l64, T=6, B=2)
    y64, f64, c64 = l64.forward(x, st)
    y32, f32, c32 = l32.forward(x.astype(np.float32), tuple(s.astype(np.float32) for s in st))
    assert y32.dtype == np.float32 and all(f.dtype == np.float32 for f in f32)
    np.testing.assert_allclose(y32, y64, rtol=1e-4, atol=1e-5)
    g64, dx64, _ = l64.backward(c64, np.ones_like(y64))
    g32, dx32, _ = l32.backward(c32, np.ones_like(y32))
    assert all(g.dtype == np.float32 for g in g32.values())
    for k in g64:
        np.testing.assert_allclose(g32[k], g64[k], rtol=1e-3, atol=1e-4)


def test_deterministic_bitwise(variant):
    layer = random_layer(variant, dtype=np.float32)
    x, st = random_inputs(layer)
    runs = []
    for _ in range(2):
        y, fin, ctx = layer.forward(x, st, [5, 3, 1])
        g, dx, ds = layer.backward(ctx, np.ones_like(y), fin)
        runs.append((y, fin, g, dx, ds))
    a, b = runs
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[3], b[3])
    assert all(np.array_equal(a[2][k], b[2][k]) for k in a[2])
    assert all(np.array_equal(u, v) for u, v in zip(a[1] + a[4], b[1] + b[4]))


def test_batch_first_is_a_transpose():
    tm = random_layer("peephole", L=2, bidirectional=True)
    bf = random_layer("peephole", L=2, bidirectional=True, batch_first=True)
    x, st = random_inputs(tm)
    y, fin, ctx = tm.forward(x, st, [5, 2, 4])
    yb, finb, ctxb = bf.forward(np.ascontiguousarray(x.transpose(1, 0, 2)), st, [5, 2, 4])
    np.testing.assert_array_equal(yb, y.transpose(1, 0, 2))
    dy = np.random.default_rng(0).standard_normal(y.shape)
    g, dx, _ = tm.backward(ctx, dy)
    gb, dxb, _ = bf.backward(ctxb, np.ascontiguousarray(dy.transpose(1, 0, 2)))
    np.testing.assert_array_equal(dxb, dx.transpose(1, 0, 2))
    assert all(np.array_equal(g[k], gb[k]) for k in g)


def test_streaming_chunks_equal_whole_sequence():
    """Feeding the final state of one chunk into the next gives the same outputs,
    and the final-state gradient carries truncated BPTT across chunks exactly."""
    layer = random_layer("lstm", L=2)
    x, st = random_inputs(layer, T=8, B=2)
    y, fin, ctx = layer.forward(x, st)
    y1, f1, c1 = layer.forward(x[:3], st)
    y2, f2, c2 = layer.forward(x[3:], f1)
    np.testing.assert_allclose(np.concatenate([y1, y2]), y, rtol=1e-12, atol=1e-14)
    dy = np.random.default_rng(1).standard_normal(y.shape)
    g, dx, ds0 = layer.backward(ctx, dy)
    g2, dx2, dmid = layer.backward(c2, dy[3:])
    g1, dx1, ds0b = layer.backward(c1, dy[:3], dmid)
    np.testing.assert_allclose(np.concatenate([dx1, dx2]), dx, rtol=1e-10, atol=1e-12)
    for k in g:
        np.testing.assert_allclose(g1[k] + g2[k], g[k], rtol=1e-10, atol=1e-12)


def test_final_state_is_last_valid_step():
    layer = random_layer("gru")
    x, st = random_inputs(layer)
    y, fin, _ = layer.forward(x, st, [5, 2, 1])
    for b, n in enumerate([5, 2, 1]):
        _, fb, _ = layer.forward(np.ascontiguousarray(x[:n, b:b + 1]), tuple(s[:, b:b + 1] for s in st))
        np.testing.assert_allclose(fin[0][:, b], fb[0][:, 0], rtol=1e-12)
        np.testing.assert_allclose(y[n - 1, b], fb[0][0, 0], rtol=1e-12)


def test_parameters_are_a_walkable_mapping():
    layer = lstmlab.RNN("fgr", 3, 4, 2, bidirectional=True)
    names = set(layer.params)
    assert "layer1.reverse.R_gates" in names and "layer0.p_i" in names
    assert layer.params["layer1.W"].shape == (16, 8)
    assert layer.params["layer0.R_gates"].shape == (12, 12)


def test_backward_recycles_buffers_unless_retained():
    layer = lstmlab.RNN("lstm", 3, 5, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((6, 2, 3))
    y, _, ctx = layer.forward(x)
    g1, dx1, _ = layer.backward(ctx, np.ones_like(y), retain=True)
    g2, dx2, _ = layer.backward(ctx, np.ones_like(y))
    for k in g1:
        np.testing.assert_array_equal(g1[k], g2[k])
    np.testing.assert_array_equal(dx1, dx2)
    with pytest.raises(RuntimeError, match="already used by a backward"):
        layer.backward(ctx, np.ones_like(y))
    # the recycled buffers serve the next step and give the same answer
    y3, _, ctx3 = layer.forward(x)
    g3, _, _ = layer.backward(ctx3, np.ones_like(y3))
    np.testing.assert_array_equal(y3, y)
    for k in g1:
        np.testing.assert_array_equal(g1[k], g3[k])


@pytest.mark.parametrize("variant", ["lstm", "mgu"])
@pytest.mark.parametrize("K", [1, 3, 7, 50])
def test_recompute_equals_plain_bptt(variant, K):
    """Checkpointed BPTT gives the plain gradients, with lengths, 2 layers, both directions."""
    layer = lstmlab.RNN(variant, 3, 4, num_layers=2, bidirectional=True, dtype=np.float64, seed=1)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((9, 3, 3))
    L = np.array([9, 4, 1])
    s0 = tuple(rng.standard_normal((4, 3, 4)) for _ in layer.state_names)
    dy = rng.standard_normal((9, 3, 8))
    ds = tuple(rng.standard_normal((4, 3, 4)) for _ in layer.state_names)
    y, fin, ctx = layer.forward(x, s0, L)
    g, dx, d0 = layer.backward(ctx, dy, ds)
    y2, fin2, ctx2 = layer.forward(x, s0, L, recompute=K)
    g2, dx2, d02 = layer.backward(ctx2, dy, ds)
    np.testing.assert_allclose(y2, y, rtol=0, atol=1e-14)
    for a, b in zip(fin + d0, fin2 + d02):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-13)
    np.testing.assert_allclose(dx2, dx, rtol=0, atol=1e-13)
    for k in g:
        np.testing.assert_allclose(g2[k], g[k], rtol=1e-12, atol=1e-12)


def test_recompute_rejects_bad_segment():
    layer = lstmlab.RNN("lstm", 3, 4)
    with pytest.raises(ValueError, match="recompute: expected None or a positive int"):
        layer.forward(np.zeros((5, 2, 3), np.float32), recompute=0)


@pytest.mark.parametrize("variant", ["peephole", "gru", "mgu"])
def test_chunked_backward_equals_one_chunk(variant, monkeypatch):
    """The backward's time chunks (weight gradients per chunk) change nothing but summation order."""
    layer = lstmlab.RNN(variant, 3, 4, dtype=np.float64, seed=3)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((11, 3, 3))
    L = np.array([11, 5, 2])
    dy = rng.standard_normal((11, 3, 4))
    y, _, ctx = layer.forward(x, lengths=L)
    g, dx, d0 = layer.backward(ctx, dy)
    monkeypatch.setattr(config, "CHUNK_ROWS", 7)  # chunks of 3 steps at B=3, the last one short
    y2, _, ctx2 = layer.forward(x, lengths=L)
    g2, dx2, d02 = layer.backward(ctx2, dy)
    np.testing.assert_allclose(dx2, dx, rtol=0, atol=1e-13)
    for a, b in zip(d0, d02):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-13)
    for k in g:
        np.testing.assert_allclose(g2[k], g[k], rtol=1e-12, atol=1e-12)


def test_workspace_limit_is_read_from_config(monkeypatch):
    """Settings live in lstmlab.config and are read at call time, so a test (or user) can patch them."""
    from lstmlab import workspace
    monkeypatch.setattr(config, "WORKSPACE_MAX_BYTES", 0)
    buf = workspace.empty((1024, 1024), np.float32)
    workspace.give(buf)
    assert all(arr is not buf for _, arr in workspace._FREE.values())
