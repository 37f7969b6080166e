"""Losses by finite differences and against torch; optimisers against hand-computed steps and torch."""
import math

import numpy as np
import pytest

from lstmlab.training import (
    SGD,
    Adam,
    RMSProp,
    clip_by_global_norm,
    clip_by_value,
    global_norm,
    make_optimizer,
    make_schedule,
    mse,
    softmax_cross_entropy,
)

torch = pytest.importorskip("torch")


def fd(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        fp = f()
        x[i] = old - eps
        fm = f()
        x[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_gradient(weighted):
    r = np.random.default_rng(0)
    z = r.normal(size=(4, 3, 5)) * 3
    y = r.integers(0, 5, (4, 3))
    w = r.uniform(0, 2, (4, 3)) if weighted else None
    loss, g = softmax_cross_entropy(z, y, w)
    np.testing.assert_allclose(g, fd(lambda: softmax_cross_entropy(z, y, w)[0], z), atol=1e-8)
    tl = torch.nn.functional.cross_entropy(torch.tensor(z.reshape(-1, 5)), torch.tensor(y.reshape(-1)),
                                           reduction="none").numpy()
    ww = np.ones(12) if w is None else w.reshape(-1)
    assert loss == pytest.approx((tl * ww).sum() / ww.sum(), rel=1e-12)


def test_cross_entropy_stable_for_large_logits():
    z = np.array([[1000.0, 0.0, -1000.0]], np.float32)
    loss, g = softmax_cross_entropy(z, np.array([1]))
    assert loss == pytest.approx(1000.0) and np.isfinite(g).all() and g.dtype == np.float32


@pytest.mark.parametrize("weighted", [False, True])
def test_mse_gradient(weighted):
    r = np.random.default_rng(1)
    p, t = r.normal(size=(6, 2)), r.normal(size=(6, 2))
    w = r.uniform(0, 2, 6) if weighted else None
    loss, g = mse(p, t, w)
    np.testing.assert_allclose(g, fd(lambda: mse(p, t, w)[0], p), atol=1e-8)
    if w is None:
        assert loss == pytest.approx(float(torch.nn.functional.mse_loss(torch.tensor(p), torch.tensor(t))))


def test_loss_bad_input():
    with pytest.raises(ValueError, match="labels: expected classes in"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="labels: expected shape"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0]))
    with pytest.raises(ValueError, match="target: expected"):
        mse(np.zeros((2, 1)), np.zeros((3, 1)))


# -- optimisers: one step by hand ---------------------------------------------------
P0, G = np.array([1.0, -2.0]), np.array([0.5, -0.25])


def one_step(opt, lr, steps=1):
    p = {"w": P0.copy()}
    s = opt.init(p)
    for _ in range(steps):
        opt.step(p, {"w": G.copy()}, s, lr)
    return p["w"]


def test_sgd_by_hand():
    np.testing.assert_allclose(one_step(SGD(momentum=0.0), 0.1), P0 - 0.1 * G)
    # two momentum steps: v1 = g, v2 = 0.9 g + g; p = p0 - lr (v1 + v2)
    np.testing.assert_allclose(one_step(SGD(momentum=0.9), 0.1, 2), P0 - 0.1 * (G + 1.9 * G))
    # Nesterov: d_t = g + mu v_t
    np.testing.assert_allclose(one_step(SGD(momentum=0.9, nesterov=True), 0.1), P0 - 0.1 * (G + 0.9 * G))


def test_rmsprop_by_hand():
    s = 0.1 * G ** 2            # (1 - 0.9) g^2
    np.testing.assert_allclose(one_step(RMSProp(decay=0.9, eps=1e-8), 1e-3),
                               P0 - 1e-3 * G / (np.sqrt(s) + 1e-8))
    # with s = 0.1 g^2 the first step is lr * sign(g) / sqrt(0.1)
    np.testing.assert_allclose(one_step(RMSProp(), 1e-3), P0 - 1e-3 * np.sign(G) / math.sqrt(0.1), rtol=1e-6)


def test_adam_by_hand():
    # first step: m_hat = g, v_hat = g^2, so the step is lr * g / (|g| + eps)
    np.testing.assert_allclose(one_step(Adam(), 0.01), P0 - 0.01 * G / (np.abs(G) + 1e-8))


@pytest.mark.parametrize("name,ours,theirs", [
    ("sgd", lambda: SGD(momentum=0.8, nesterov=True),
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True)),
    ("rmsprop", lambda: RMSProp(decay=0.9, eps=1e-8), lambda p: torch.optim.RMSprop(p, lr=0.05, alpha=0.9, eps=1e-8)),
    ("adam", lambda: Adam(0.8, 0.95, 1e-7), lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.8, 0.95), eps=1e-7)),
])
def test_optimisers_match_torch(name, ours, theirs):
    r = np.random.default_rng(2)
    p = {"a": r.normal(size=(3, 4)), "b": r.normal(size=4)}
    tp = [torch.tensor(p["a"].copy(), requires_grad=True), torch.tensor(p["b"].copy(), requires_grad=True)]
    opt, topt = ours(), theirs(tp)
    s = opt.init(p)
    for _ in range(5):
        g = {"a": r.normal(size=(3, 4)), "b": r.normal(size=4)}
        opt.step(p, {k: v.copy() for k, v in g.items()}, s, 0.05)
        tp[0].grad, tp[1].grad = torch.tensor(g["a"]), torch.tensor(g["b"])
        topt.step()
    np.testing.assert_allclose(p["a"], tp[0].detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(p["b"], tp[1].detach().numpy(), rtol=1e-12, atol=1e-14)
    assert int(s["count"]) == 5


def test_optimiser_keeps_float32():
    p = {"w": np.ones(3, np.float32)}
    for name in ("sgd", "rmsprop", "adam"):
        opt = make_optimizer(name)
        s = opt.init(p)
        opt.step(p, {"w": np.full(3, 0.5, np.float32)}, s, 1e-3)
        assert p["w"].dtype == np.float32 and all(v.dtype in (np.float32, np.int64) for v in s.values())


def test_optimiser_bad_options():
    with pytest.raises(ValueError, match="optimizer: expected one of"):
        make_optimizer("adagrad")
    with pytest.raises(ValueError, match="decay"):
        RMSProp(decay=1.0)
    with pytest.raises(ValueError, match="momentum"):
        SGD(momentum=-0.1)
    with pytest.raises(ValueError, match="beta2"):
        Adam(beta2=1.5)


def test_clip_by_global_norm():
    g = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    assert global_norm(g) == pytest.approx(5.0)
    assert clip_by_global_norm(g, 1.0) == pytest.approx(5.0)
    assert global_norm(g) == pytest.approx(1.0)
    np.testing.assert_allclose(g["a"], [0.6, 0.0])
    g2 = {"a": np.array([0.3, 0.4])}
    clip_by_global_norm(g2, 1.0)
    np.testing.assert_allclose(g2["a"], [0.3, 0.4])     # under the bound: untouched


def test_clip_by_value():
    g = {"a": np.array([3.0, -0.5]), "b": np.array([[-4.0]])}
    assert clip_by_value(g, 1.0) == pytest.approx(np.sqrt(9 + 0.25 + 16))
    np.testing.assert_array_equal(g["a"], [1.0, -0.5])
    np.testing.assert_array_equal(g["b"], [[-1.0]])


def test_schedules():
    c = make_schedule("constant", 0.1, 100)
    assert c(0) == c(99) == 0.1
    cos = make_schedule("cosine", 0.1, 100, warmup=10)
    assert cos(0) == pytest.approx(0.01) and cos(9) == pytest.approx(0.1)
    assert cos(10) == pytest.approx(0.1) and cos(55) == pytest.approx(0.05) and cos(100) == pytest.approx(0.0)
    lin = make_schedule("linear", 0.2, 10)
    assert lin(0) == 0.2 and lin(5) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="schedule: expected one of"):
        make_schedule("exp", 0.1, 10)
    with pytest.raises(ValueError, match="warmup"):
        make_schedule("cosine", 0.1, 10, warmup=10)
