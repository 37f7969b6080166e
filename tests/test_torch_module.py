"""lstmlab.torch: the nn.Module for every registered variant, against torch's own modules and autograd."""
import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import lstmlab
import lstmlab.torch as lt

VARIANTS = lstmlab.names()


@pytest.mark.parametrize("variant", VARIANTS)
def test_gradcheck_for_every_registered_variant(variant):
    torch.manual_seed(0)
    m = lt.Recurrent(variant, 2, 3, dtype=torch.float64)
    x = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    names = m.spec.state
    state = tuple(0.3 * torch.randn(1, 2, 3, dtype=torch.float64, requires_grad=True) for _ in names)
    params = list(m.parameters())

    def f(x, *rest):
        st = rest[:len(names)]
        y, fin = m(x, st[0] if len(st) == 1 else st)
        fin = (fin,) if isinstance(fin, torch.Tensor) else fin
        return (y, *fin)

    assert torch.autograd.gradcheck(f, (x, *state), eps=1e-6, atol=1e-6)
    # and the parameters' gradients, against finite differences of the loss
    y, _ = m(x.detach(), state[0].detach() if len(names) == 1 else tuple(s.detach() for s in state))
    w = torch.randn_like(y)
    (y * w).sum().backward()
    for p in params:
        g = p.grad.clone()
        flat = p.data.view(-1)
        for i in range(0, flat.numel(), max(1, flat.numel() // 4)):
            old = flat[i].item()
            vals = []
            for s in (1, -1):
                flat[i] = old + s * 1e-6
                with torch.no_grad():
                    yy, _ = m(x.detach(), state[0].detach() if len(names) == 1 else
                              tuple(s_.detach() for s_ in state))
                vals.append(float((yy * w).sum()))
            flat[i] = old
            assert abs((vals[0] - vals[1]) / 2e-6 - g.view(-1)[i].item()) < 1e-5


def _torch_twin(kind, module, **kw):
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN, "irnn": torch.nn.RNN}[kind]
    extra = {"nonlinearity": "relu"} if kind == "irnn" else {}
    ref = cls(module.input_size, module.hidden_size, module.num_layers, bidirectional=module.bidirectional,
              batch_first=module.batch_first, **extra, **kw)
    return ref


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn", "irnn"])
def test_torch_weights_give_torch_outputs_and_gradients(kind):
    torch.manual_seed(1)
    m = lt.module_class(kind)(3, 5, num_layers=2, bidirectional=True, batch_first=True)
    ref = _torch_twin(kind, m)
    m.load_state_dict(ref.state_dict())
    x = torch.randn(4, 7, 3)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, sa = m(xa)
    yb, sb = ref(xb)
    assert torch.allclose(ya, yb, atol=1e-5)
    sa = sa if isinstance(sa, tuple) else (sa,)
    sb = sb if isinstance(sb, tuple) else (sb,)
    for a, b in zip(sa, sb):
        assert torch.allclose(a, b, atol=1e-5)
    w = torch.randn_like(ya)
    ((ya * w).sum() + sum(s.sum() for s in sa)).backward()
    ((yb * w).sum() + sum(s.sum() for s in sb)).backward()
    assert torch.allclose(xa.grad, xb.grad, atol=1e-4)
    ours = dict(m.named_parameters())
    theirs = dict(ref.named_parameters())
    assert torch.allclose(ours["layer1_reverse_R"].grad, theirs["weight_hh_l1_reverse"].grad, atol=1e-4)
    # and back: torch_state_dict() loads into torch's module with the same function
    ref2 = _torch_twin(kind, m)
    ref2.load_state_dict(m.torch_state_dict())
    assert torch.allclose(ref2(x)[0], ya.detach(), atol=1e-5)


def test_packed_sequences_as_torch():
    torch.manual_seed(2)
    m = lt.module_class("lstm")(2, 4)
    ref = torch.nn.LSTM(2, 4)
    m.load_state_dict(ref.state_dict())
    x = torch.randn(6, 3, 2)
    lengths = torch.tensor([3, 6, 2])
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    out, (h, c) = m(packed)
    out_ref, (h_ref, c_ref) = ref(packed)
    assert type(out).__name__ == "PackedSequence"
    assert torch.equal(out.batch_sizes, out_ref.batch_sizes) and torch.equal(out.sorted_indices,
                                                                             out_ref.sorted_indices)
    assert torch.allclose(out.data, out_ref.data, atol=1e-5)
    assert torch.allclose(h, h_ref, atol=1e-5) and torch.allclose(c, c_ref, atol=1e-5)
    ya, _ = pad_packed_sequence(out)
    yb, _ = pad_packed_sequence(out_ref)
    assert torch.allclose(ya, yb, atol=1e-5)


def test_a_torch_optimiser_trains_it_and_in_place_updates_are_seen():
    torch.manual_seed(3)
    m = lt.Recurrent("cifg", 2, 4)
    head = torch.nn.Linear(4, 1)
    opt = torch.optim.Adam(list(m.parameters()) + list(head.parameters()), lr=1e-2)
    x, target = torch.randn(5, 8, 2), torch.randn(8, 1)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        y, _ = m(x)
        loss = ((head(y[-1]) - target) ** 2).mean()
        loss.backward()
        opt.step()  # updates the parameters in place
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]
    fresh = lt.Recurrent("cifg", 2, 4)
    fresh.load_state_dict(m.state_dict())
    assert torch.equal(fresh(x)[0], m(x)[0])  # the updated values, not the first forward's


def test_dtype_state_dict_train_eval_and_unbatched():
    torch.manual_seed(4)
    m = lt.module_class("gru")(2, 3)
    x = torch.randn(5, 2)  # unbatched (T, D)
    y, h = m(x)
    assert y.shape == (5, 3) and h.shape == (1, 3)
    m.double()
    y64, _ = m(x.double())
    assert y64.dtype == torch.float64 and torch.allclose(y64.float(), y, atol=1e-6)
    m.eval()
    assert torch.equal(m(x.double())[0], y64)
    other = lt.module_class("gru")(2, 3, dtype=torch.float64)
    other.load_state_dict(m.state_dict())
    assert torch.equal(other(x.double())[0], y64)
    nob = lt.Recurrent("lstm", 2, 3, bias=False)
    assert all("_b" not in n for n, _ in nob.named_parameters()) and nob.layer0_b.abs().sum() == 0
    ref = torch.nn.LSTM(2, 3, bias=False)
    nob.load_state_dict(ref.state_dict())
    assert torch.allclose(nob(x)[0], ref(x)[0], atol=1e-5)


def test_nothing_mutates_the_callers_tensors():
    m = lt.Recurrent("lstm", 2, 3)
    x = torch.randn(4, 2, 2, requires_grad=True)
    h0, c0 = torch.randn(1, 2, 3), torch.randn(1, 2, 3)
    before = [t.detach().clone() for t in (x, h0, c0)]
    y, (h, c) = m(x, (h0, c0))
    y.sum().backward()
    assert all(torch.equal(a, b.detach()) for a, b in zip(before, (x, h0, c0)))


@pytest.mark.parametrize("call, err, msg", [
    (lambda m: m(torch.randn(3, 2, 2, dtype=torch.float64)), TypeError, "expected dtype torch.float32"),
    (lambda m: m(torch.randn(3, 2, 5)), ValueError, "input.size(-1) must be equal to input_size. Expected 2, got 5"),
    (lambda m: m(torch.randn(3, 2)), None, None),
    (lambda m: m(torch.randn(3, 2, 2), torch.zeros(1, 2, 3)), TypeError, "expects a tuple of 2 tensors (h, c)"),
    (lambda m: m(torch.randn(3, 2, 2), (torch.zeros(1, 4, 3), torch.zeros(1, 2, 3))), ValueError,
     "state h: expected size (1, 2, 3), got (1, 4, 3)"),
    (lambda m: m(np.zeros((3, 2, 2))), TypeError, "expected a torch.Tensor or PackedSequence"),
])
def test_bad_input_is_refused_by_name(call, err, msg):
    m = lt.Recurrent("lstm", 2, 3)
    if err is None:
        call(m)
        return
    with pytest.raises(err) as e:
        call(m)
    assert msg in str(e.value)


def test_dropout_and_weight_drop_follow_train_eval_and_torch_seed():
    torch.manual_seed(0)
    m = lt.Recurrent("gru", 3, 4, num_layers=2, dropout=0.5, weight_drop=0.3, dtype=torch.float64)
    x = torch.randn(6, 2, 3, dtype=torch.float64, requires_grad=True)
    torch.manual_seed(1)
    y1, _ = m(x)
    torch.manual_seed(1)
    y2, _ = m(x)
    y3, _ = m(x)
    assert torch.equal(y1, y2) and not torch.allclose(y1, y3)
    m.eval()
    ref = lt.Recurrent("gru", 3, 4, num_layers=2, dtype=torch.float64)
    ref.load_state_dict(m.state_dict())
    assert torch.equal(m(x)[0], ref(x)[0])  # eval: the deterministic cell
    m.train()

    def f(x, *params):  # the same masks at every call: gradcheck sees one sampled network
        torch.manual_seed(3)
        return m(x)[0]
    # the module's recurrent weights and biases as gradcheck inputs: it perturbs them in place, the module reads them
    rs = [p for n, p in m.named_parameters() if n.endswith("_R")]
    assert len(rs) == 4 and torch.autograd.gradcheck(f, (x, *rs), eps=1e-6, atol=1e-6)  # R and b_R of 2 layers
    with pytest.raises(ValueError, match=r"dropout: expected a probability in \[0, 1\) for variant 'lstm'"):
        lt.Recurrent("lstm", 2, 3, num_layers=2, dropout=1.5)


def test_a_one_layer_dropout_warns_once_not_per_dtype():
    import warnings
    with pytest.warns(UserWarning, match="num_layers=1"):
        m = lt.Recurrent("gru", 2, 3, dropout=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.double()(torch.zeros(3, 1, 2, dtype=torch.float64))  # a float64 layer is made: no second warning


def test_zoneout_follows_train_eval_and_torch_seed():
    torch.manual_seed(0)
    m = lt.Recurrent("lstm", 3, 4, zoneout={"c": 0.5, "h": 0.1}, dtype=torch.float64)
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    torch.manual_seed(1)
    y1, _ = m(x)
    torch.manual_seed(1)
    assert torch.equal(y1, m(x)[0]) and not torch.allclose(y1, m(x)[0])

    def f(x):
        torch.manual_seed(3)
        return m(x)[0]
    assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-6)
    m.eval()
    assert torch.equal(m(x)[0], m(x)[0])  # eval: zoneout's expectation, deterministic


def test_unsupported_options_say_so():
    with pytest.raises(NotImplementedError, match="runs on the CPU and on CUDA GPUs, got meta"):
        lt.Recurrent("lstm", 2, 3, device="meta")
    with pytest.raises(lstmlab.UnknownVariantError, match="lstm"):
        lt.Recurrent("lstn", 2, 3)


def test_importing_lstmlab_does_not_import_torch():
    import subprocess
    import sys
    code = "import sys, lstmlab; import lstmlab.training, lstmlab.repro; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_example_trains_a_user_variant_beside_nn_lstm():
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    p = subprocess.run([sys.executable, str(root / "examples" / "torch_custom_cell.py"), "--steps", "5", "--T", "10",
                        "--hidden", "8"], capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "forget_gated_rnn (lstmlab, in torch)" in p.stdout and "torch.nn.LSTM" in p.stdout
    assert p.stdout.count("held-out MSE") == 2


def test_tape_is_recycled_at_backward_unless_the_graph_is_kept():
    """Without retain_graph the forward's buffers go back at the backward (not when the graph is freed, often
    after the next forward); with retain_graph a second backward gives the same gradients."""
    torch.manual_seed(0)
    m = lt.Recurrent("lstm", 3, 4, dtype=torch.float64)
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    y, _ = m(x)
    y.sum().backward()
    assert y.grad_fn.tape.ctx.released
    x.grad = None
    y, _ = m(x)
    y.sum().backward(retain_graph=True)
    first = x.grad.clone()
    assert not y.grad_fn.tape.ctx.released
    x.grad = None
    y.sum().backward()
    assert torch.equal(first, x.grad) and y.grad_fn.tape.ctx.released
