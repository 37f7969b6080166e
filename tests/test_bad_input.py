"""Every bad input gets an error naming the argument, what was expected and what was given."""
import numpy as np
import pytest

import lstmlab


@pytest.fixture(scope="module")
def layer():
    return lstmlab.RNN("lstm", 3, 4, 2)


@pytest.fixture(scope="module")
def x():
    return np.zeros((5, 2, 3), np.float32)


def test_constructor(layer):
    with pytest.raises(ValueError, match="hidden_size: expected a positive int, got 0"):
        lstmlab.RNN("lstm", 3, 0)
    with pytest.raises(ValueError, match="num_layers"):
        lstmlab.RNN("lstm", 3, 4, 1.5)
    with pytest.raises(TypeError, match="dtype: expected float32 or float64, got float16"):
        lstmlab.RNN("lstm", 3, 4, dtype=np.float16)
    with pytest.raises(lstmlab.UnknownVariantError, match="did you mean 'lstm'"):
        lstmlab.RNN("lsmt", 3, 4)


@pytest.mark.parametrize("bad,exc,match", [
    (np.zeros((5, 2, 4), np.float32), ValueError, r"x: expected shape \(T, B, input_size\).*got \(5, 2, 4\)"),
    (np.zeros((5, 3), np.float32), ValueError, "x: expected shape"),
    (np.zeros((0, 2, 3), np.float32), ValueError, "x: expected shape"),
    (np.zeros((5, 2, 3), np.float64), TypeError, "x: expected dtype float32.*got float64"),
    ([[[0.0] * 3]], TypeError, "x: expected a numpy array, got list"),
    (np.full((5, 2, 3), np.nan, np.float32), ValueError, "x: contains NaN"),
])
def test_bad_x(layer, bad, exc, match):
    with pytest.raises(exc, match=match):
        layer.forward(bad)


@pytest.mark.parametrize("lengths,exc,match", [
    ([5], ValueError, r"lengths: expected shape \(2,\).*got \(1,\)"),
    ([5, 6], ValueError, r"lengths: expected values in \[1, T=5\].*max 6"),
    ([0, 5], ValueError, "lengths: expected values in"),
    ([2.0, 3.0], TypeError, "lengths: expected integers"),
])
def test_bad_lengths(layer, x, lengths, exc, match):
    with pytest.raises(exc, match=match):
        layer.forward(x, lengths=lengths)


def test_bad_state(layer, x):
    h = np.zeros((2, 2, 4), np.float32)
    with pytest.raises(ValueError, match=r"state: expected a tuple of 2 arrays \('h', 'c'\)"):
        layer.forward(x, (h,))
    with pytest.raises(ValueError, match=r"state 'c': expected an array of shape \(2, 2, 4\), got \(1, 2, 4\)"):
        layer.forward(x, (h, h[:1]))
    with pytest.raises(TypeError, match="state 'h': expected dtype float32, got float64"):
        layer.forward(x, (h.astype(np.float64), h))
    with pytest.raises(ValueError, match="state 'c': contains NaN"):
        layer.forward(x, (h, h + np.inf))


def test_bad_params(layer):
    good = dict(layer.params)
    with pytest.raises(KeyError, match=r"missing \['layer1.b'\]"):
        layer.check_params({k: v for k, v in good.items() if k != "layer1.b"})
    with pytest.raises(KeyError, match=r"unexpected \['layer0.p_i'\]"):
        layer.check_params({**good, "layer0.p_i": np.zeros(4, np.float32)})
    with pytest.raises(ValueError, match=r"params\['layer0.R'\]: expected shape \(16, 4\), got \(16, 3\)"):
        layer.check_params({**good, "layer0.R": np.zeros((16, 3), np.float32)})
    with pytest.raises(TypeError, match=r"params\['layer0.R'\]: expected dtype float32, got float64"):
        layer.check_params({**good, "layer0.R": np.zeros((16, 4))})
    with pytest.raises(TypeError, match="params: expected a mapping"):
        layer.set_params([1, 2])


def test_bad_backward_arguments(layer, x):
    y, fin, ctx = layer.forward(x)
    with pytest.raises(ValueError, match=r"dy: expected a float32 array of shape \(5, 2, 4\)"):
        layer.backward(ctx, np.zeros((5, 2, 3), np.float32))
    with pytest.raises(TypeError, match="ctx: expected the Context"):
        layer.backward("ctx", y)
    with pytest.raises(ValueError, match="dstate: expected a tuple"):
        layer.backward(ctx, y, (fin[0],))


def test_gradcheck_reports_a_wrong_backward():
    """gradcheck finds a deliberately broken backward and says where."""
    from lstmlab.variants import LSTM

    class Broken(LSTM):
        @staticmethod
        def backward(c, i_act, f_act, g_act, o_act, tanh_c, d_h, d_c):
            dc = d_c + d_h * o_act * (1.0 - tanh_c * tanh_c)
            di = dc * g_act * i_act * (1.0 - i_act)
            df = dc * c * f_act * (1.0 - f_act)
            dg = dc * i_act * (1.0 - g_act * g_act)
            do = d_h * tanh_c * o_act  # missing the sigmoid derivative
            return di, df, dg, do, di, df, dg, do, dc * f_act

    lstmlab.register(Broken, name="tmp_broken")
    try:
        rep = lstmlab.gradcheck("tmp_broken")
        assert not rep.passed and rep.max_abs_error > 1e-3
        with pytest.raises(AssertionError, match="FAILED"):
            lstmlab.gradcheck("tmp_broken", raise_on_failure=True)
    finally:
        lstmlab.unregister("tmp_broken")


def test_uncompilable_maths_named_clearly():
    from lstmlab.variants import JANET

    class Uncompilable(JANET):
        derive_backward = False  # keep JANET's backward: the forward itself must reach Numba

        @staticmethod
        def forward(x_f, x_c, a_f, a_c, h):
            marker = object()  # a Python object: Numba cannot type this in nopython mode
            return h + (0.0 if marker is None else 1.0), x_f, x_f, x_c

    lstmlab.register(Uncompilable, name="tmp_uncompilable")
    try:
        with pytest.raises(lstmlab.VariantError, match="tmp_uncompilable.*could not be compiled"):
            lstmlab.RNN("tmp_uncompilable", 1, 2, dtype=np.float64).forward(np.zeros((2, 1, 1)))
    finally:
        lstmlab.unregister("tmp_uncompilable")


@pytest.mark.parametrize("kw, err, msg", [
    (dict(seed=-1), ValueError, "seed: expected a non-negative int"),
    (dict(seed="abc"), ValueError, "seed: expected a non-negative int"),
    (dict(forget_bias=float("nan")), ValueError, "forget_bias: expected a finite number"),
    (dict(t_max=50.0), ValueError, "t_max: only init='chrono' uses it"),
    (dict(init="chrono", t_max=float("inf")), ValueError, "init='chrono' needs t_max > 2"),
])
def test_layer_options_refused_with_their_name(kw, err, msg):
    with pytest.raises(err, match=msg):
        lstmlab.RNN("lstm", 2, 3, **kw)


def test_unknown_name_in_the_wrong_case_gets_a_suggestion():
    with pytest.raises(KeyError, match="did you mean 'lstm'"):
        lstmlab.get("LSTM")


@pytest.mark.parametrize("kw, msg", [
    (dict(t_max=50.0), "t_max: only init='chrono'"),
    (dict(forget_bias=float("nan")), "forget_bias: expected a finite"),
])
def test_train_config_refuses_ignored_or_nonfinite_options(kw, msg):
    from lstmlab.training import TrainConfig
    with pytest.raises(ValueError, match=msg):
        TrainConfig(**kw).validate()


def test_train_config_refuses_a_class_before_writing_anything(tmp_path):
    from lstmlab.training import TrainConfig, train
    from lstmlab.variants import LSTM
    with pytest.raises(TypeError, match="variant: expected a registered variant's name"):
        train(TrainConfig(variant=LSTM, steps=2), tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("kw, err, msg", [
    (dict(dtype="foo"), TypeError, "dtype: expected float32 or float64, got 'foo'"),
    (dict(dtype=None), TypeError, "dtype: expected float32 or float64, got None"),
    (dict(bidirectional="no"), TypeError, "bidirectional: expected True or False"),
    (dict(batch_first=None), TypeError, "batch_first: expected True or False"),
])
def test_layer_flags_and_dtype_are_checked(kw, err, msg):
    with pytest.raises(err, match=msg):
        lstmlab.RNN("lstm", 2, 3, **kw)


def test_nonfinite_values_are_refused_where_they_enter():
    layer = lstmlab.RNN("lstm", 2, 3, dtype=np.float64)
    with pytest.raises(ValueError, match=r"params\['layer0.R'\]: contains NaN or Inf"):
        layer.params["layer0.R"] = np.full((12, 3), np.nan)
    with pytest.raises(KeyError, match="did you mean 'layer0.R'"):
        layer.params["layer0.r"] = np.zeros((12, 3))
    y, _, ctx = layer.forward(np.zeros((2, 1, 2)))
    with pytest.raises(ValueError, match="dy: contains NaN or Inf"):
        layer.backward(ctx, np.full_like(y, np.nan))


def test_registry_arguments_are_checked():
    from lstmlab.variants import LSTM
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        lstmlab.register(type("Ve", (LSTM,), {}), name="")
    with pytest.raises(TypeError, match="pattern: expected a glob string"):
        lstmlab.names(5)


def test_a_string_constant_read_by_the_maths_is_refused():
    from lstmlab.variant import Variant, VariantError

    class StrConst(Variant):
        inputs, state, gated, SCALE = ("n",), ("h",), False, "x"

        @staticmethod
        def forward(x_n, a_n):
            return (SCALE * (x_n + a_n),)  # noqa: F821 - bound from the class

        @staticmethod
        def backward(d_h):
            return (d_h, d_h)

    with pytest.raises(VariantError, match="StrConst.SCALE = 'x': forward reads it"):
        lstmlab.register(StrConst, name="test_str_const")


@pytest.mark.parametrize("kw, err, msg", [
    (dict(nesterov="yes"), ValueError, "nesterov: expected True or False"),
    (dict(optimizer="rmsprop", momentum=float("nan")), ValueError, "momentum: expected a finite number"),
    (dict(extra={"x": object()}), ValueError, "extra: every value must be JSON-serialisable"),
])
def test_train_config_fields_are_checked(kw, err, msg):
    from lstmlab.training import TrainConfig
    with pytest.raises(err, match=msg):
        TrainConfig(**kw).validate()


def test_train_config_takes_numpy_numbers():
    from lstmlab.training import TrainConfig
    cfg = TrainConfig(hidden=np.int64(4), lr=np.float32(1e-3)).validate()
    assert type(cfg.hidden) is int and type(cfg.lr) is float


@pytest.mark.parametrize("args, err, msg", [
    (({"steps": 2}, "x"), TypeError, "config: expected a TrainConfig, got dict"),
    ((None, None), TypeError, "out_dir: expected a folder path"),
])
def test_train_arguments_are_checked(args, err, msg, tmp_path):
    from lstmlab.training import TrainConfig, train
    config, out = args
    with pytest.raises(err, match=msg):
        train(config if config is not None else TrainConfig(steps=2), out)


def test_structure_is_fixed_after_construction():
    layer = lstmlab.RNN("lstm", 2, 3)
    with pytest.raises(AttributeError, match="num_layers: fixed when the layer is made"):
        layer.num_layers = 2
    layer.batch_first = True  # a layout choice, read per call: may change


def test_more_threads_than_cores_warns():
    import os
    with pytest.warns(RuntimeWarning, match="more threads than cores"):
        lstmlab.set_num_threads((os.cpu_count() or 1) + 1)
    lstmlab.set_num_threads(1)
