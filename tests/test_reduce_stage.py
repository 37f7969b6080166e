"""Stages that reduce across units (kind="reduce"), on the CPU and in the CUDA simulator.

The test-only variant of :mod:`reduce_variant` layer-normalises an Elman
RNN's pre-activation with two reduce stages; it is checked against torch
autograd, by finite differences, and CUDA against the CPU.
"""
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cuda_script
from reduce_variant import LayerNormElman, torch_reference

import lstmlab
from lstmlab.variant import Product, Stage, Variant, VariantError

NAME = "test_layernorm_elman"


@pytest.fixture(scope="module")
def registered():
    lstmlab.register(LayerNormElman, name=NAME, override=True)
    yield NAME
    lstmlab.unregister(NAME)


def test_spec_marks_reduce_stages(registered):
    spec = lstmlab.get_spec(registered)
    assert [st.kind for st in spec.stages] == ["pointwise", "reduce", "reduce", "pointwise"]
    assert spec.stages[1].row_outputs == ("mu",) and spec.stages[2].row_outputs == ("var",)
    assert ("n_units", "units", None) in spec.stages[1].fwd_args


def test_matches_torch_autograd(registered):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    layer = lstmlab.RNN(registered, 3, 5, dtype=np.float64, seed=0)
    layer.params["layer0.gain"] = rng.uniform(0.5, 1.5, 5)
    T, B = 6, 3
    x = rng.standard_normal((T, B, 3))
    h0 = rng.uniform(-0.5, 0.5, (1, B, 5))
    L = np.array([6, 4, 1])
    y, (hT,), ctx = layer.forward(x, (h0,), L)
    dy = rng.standard_normal(y.shape)
    dh = rng.standard_normal(hT.shape)
    grads, dx, (dh0,) = layer.backward(ctx, dy, (dh,))
    tp = {k.split(".")[-1]: torch.tensor(v, requires_grad=True) for k, v in layer.params.items()}
    tx = torch.tensor(x, requires_grad=True)
    th0 = torch.tensor(h0[0], requires_grad=True)
    ty, th = torch_reference(tp, tx, th0, L)
    np.testing.assert_allclose(y, ty.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(hT[0], th.detach().numpy(), atol=1e-12)
    ((ty * torch.tensor(dy)).sum() + (th * torch.tensor(dh[0])).sum()).backward()
    for k, v in grads.items():
        np.testing.assert_allclose(v, tp[k.split(".")[-1]].grad.numpy(), atol=1e-10, err_msg=k)
    np.testing.assert_allclose(dx, tx.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(dh0[0], th0.grad.numpy(), atol=1e-10)


def test_gradcheck(registered):
    report = lstmlab.gradcheck(registered, hidden_size=4, lengths=[4, 2])
    assert report.passed, str(report)


@pytest.mark.parametrize("bad, message", [
    (dict(last_reduce=True), "cannot be the final stage"),
    (dict(product_on_reduce=True), "has no products"),
    (dict(product_reads_sum=True), "a sum over units"),
])
def test_bad_reduce_stages_are_refused(bad, message):
    stages = [Stage(products=(Product(("h",), ("n",)),), outputs=("pre",), forward="f_pre", backward=None),
              Stage(products=(), outputs=("mu",), forward="f_mu", backward=None, kind="reduce"),
              Stage(products=(), outputs=("h",), forward="f_out", backward=None)]
    if bad.get("last_reduce"):
        stages[2] = Stage(products=(), outputs=("h",), forward="f_out", backward=None, kind="reduce")
    if bad.get("product_on_reduce"):
        stages[1] = Stage(products=(Product(("h",), ("n2",), name="R2"),), outputs=("mu",), forward="f_mu",
                          backward=None, kind="reduce")
    if bad.get("product_reads_sum"):
        stages[2] = Stage(products=(Product(("mu",), ("m",), name="R2"),), outputs=("h",), forward="f_out",
                          backward=None)

    class Bad(Variant):
        inputs = ("n",)
        state = ("h",)

        @staticmethod
        def f_pre(x_n, a_n):
            return (x_n + a_n,)

        @staticmethod
        def f_mu(pre, n_units):
            return (pre / n_units,)

        @staticmethod
        def f_out(pre, mu):
            return (pre - mu,)

    Bad.stages = tuple(stages)
    with pytest.raises(VariantError, match=message):
        lstmlab.register(Bad, name="test_bad_reduce")


CUDA_SCRIPT = """
import sys
import numpy as np
import lstmlab
sys.path.insert(0, sys.argv[1])
from reduce_variant import LayerNormElman
lstmlab.register(LayerNormElman, name="lne")
from lstmlab.cuda.engine import compiled
K = compiled(lstmlab.get_spec("lne"))  # its source is a file in the kernel cache: tracebacks show lines
assert open(K["_path"]).read() == K["_source"] and "def fsum1(" in K["_source"], K["_path"]
for kernels in ("step", "persistent"):
    for dtype, tol in ((np.float64, 1e-10), (np.float32, 1e-4)):
        cpu = lstmlab.RNN("lne", 2, 4, dtype=dtype, seed=1)
        gpu = lstmlab.RNN("lne", 2, 4, dtype=dtype, seed=1, device="cuda", cuda_kernels=kernels)
        rng = np.random.default_rng(0)
        cpu.params["layer0.gain"] = rng.uniform(0.5, 1.5, 4).astype(dtype)
        gpu.set_params(cpu.params)
        x = rng.standard_normal((3, 2, 2)).astype(dtype)
        L = np.array([3, 2])
        yc, fc, cc = cpu.forward(x, lengths=L)
        yg, fg, cg = gpu.forward(x, lengths=L)
        dy = rng.standard_normal(yc.shape).astype(dtype)
        gc, dxc, _ = cpu.backward(cc, dy)
        gg, dxg, _ = gpu.backward(cg, dy)
        err = max([np.abs(yc - yg).max(), np.abs(dxc - dxg).max()] + [np.abs(gc[k] - gg[k]).max() for k in gc])
        assert err < tol, (kernels, dtype, err)
print("ok")
"""


def test_cuda_matches_cpu():
    run_cuda_script(CUDA_SCRIPT, str(Path(__file__).parent))


def test_recording_a_reduce_stage(registered):
    from lstmlab.recording import record
    layer = lstmlab.RNN(registered, 3, 5, dtype=np.float64, seed=0)
    rec = record(layer, np.random.default_rng(2).standard_normal((4, 2, 3)))
    pre, mu, var = rec["layer0.pre"], rec["layer0.mu"], rec["layer0.var"]
    np.testing.assert_allclose(mu, np.broadcast_to(pre.mean(axis=2, keepdims=True), pre.shape), atol=1e-12)
    np.testing.assert_allclose(var[..., 0], pre.var(axis=2), atol=1e-12)
