"""Forward and gradients of every registered variant against the NumPy references."""
import numpy as np
import pytest
from conftest import random_inputs, random_layer
from reference import EQUATIONS, generic_step, run

import lstmlab

CONFIGS = [  # (layers, bidirectional, lengths)
    (1, False, None),
    (2, True, [5, 2, 3]),
]


@pytest.mark.parametrize("layers,bidir,lengths", CONFIGS)
def test_forward_matches_references(variant, layers, bidir, lengths):
    layer = random_layer(variant, L=layers, bidirectional=bidir)
    x, state = random_inputs(layer)
    y, fin, _ = layer.forward(x, state, lengths)
    L = lengths or [x.shape[0]] * x.shape[1]
    steps = [generic_step(layer.spec)]
    if variant in EQUATIONS:
        steps.append(EQUATIONS[variant])
    for step in steps:
        y_ref, fin_ref = run(step, layer.params, x, state, L, layers, bidir)
        np.testing.assert_allclose(y, y_ref, rtol=1e-10, atol=1e-12)
        for a, b in zip(fin, fin_ref):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    if lengths:  # outputs past each sequence's end are exactly zero
        for b, n in enumerate(lengths):
            assert not y[n:, b].any()


def test_gradients_match_reference_finite_differences(variant):
    """Analytic gradients against central differences of the independent reference."""
    layer = random_layer(variant, D=2, H=2, L=1, bidirectional=True)
    x, state = random_inputs(layer, T=3, B=2)
    lengths = [3, 2]
    step = EQUATIONS.get(variant) or generic_step(layer.spec)
    rng = np.random.default_rng(5)
    y, fin, ctx = layer.forward(x, state, lengths)
    wy, ws = rng.standard_normal(y.shape), tuple(rng.standard_normal(f.shape) for f in fin)
    grads, dx, ds0 = layer.backward(ctx, wy, ws)

    def loss():
        yr, fr = run(step, layer.params, x, state, lengths, 1, True)
        return (yr * wy).sum() + sum((a * b).sum() for a, b in zip(fr, ws))

    pairs = [(layer.params[k], grads[k]) for k in layer.params] + [(x, dx)]
    pairs += list(zip(state, ds0))
    eps = 1e-6
    for arr, g in pairs:
        num = np.empty_like(arr)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + eps
            lp = loss()
            arr[idx] = old - eps
            lm = loss()
            arr[idx] = old
            num[idx] = (lp - lm) / (2 * eps)
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-7)


def test_gradcheck_float64(variant):
    rep = lstmlab.gradcheck(variant, lengths=[4, 3])
    assert rep.passed, str(rep)
    assert rep.max_abs_error < 1e-6
