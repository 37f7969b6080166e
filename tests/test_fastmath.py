"""The vectorisable exp/expm1/sigmoid/tanh of the CPU kernels, against libm."""
import math

import numba
import numpy as np
import pytest

from lstmlab import fastmath


@numba.njit
def _apply(kind, x, out):
    for k in range(x.shape[0]):
        if kind == 0:
            out[k] = fastmath.exp(x[k])
        elif kind == 1:
            out[k] = fastmath.expm1(x[k])
        elif kind == 2:
            out[k] = fastmath.sigmoid(x[k])
        else:
            out[k] = fastmath.tanh(x[k])


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


REFS = {0: math.exp, 1: math.expm1, 2: _sigmoid, 3: math.tanh}


@pytest.mark.parametrize("kind", [0, 1, 2, 3], ids=["exp", "expm1", "sigmoid", "tanh"])
def test_relative_error_below_1e_15(kind):
    rng = np.random.default_rng(kind)
    x = np.concatenate([rng.uniform(-30, 30, 20000), rng.uniform(-1e-6, 1e-6, 2000),
                        rng.uniform(-700, 700, 2000), [0.0, -0.0, 1e-300, 0.34657359, -0.34657359]])
    if kind in (0,):
        x = x[np.abs(x) < 700]
    out = np.empty_like(x)
    _apply(kind, x, out)
    ref = np.array([REFS[kind](v) for v in x])
    tiny = np.abs(ref) < 1e-300
    rel = np.abs(out - ref)[~tiny] / np.abs(ref[~tiny])
    assert rel.max() < 1e-15, (rel.max(), x[~tiny][rel.argmax()])


def test_saturation_and_nan():
    x = np.array([-1e4, 1e4, np.inf, -np.inf, np.nan])
    for kind, want in [(2, [0.0, 1.0, 1.0, 0.0]), (3, [-1.0, 1.0, 1.0, -1.0])]:
        out = np.empty_like(x)
        _apply(kind, x, out)
        np.testing.assert_allclose(out[:4], want, atol=1e-300)
        assert np.isnan(out[4]), "NaN must propagate, or the trainer's non-finite check goes blind"
    out = np.empty_like(x)
    _apply(0, x, out)
    assert np.isnan(out[4]) and np.isfinite(out[:4]).all() and out[0] >= 0


@pytest.mark.parametrize("kind", [0, 1, 2, 3], ids=["exp", "expm1", "sigmoid", "tanh"])
def test_float32_version_within_4e_7(kind):
    """float32 arguments get the single-precision method: a few float32 ulps."""
    rng = np.random.default_rng(10 + kind)
    x = np.concatenate([rng.uniform(-20, 20, 20000), rng.uniform(-1e-3, 1e-3, 2000), [0.0, 0.3465736]])
    x = x.astype(np.float32)
    if kind == 0:
        x = x[np.abs(x) < 80]
    out = np.empty_like(x)
    _apply(kind, x, out)
    assert out.dtype == np.float32
    ref = np.array([REFS[kind](float(v)) for v in x])
    nz = np.abs(ref) > 1e-30
    rel = np.abs(out.astype(np.float64) - ref)[nz] / np.abs(ref[nz])
    assert rel.max() < 4e-7, (rel.max(), x[nz][rel.argmax()])


@numba.njit
def _types_of(x32, x64):
    return fastmath.sigmoid(x32), fastmath.sigmoid(x64)


def test_result_type_follows_the_argument():
    _types_of(np.float32(0.5), 0.5)
    ret = _types_of.nopython_signatures[0].return_type
    assert [str(t) for t in ret] == ["float32", "float64"]


def test_float32_inputs():
    x = np.linspace(-20, 20, 1001).astype(np.float32)
    out = np.empty(x.shape, np.float64)
    _apply(3, x.astype(np.float64), out)
    np.testing.assert_allclose(out, np.tanh(x.astype(np.float64)), rtol=1e-15, atol=1e-300)
