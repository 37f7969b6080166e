"""The CUDA backend against the CPU engine, for every registered variant.

Runs in the CUDA simulator when no GPU is present: these tests set
``NUMBA_ENABLE_CUDASIM=1`` in a subprocess (it must be set before numba is
imported, and the rest of the suite runs numba on the CPU in this process).
On a machine with a GPU, ``LSTMLAB_TEST_REAL_CUDA=1`` runs them on the device.
They skip cleanly where numba-cuda is not installed.
"""
import json
import os
import subprocess
import sys
import textwrap

import pytest
from conftest import run_cuda_script, user_variant_source

import lstmlab

try:
    import numba.cuda  # noqa: F401
    HAVE_NUMBA_CUDA = True
except ImportError:  # pragma: no cover - depends on the environment
    HAVE_NUMBA_CUDA = False

BUILTINS = ["cifg", "fgr", "gru", "janet", "lstm", "mgu", "nfg", "niaf", "nig", "noaf", "nog", "np", "peephole"]

pytestmark = pytest.mark.skipif(not HAVE_NUMBA_CUDA, reason="numba-cuda is not installed (lstmlab[cuda])")

SCRIPT = textwrap.dedent('''
    import json, sys
    import numpy as np
    import lstmlab
    out = {}
    for name in lstmlab.names():  # every variant registered in a fresh process, plugins included
        errs = {}
        for dtype, kw in [(np.float64, dict(bidirectional=True)), (np.float32, {})]:
            cpu = lstmlab.RNN(name, 3, 4, dtype=dtype, seed=1, **kw)
            gpu = lstmlab.RNN(name, 3, 4, dtype=dtype, seed=1, device="cuda", cuda_kernels=sys.argv[1], **kw)
            gpu.set_params(cpu.params)
            rng = np.random.default_rng(0)
            n = cpu.num_layers * cpu.num_directions
            x = rng.standard_normal((4, 3, 3)).astype(dtype)
            L = np.array([4, 2, 1])
            s0 = tuple(rng.standard_normal((n, 3, 4)).astype(dtype) for _ in cpu.state_names)
            yc, fc, cc = cpu.forward(x, s0, L)
            yg, fg, cg = gpu.forward(x, s0, L)
            dy = rng.standard_normal(yc.shape).astype(dtype)
            ds = tuple(rng.standard_normal(f.shape).astype(dtype) for f in fc)
            gc, dxc, dc = cpu.backward(cc, dy, ds)
            used = {t.plan is not None for t in cg.tapes}
            assert used == {sys.argv[1] == "persistent"}, used
            gg, dxg, dg = gpu.backward(cg, dy, ds)
            e = max([np.abs(yc - yg).max(), np.abs(dxc - dxg).max()]
                    + [np.abs(a - b).max() for a, b in zip(fc + dc, fg + dg)]
                    + [np.abs(gc[k] - gg[k]).max() / max(1.0, np.abs(gc[k]).max()) for k in gc])
            errs[np.dtype(dtype).name] = float(e)
        out[name] = errs
    print(json.dumps(out))
''')


def _run(code, *args, timeout=900):
    env = dict(os.environ)
    if os.environ.get("LSTMLAB_TEST_REAL_CUDA") != "1":
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def _run_without_simulator(code):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("kernels", ["step", "persistent"])
def test_every_variant_matches_the_cpu(kernels):
    """Outputs, final states and every gradient, float64 (both directions; stacking is the layer's own code,
    shared with the CPU) and float32,
    with the step kernels and with the persistent ones (one cooperative block in the simulator)."""
    rc = _run(SCRIPT, kernels)
    assert rc.returncode == 0, rc.stderr[-3000:]
    errs = json.loads(rc.stdout.strip().splitlines()[-1])
    assert set(BUILTINS) <= set(errs)
    for name, e in errs.items():
        assert e["float64"] < 1e-12, (name, e)
        assert e["float32"] < 2e-5, (name, e)


def test_device_arrays_in_and_out_and_clear_errors():
    code = textwrap.dedent('''
        import numpy as np
        from numba import cuda
        import lstmlab
        layer = lstmlab.RNN("gru", 3, 4, device="cuda", dtype=np.float64)
        x = np.random.default_rng(0).standard_normal((3, 2, 3))
        y_host, _, c1 = layer.forward(x)
        y_dev, (h,), c2 = layer.forward(cuda.to_device(x))
        assert hasattr(y_dev, "copy_to_host") and hasattr(h, "copy_to_host")
        assert np.allclose(y_dev.copy_to_host(), y_host)
        g, dx, _ = layer.backward(c2, cuda.to_device(np.ones_like(y_host)))
        assert hasattr(dx, "copy_to_host") and isinstance(g["layer0.W"], np.ndarray)
        cpu = lstmlab.RNN("gru", 3, 4, dtype=np.float64)
        try:
            cpu.forward(cuda.to_device(x))
        except TypeError as exc:
            assert "device='cuda'" in str(exc) and "copy_to_host" in str(exc), exc
        else:
            raise AssertionError("a device array reached a CPU layer")
        try:
            layer.forward(x, recompute=2)
        except ValueError as exc:
            assert "CPU only" in str(exc)
        else:
            raise AssertionError("recompute on cuda")
        print("ok")
    ''')
    run_cuda_script(code)


def test_device_arrays_stay_on_the_device_through_the_whole_stack():
    """Device arrays in (x, state, parameters: what the torch bridge hands over from CUDA tensors): every
    output and gradient comes back as a device array equal to the CPU's, and nothing but the 4-byte
    finiteness flags is copied to the host - no activation, weight or gradient makes a round trip.
    lstm, gru and a user's variant; two layers, both directions, batch_first, lengths and every option."""
    code = user_variant_source("user_dev") + textwrap.dedent('''
        import numpy as np
        from numba import cuda
        import lstmlab
        Dev = type(cuda.to_device(np.zeros(1)))
        plain = Dev.copy_to_host
        copied = []
        def counting(self, *a, **k):
            copied.append(tuple(self.shape))
            return plain(self, *a, **k)
        for name in ("lstm", "gru", "user_dev"):
            for kw in ({}, dict(bidirectional=True, num_layers=2, batch_first=True),
                       dict(num_layers=2, dropout=0.3, weight_drop=0.3, zoneout=0.2, recurrent_dropout=0.2)):
                cpu = lstmlab.RNN(name, 3, 4, dtype=np.float64, seed=1, **kw)
                gpu = lstmlab.RNN(name, 3, 4, dtype=np.float64, seed=1, device="cuda", **kw)
                rng = np.random.default_rng(0)
                n = cpu.num_layers * cpu.num_directions
                x = rng.standard_normal((3, 4, 3) if kw.get("batch_first") else (4, 3, 3))
                L = np.array([4, 2, 1])
                s0 = tuple(rng.standard_normal((n, 3, 4)) for _ in cpu.state_names)
                yc, fc, cc = cpu.forward(x, s0, L, rng=np.random.default_rng(3))
                dy = rng.standard_normal(yc.shape)
                ds = tuple(rng.standard_normal(f.shape) for f in fc)
                gc, dxc, dc = cpu.backward(cc, dy, ds)
                params = {k: cuda.to_device(v) for k, v in cpu.params.items()}
                xd, s0d = cuda.to_device(x), tuple(cuda.to_device(s) for s in s0)
                dyd, dsd = cuda.to_device(dy), tuple(cuda.to_device(d) for d in ds)
                copied.clear()
                Dev.copy_to_host = counting
                try:
                    yg, fg, cg = gpu._forward(xd, s0d, L, None, np.random.default_rng(3), params)
                    gg, dxg, dg = gpu.backward(cg, dyd, dsd)
                finally:
                    Dev.copy_to_host = plain
                assert copied and set(copied) == {(1,)}, (name, kw, copied)
                outs = [yg, dxg, *fg, *dg, *gg.values()]
                assert all(isinstance(o, Dev) for o in outs), (name, kw)
                e = max([np.abs(yc - yg.copy_to_host()).max(), np.abs(dxc - dxg.copy_to_host()).max()]
                        + [np.abs(a - b.copy_to_host()).max() for a, b in zip(fc + dc, fg + dg)]
                        + [np.abs(gc[k] - gg[k].copy_to_host()).max() for k in gc])
                assert e < 1e-12, (name, kw, e)
        bad = cuda.to_device(np.full((2, 1, 3), np.nan))
        try:
            gpu._forward(bad, None, None, None, None, params)
        except ValueError as exc:
            assert "x: contains NaN or Inf" in str(exc), exc
        else:
            raise AssertionError("NaN accepted")
        print("ok")
    ''')
    run_cuda_script(code)


@pytest.mark.skipif(os.environ.get("LSTMLAB_TEST_REAL_CUDA") != "1", reason="needs a GPU and a CUDA build of torch")
def test_torch_module_on_cuda_tensors_matches_the_cpu():
    """A torch module moved to the GPU: CUDA tensors in, CUDA tensors out, gradients on the parameters' device,
    equal to the same module on the CPU."""
    code = textwrap.dedent('''
        import torch
        import lstmlab.torch as lt
        for name in ("lstm", "gru"):
            torch.manual_seed(0)
            cpu = lt.Recurrent(name, 3, 5, num_layers=2, bidirectional=True, dtype=torch.float64)
            gpu = lt.Recurrent(name, 3, 5, num_layers=2, bidirectional=True, dtype=torch.float64).cuda()
            gpu.load_state_dict(cpu.state_dict())
            x = torch.randn(6, 4, 3, dtype=torch.float64)
            xg = x.cuda().requires_grad_()
            yc, _ = cpu(x.requires_grad_())
            yg, _ = gpu(xg)
            assert yg.is_cuda and torch.allclose(yc, yg.cpu(), atol=1e-10)
            yc.pow(2).sum().backward()
            yg.pow(2).sum().backward()
            assert xg.grad.is_cuda and torch.allclose(x.grad, xg.grad.cpu(), atol=1e-10)
            for (n, a), b in zip(cpu.named_parameters(), gpu.parameters()):
                assert b.grad.is_cuda and torch.allclose(a.grad, b.grad.cpu(), atol=1e-10), n
        try:
            gpu(torch.randn(6, 4, 3, dtype=torch.float64))
        except RuntimeError as exc:
            assert "input: on cpu" in str(exc), exc
        else:
            raise AssertionError("a CPU input reached a CUDA module")
        print("ok")
    ''')
    run_cuda_script(code)


def test_regularisation_options_on_cuda_match_the_cpu():
    """Dropout and weight drop act around the kernels, recurrent dropout and zoneout inside them: the same masks
    give the same results on CUDA, step and persistent kernels, for lstm, gru and a user's (derived-backward)
    variant."""
    code = user_variant_source("user_zone") + textwrap.dedent('''
        import numpy as np
        import lstmlab
        zone = {"lstm": {"c": 0.5, "h": 0.2}, "gru": 0.3, "user_zone": 0.3}
        for name in ("lstm", "gru", "user_zone"):
            for kernels in ("step", "persistent"):
                kw = dict(num_layers=2, dropout=0.3, weight_drop=0.4, recurrent_dropout=0.3, zoneout=zone[name],
                          dtype=np.float64, seed=2)
                cpu = lstmlab.RNN(name, 3, 4, **kw)
                gpu = lstmlab.RNN(name, 3, 4, device="cuda", cuda_kernels=kernels, **kw)
                gpu.set_params(cpu.params)
                x = np.random.default_rng(0).standard_normal((4, 3, 3))
                L = np.array([4, 3, 2])
                yc, fc, cc = cpu.forward(x, lengths=L, rng=np.random.default_rng(5))
                yg, fg, cg = gpu.forward(x, lengths=L, rng=np.random.default_rng(5))
                gc, dxc, dc = cpu.backward(cc, np.ones_like(yc), tuple(np.ones_like(f) for f in fc))
                gg, dxg, dg = gpu.backward(cg, np.ones_like(yc), tuple(np.ones_like(f) for f in fc))
                assert np.abs(yc - yg).max() < 1e-12 and np.abs(dxc - dxg).max() < 1e-12, name
                assert max(np.abs(a - b).max() for a, b in zip(fc + dc, fg + dg)) < 1e-12, name
                assert max(np.abs(gc[k] - gg[k]).max() for k in gc) < 1e-12, name
                ye = cpu.eval().forward(x)[0]  # eval: zoneout's expectation, on both backends
                assert not np.allclose(yc, ye) and np.abs(ye - gpu.eval().forward(x)[0]).max() < 1e-12
        print("ok")
    ''')
    run_cuda_script(code)


def test_forward_only_variant_runs_on_cuda():
    """A derived backward compiles for CUDA too."""
    code = user_variant_source("fo_cuda") + textwrap.dedent('''
        import numpy as np
        import lstmlab
        a = lstmlab.RNN("fo_cuda", 3, 4, dtype=np.float64)
        b = lstmlab.RNN("fo_cuda", 3, 4, dtype=np.float64, device="cuda")
        b.set_params(a.params)
        x = np.random.default_rng(0).standard_normal((3, 2, 3))
        ya, _, ca = a.forward(x); yb, _, cb = b.forward(x)
        ga, _, _ = a.backward(ca, np.ones_like(ya)); gb, _, _ = b.backward(cb, np.ones_like(yb))
        assert np.abs(ya - yb).max() < 1e-12
        assert max(np.abs(ga[k] - gb[k]).max() for k in ga) < 1e-12
        print("ok")
    ''')
    run_cuda_script(code)


def test_missing_gpu_is_a_clear_error():
    """Without the simulator and without a GPU, device='cuda' says what is missing."""
    if os.environ.get("LSTMLAB_TEST_REAL_CUDA") == "1":
        pytest.skip("a GPU is present")
    code = ("import lstmlab\n"
            "from lstmlab.cuda import CudaUnavailable\n"
            "try:\n    lstmlab.RNN('lstm', 2, 3, device='cuda')\n"
            "except CudaUnavailable as exc:\n    print('ERR', exc)\n"
            "else:\n    print('GPU')\n")
    rc = _run_without_simulator(code)
    assert rc.returncode == 0, rc.stderr[-2000:]
    if rc.stdout.startswith("GPU"):
        pytest.skip("a GPU is present")
    assert "no usable NVIDIA GPU" in rc.stdout and "NUMBA_ENABLE_CUDASIM" in rc.stdout, rc.stdout


def test_persistent_kernel_falls_back_when_weights_do_not_fit():
    code = textwrap.dedent('''
        import warnings
        import numpy as np
        import lstmlab
        layer = lstmlab.RNN("lstm", 2, 64, device="cuda", cuda_kernels="persistent")
        x = np.zeros((2, 1, 2), np.float32)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            y, _, ctx = layer.forward(x)
            layer.forward(x)
        msgs = [str(m.message) for m in w if "persistent CUDA kernel" in str(m.message)]
        assert len(msgs) == 1 and "on-chip limit" in msgs[0] and "step kernels" in msgs[0], msgs
        assert ctx.tapes[0].plan is None
        cpu = lstmlab.RNN("lstm", 2, 64)
        cpu.set_params(layer.params)
        assert np.abs(cpu.forward(x)[0] - y).max() < 1e-6
        print("ok")
    ''')
    run_cuda_script(code)


def test_bad_device_name():
    with pytest.raises(ValueError, match="device: expected 'cpu' or 'cuda'"):
        lstmlab.RNN("lstm", 2, 3, device="gpu")
    with pytest.raises(ValueError, match="cuda_kernels: expected 'step' or 'persistent'"):
        lstmlab.RNN("lstm", 2, 3, cuda_kernels="fused")


def test_tiled_and_simple_matmul_match_numpy():
    code = textwrap.dedent('''
        import numpy as np
        from numba import cuda
        from lstmlab.cuda import kernels
        rng = np.random.default_rng(0)
        for (M, K, N) in [(3, 5, 7), (9, 17, 2)]:
            for ta in (False, True):
                for tb in (False, True):
                    A = rng.standard_normal((K, M) if ta else (M, K))
                    B = rng.standard_normal((N, K) if tb else (K, N))
                    want = (A.T if ta else A) @ (B.T if tb else B)
                    for tiled in (True, False):
                        C = cuda.to_device(np.ones((M, N)))
                        kernels.matmul(cuda, cuda.to_device(A), cuda.to_device(B), C, ta, tb, accumulate=True,
                                       tiled=tiled)
                        assert np.allclose(C.copy_to_host(), want + 1.0), (M, K, N, ta, tb, tiled)
        print("ok")
    ''')
    run_cuda_script(code)


def test_import_lstmlab_never_needs_cuda_and_missing_numba_cuda_is_named():
    code = ("import sys\n"
            "import lstmlab, numpy as np\n"
            "lstmlab.RNN('lstm', 2, 3).forward(np.zeros((2, 1, 2), np.float32))\n"
            "assert 'numba.cuda' not in sys.modules and 'lstmlab.cuda' not in sys.modules\n"
            "sys.modules['numba.cuda'] = None  # as if numba-cuda were not installed\n"
            "from lstmlab.cuda import CudaUnavailable\n"
            "try:\n    lstmlab.RNN('lstm', 2, 3, device='cuda')\n"
            "except CudaUnavailable as exc:\n    print('ERR', exc)\n")
    rc = _run_without_simulator(code)
    assert rc.returncode == 0, rc.stderr[-2000:]
    assert "needs numba-cuda" in rc.stdout and 'pip install "lstmlab[cuda]"' in rc.stdout, rc.stdout
