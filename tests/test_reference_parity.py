"""Forward and gradients of every registered variant against the NumPy references."""
import numpy as np
import pytest
from conftest import central_differences, random_inputs, random_layer
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
    for arr, g in pairs:
        np.testing.assert_allclose(g, central_differences(arr, loss), rtol=1e-5, atol=1e-7)


def test_gradcheck_float64(variant):
    rep = lstmlab.gradcheck(variant, lengths=[4, 3])
    assert rep.passed, str(rep)
    assert rep.max_abs_error < 1e-6


def test_small_batch_products_match_the_gemm_path(variant):
    """At B <= 4 and gates x H >= 128 each step's recurrent product is one GEMV per row
    (config.ROW_GEMV_MAX_BATCH); at B = 20 one GEMM. Rows 0-3 of a batch of 20 and
    the same 4 rows as their own batch give the same outputs and gradients."""
    layer = random_layer(variant, D=3, H=128)
    from lstmlab import engine
    src = engine.kernels(layer.spec).source
    assert all(f"rows{i} = " in src for i in range(len(layer.spec.products)))  # the rule is in the kernel
    layer.params.update({k: v * 0.2 for k, v in layer.params.items()})  # keep H=128 pre-activations moderate
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 20, 3))
    st = tuple(rng.standard_normal((1, 20, 128)) * 0.5 for _ in layer.spec.state)
    dy = rng.standard_normal((4, 20, 128))
    dy[:, 4:] = 0
    big, _, ctx = layer.forward(x, st)
    g_big, dx_big, _ = layer.backward(ctx, dy)
    small, _, ctx = layer.forward(x[:, :4].copy(), tuple(s[:, :4].copy() for s in st))
    g_small, dx_small, _ = layer.backward(ctx, dy[:, :4].copy())
    np.testing.assert_allclose(small, big[:, :4], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dx_small, dx_big[:, :4], rtol=1e-11, atol=1e-12)
    for k in g_big:
        np.testing.assert_allclose(g_small[k], g_big[k], rtol=1e-11, atol=1e-11, err_msg=k)
