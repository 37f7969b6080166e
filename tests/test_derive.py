"""Backward maths derived with sympy (lstmlab.derive)."""
import math

import numpy as np
import pytest

import lstmlab
from lstmlab.scalar import sigmoid, tanh
from lstmlab.spec import describe
from lstmlab.training import TrainConfig, train
from lstmlab.variant import Product, Stage, Variant, VariantError


class ForwardOnlyLSTM(Variant):
    """torch.nn.LSTM's cell written forward-only: no saved values, no backward."""
    inputs = ("i", "f", "g", "o")
    state = ("h", "c")
    forget_block, input_block = "f", "i"

    @staticmethod
    def forward(x_i, x_f, x_g, x_o, a_i, a_f, a_g, a_o, c):
        i = sigmoid(x_i + a_i)
        f = sigmoid(x_f + a_f)
        g = tanh(x_g + a_g)
        o = sigmoid(x_o + a_o)
        c_new = f * c + i * g
        return o * tanh(c_new), c_new


class SoftplusMinimal(Variant):
    """A single-gate cell not in lstmlab: a softplus candidate with a learnt leak.

    u = sigma(x_u + a_u); z = softplus(x_z + a_z) - log 2 (0 at 0);
    h_t = u * h_{t-1} + (1 - u) * tanh(z) * w, w a per-unit scale.
    """
    inputs = ("u", "z")
    state = ("h",)
    unit_params = ("w",)
    forget_block = "u"

    @staticmethod
    def forward(x_u, x_z, a_u, a_z, h, w):
        u = sigmoid(x_u + a_u)
        z = math.log1p(math.exp(x_z + a_z)) - math.log(2.0)
        return (u * h + (1.0 - u) * tanh(z) * w,)


@pytest.fixture(scope="module")
def forward_only():
    names = {"fo_lstm": ForwardOnlyLSTM, "softplus_minimal": SoftplusMinimal}
    for n, cls in names.items():
        lstmlab.register(cls, name=n)
    yield names
    for n in names:
        lstmlab.unregister(n)


BUILTINS = [n for n in lstmlab.names()]


@pytest.mark.parametrize("name", BUILTINS)
def test_derived_backward_matches_handwritten(name):
    """Every built-in's handwritten backward equals the one derived from its forward."""
    base = lstmlab.get(name)
    derived = type(base.__name__ + "Derived", (base,), {"derive_backward": True})
    lstmlab.register(derived, name=name + "_derived")
    try:
        a = lstmlab.RNN(name, 3, 4, dtype=np.float64, seed=1)
        b = lstmlab.RNN(name + "_derived", 3, 4, dtype=np.float64, seed=1)
        b.set_params(a.params)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((6, 2, 3))
        L = np.array([6, 3])
        ya, _, ca = a.forward(x, lengths=L)
        yb, _, cb = b.forward(x, lengths=L)
        dy = rng.standard_normal(ya.shape)
        ga, dxa, da = a.backward(ca, dy)
        gb, dxb, db = b.backward(cb, dy)
        np.testing.assert_allclose(yb, ya, rtol=0, atol=1e-14)
        np.testing.assert_allclose(dxb, dxa, rtol=0, atol=1e-13)
        for k in ga:
            np.testing.assert_allclose(gb[k], ga[k], rtol=1e-12, atol=1e-13, err_msg=k)
        for s, t in zip(da, db):
            np.testing.assert_allclose(t, s, rtol=0, atol=1e-13)
        # the derivation saves what the handwritten backward saves, plus nothing
        assert len(describe(derived).saved) == len(describe(base).saved)
    finally:
        lstmlab.unregister(name + "_derived")


@pytest.mark.parametrize("name", ["fo_lstm", "softplus_minimal"])
def test_forward_only_variants_pass_gradcheck(forward_only, name):
    rep = lstmlab.gradcheck(name, lengths=[4, 2], num_layers=2)
    assert rep.passed, rep


def test_forward_only_lstm_equals_lstm(forward_only):
    a = lstmlab.RNN("lstm", 3, 4, dtype=np.float64, seed=2)
    b = lstmlab.RNN("fo_lstm", 3, 4, dtype=np.float64, seed=2)
    b.set_params(a.params)
    x = np.random.default_rng(1).standard_normal((5, 2, 3))
    ya, _, ca = a.forward(x)
    yb, _, cb = b.forward(x)
    ga, _, _ = a.backward(ca, np.ones_like(ya))
    gb, _, _ = b.backward(cb, np.ones_like(yb))
    np.testing.assert_allclose(yb, ya, atol=1e-14)
    for k in ga:
        np.testing.assert_allclose(gb[k], ga[k], atol=1e-12)
    # saves the same five activations the handwritten LSTM keeps
    assert len(describe(ForwardOnlyLSTM).saved) == 5


@pytest.mark.parametrize("name", ["fo_lstm", "softplus_minimal"])
def test_forward_only_variants_learn_adding(forward_only, tmp_path, name):
    cfg = TrainConfig(task="adding", T=20, variant=name, hidden=32, optimizer="adam", lr=1e-2, batch_size=32,
                      steps=400, eval_every=100, eval_size=256, checkpoint_every=400, seed=0)
    res = train(cfg, tmp_path / "run", progress=False)
    assert res.final["loss"] < 0.5 * res.final["baseline"], res.final


def test_inherited_backward_is_not_reused_for_an_overridden_forward():
    """Overriding only the forward of a built-in must not keep the parent's backward."""
    class Leaky(lstmlab.get("lstm")):
        @staticmethod
        def forward(x_i, x_f, x_g, x_o, a_i, a_f, a_g, a_o, c):
            i = sigmoid(x_i + a_i)
            f = 0.5 * sigmoid(x_f + a_f) + 0.5
            g = tanh(x_g + a_g)
            o = sigmoid(x_o + a_o)
            c_new = f * c + i * g
            tc = tanh(c_new)
            return o * tc, c_new, i, f, g, o, tc
    lstmlab.register(Leaky, name="leaky_test")
    try:
        assert lstmlab.gradcheck("leaky_test").passed
    finally:
        lstmlab.unregister("leaky_test")


def _variant(body_forward):
    ns = {"sigmoid": sigmoid, "math": math}
    exec(body_forward, ns)
    return type("Bad", (Variant,), {"inputs": ("u",), "state": ("h",), "forward": staticmethod(ns["forward"])})


@pytest.mark.parametrize("src,match", [
    ("def forward(x_u, a_u, h):\n    v = x_u + a_u\n    if v > 0:\n        return (v,)\n    return (h,)\n",
     "branches on a value"),
    ("def forward(x_u, a_u, h):\n    return (math.fmod(x_u + a_u, 2.0) * h,)\n", "math.fmod"),
    ("def forward(x_u, a_u, h):\n    return (max(x_u + a_u, h),)\n", "branches on a value"),
])
def test_underivable_forward_is_refused_at_registration(src, match):
    with pytest.raises(VariantError, match=match) as info:
        lstmlab.register(_variant(src), name="bad_derive")
    assert "Bad" in str(info.value)
    assert "bad_derive" not in lstmlab.names()


def test_derive_false_without_backward_is_an_error():
    cls = type("NoBack", (ForwardOnlyLSTM,), {"derive_backward": False})
    with pytest.raises(VariantError, match="no such static method"):
        describe(cls)


class _SquareInDenominator(Variant):
    """A forward whose derivative divides by a square: the printer must keep the parentheses."""
    inputs = ("n",)
    state = ("h",)
    gated = False
    stages = (Stage(products=(Product(("h",), ("n",)),), outputs=("h",), backward=None),)

    @staticmethod
    def forward(x_n, a_n, h):
        return (x_n / (1.0 + a_n * a_n) + 0.5 * h,)


def test_derived_backward_divides_by_a_square_correctly():
    """d/da of x / (1 + a^2) is -2 a x / (1 + a^2)^2; printed as ``/(c*c)``, not ``/c*c``."""
    st = describe(_SquareInDenominator, "test_square_denominator").stages[0]
    args = {"x_n": 0.7, "a_n": 0.4, "h": -0.3}
    vals = [args[a] for a, _, _ in st.fwd_args]
    outs = st.forward(*vals)
    env = dict(args, h_new=outs[0], d_h=1.0)
    env.update({o: v for o, v in zip(st.outputs, outs) if o != "h"})  # saved values
    grads = st.backward(*[env[a] for a, _, _ in st.bwd_args])
    for i, (a, _, _) in enumerate(st.fwd_args):
        up, down = list(vals), list(vals)
        up[i] += 1e-6
        down[i] -= 1e-6
        num = (st.forward(*up)[0] - st.forward(*down)[0]) / 2e-6
        assert abs(grads[i] - num) < 1e-8, a


@pytest.mark.parametrize("expr,value", [("y/x**sp.Rational(3, 2)", 3 / 2 ** 1.5),
                                        ("y*(x + 1)**sp.Rational(3, 2)", 3 * 3 ** 1.5),
                                        ("y/(3*x + 1)**sp.Rational(3, 2)", 3 / 7 ** 1.5),
                                        ("1/sp.sqrt(x + 1)", 3 ** -0.5)])
def test_half_integer_powers_print_as_square_roots_with_their_parentheses(expr, value):
    """x^(3/2) prints as x*sqrt(x) (a layer norm's variance gradient: no pow per unit), its base parenthesised."""
    import math

    import sympy as sp

    from lstmlab.derive import _printer
    x, y = sp.symbols("x y", real=True)
    text = _printer(sp).doprint(eval(expr))
    assert "**" not in text
    assert math.isclose(eval(text, {"math": math, "x": 2.0, "y": 3.0}), value, rel_tol=1e-14)
