"""Fixtures; two variants written by subclassing, registered so every
registry-parametrised test covers them as it would a researcher's own."""
import numpy as np
import pytest

import lstmlab
from lstmlab.variants import JANET, Peephole


class PeepholeNoOutputPeep(Peephole):
    """Test variant: the peephole LSTM with one gate changed - the output gate
    does not peep at the cell (only the parameters it has change)."""
    reference = "test: peephole without p_o"
    unit_params = ("p_i", "p_f")


class WideJANET(JANET):
    """Test variant: JANET with a different input-gate shift (one constant)."""
    reference = "test: JANET with BETA = 3"
    BETA = 3.0


lstmlab.register(PeepholeNoOutputPeep, name="test_peephole_nop", override=True)
lstmlab.register(WideJANET, name="test_janet_beta3", override=True)

ALL = lstmlab.names()


@pytest.fixture(params=ALL)
def variant(request):
    return request.param


def random_layer(variant, D=2, H=3, L=1, bidirectional=False, dtype=np.float64, seed=0, batch_first=False):
    """A layer with every parameter random (peepholes and recurrent biases too)."""
    rng = np.random.default_rng(seed)
    layer = lstmlab.RNN(variant, D, H, L, bidirectional=bidirectional, dtype=dtype, init="torch",
                        seed=rng, batch_first=batch_first)
    for k, v in layer.params.items():
        layer.params[k] = rng.uniform(-0.6, 0.6, v.shape).astype(dtype)
    return layer


def central_differences(arr, loss, eps=1e-6):
    """d loss() / d arr by central differences, perturbing ``arr`` in place (restored after each entry)."""
    num = np.empty_like(arr)
    for idx in np.ndindex(arr.shape):
        old = arr[idx]
        arr[idx] = old + eps
        lp = loss()
        arr[idx] = old - eps
        lm = loss()
        arr[idx] = old
        num[idx] = (lp - lm) / (2 * eps)
    return num


def check_sampled_gradients(layer, x, state, lengths, mask_seed=11):
    """The layer's gradients (parameters, input, initial state) against central differences, its masks
    drawn from ``default_rng(mask_seed)`` at every call: exact for the sampled network."""
    rng = np.random.default_rng(9)
    y, fin, ctx = layer.forward(x, state, lengths, rng=np.random.default_rng(mask_seed))
    wy, ws = rng.standard_normal(y.shape), tuple(rng.standard_normal(f.shape) for f in fin)
    grads, dx, ds0 = layer.backward(ctx, wy, ws)

    def loss():  # the same masks every call: the same generator state
        yl, fl, c = layer.forward(x, state, lengths, rng=np.random.default_rng(mask_seed))
        c.release()
        return (yl * wy).sum() + sum((a * b).sum() for a, b in zip(fl, ws))

    for arr, g in [(layer.params[k], grads[k]) for k in layer.params] + [(x, dx)] + list(zip(state, ds0)):
        np.testing.assert_allclose(g, central_differences(arr, loss), rtol=1e-5, atol=1e-7)


def random_inputs(layer, T=5, B=3, seed=1):
    rng = np.random.default_rng(seed)
    n = layer.num_layers * layer.num_directions
    x = rng.standard_normal((T, B, layer.input_size)).astype(layer.dtype)
    state = tuple(rng.uniform(-0.5, 0.5, (n, B, layer.hidden_size)).astype(layer.dtype)
                  for _ in layer.spec.state)
    return x, state


def run_cuda_script(script, *args, timeout=900):
    """Run ``script`` in a fresh Python on the CUDA simulator (on a real GPU with LSTMLAB_TEST_REAL_CUDA=1);
    it must print "ok". The simulator is chosen before numba is imported, hence the subprocess."""
    import os
    import subprocess
    import sys
    pytest.importorskip("numba.cuda")
    env = dict(os.environ)
    if os.environ.get("LSTMLAB_TEST_REAL_CUDA") != "1":
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    rc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env,
                        timeout=timeout)
    assert rc.returncode == 0 and "ok" in rc.stdout, rc.stderr[-3000:]


def user_variant_source(name):
    """Source registering a user's forward-only variant (its backward derived) as ``name``: a forget-gated
    RNN, for scripts run in a fresh process (the CUDA simulator's)."""
    import textwrap
    return textwrap.dedent(f'''
        import lstmlab
        from lstmlab.scalar import sigmoid, tanh
        @lstmlab.register({name!r})
        class User(lstmlab.Variant):
            inputs, state = ("f", "u"), ("h",)
            @staticmethod
            def forward(x_f, x_u, a_f, a_u, h):
                f = sigmoid(x_f + a_f)
                return (f * h + (1.0 - f) * tanh(x_u + a_u),)
    ''')
