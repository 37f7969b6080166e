"""`lstmlab bench` and its PyTorch baselines (the timings themselves are not tested)."""
import subprocess
import sys

import numpy as np
import pytest

import lstmlab
from lstmlab.benchmark import compare, timing

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("variant", lstmlab.names())
def test_torch_baseline_computes_the_same_cell(variant):
    """The per-step PyTorch cell is the variant's own function, so the comparison is fair."""
    from lstmlab.benchmark.torch_cells import generic_forward
    layer = lstmlab.RNN(variant, 3, 5, dtype=np.float64, seed=7)
    x = np.random.default_rng(0).standard_normal((6, 2, 3))
    y, _, _ = layer.forward(x)
    p = {k.split(".")[-1]: v for k, v in layer.params.items()}
    np.testing.assert_allclose(generic_forward(variant, p, x), y, rtol=0, atol=1e-12)


def test_flops_of_lstm():
    # forward: 2 * T * B * (D*4H + H*4H); training: 3x
    assert timing.forward_flops("lstm", 10, 2, 3, 4) == 2 * 10 * 2 * (3 * 16 + 4 * 16)
    assert timing.train_flops("lstm", 10, 2, 3, 4) == 3 * timing.forward_flops("lstm", 10, 2, 3, 4)


def test_bench_command_tiny(tmp_path):
    out = tmp_path / "bench.md"
    rc = subprocess.run([sys.executable, "-m", "lstmlab", "bench", "--variants", "lstm,peephole",
                         "--sizes", "4,2,3,4", "--threads", "1", "--repeats", "2", "--markdown", str(out)],
                        capture_output=True, text=True, timeout=600)
    assert rc.returncode == 0, rc.stderr
    assert "torch.nn.LSTM" in rc.stdout and "torch.jit.script cell" in rc.stdout
    text = out.read_text()
    assert "| 1 | lstm | 4, 2, 3, 4 |" in text and "SGEMM peak" in text and "Command: `lstmlab bench" in text


def test_bench_says_when_torch_is_missing():
    code = ("import sys; sys.modules['torch'] = None; from lstmlab.cli import main; "
            "sys.exit(main(['bench', '--sizes', 'quick']))")
    rc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert rc.returncode == 2
    assert "torch is not installed" in rc.stderr and "--against none" in rc.stderr


@pytest.mark.parametrize("arg,text,match", [
    ("--sizes", "100,32,1", "--sizes: expected 'T,B,D,H'"),
    ("--threads", "0", "--threads: expected positive ints"),
    ("--variants", "lstmm", "did you mean 'lstm'"),
])
def test_bench_bad_input(arg, text, match):
    rc = subprocess.run([sys.executable, "-m", "lstmlab", "bench", "--against", "none", arg, text],
                        capture_output=True, text=True, timeout=120)
    assert rc.returncode == 2 and match in rc.stderr, rc.stderr


def test_parse_sizes_named():
    assert compare.parse_sizes("quick;fastrnns") == timing.QUICK_SIZES + [timing.FASTRNNS_SIZE]


def test_options_benchmark_tiny():
    from lstmlab.benchmark import options
    lines = []
    rows = options.run(["gru"], [(5, 2, 3, 4)], repeats=1, echo=lines.append)
    (variant, size, ms), = rows
    opts = {"dropout", "weight_drop", "recurrent_dropout", "zoneout"}
    assert variant == "gru" and set(ms) == {"plain", "torch.nn.GRU dropout", "semeniuta_dropout"} | opts | {
        f"torch cell {k}" for k in opts}
    assert all(t > 0 for t in ms.values()) and "zoneout" in lines[0] and "x plain" in lines[0]
    assert "torch cell zoneout / zoneout" in lines[0]


def test_options_benchmark_times_the_layer_norm_forms_a_variant_takes():
    from lstmlab.benchmark import options
    assert set(options._layer_norm_forms("gru")) == {"layer_norm xh"}  # no memory cell, no x + a sums
    assert set(options._layer_norm_forms("lstm")) == {"layer_norm xh", "layer_norm xh+cell", "layer_norm gates"}
    assert options._projects("lstm") and options._projects("rnn") and not options._projects("gru")
    assert options._has_candidate("gru") and not options._has_candidate("rnn")


def test_the_torch_option_cells_compute_the_plain_cell_without_masks():
    """Each option's PyTorch cell runs forward and backward; an unknown option is refused."""
    import torch

    from lstmlab.benchmark import torch_cells
    for option in torch_cells.TORCH_OPTIONS:
        torch.manual_seed(0)
        torch_cells.option_cell("lstm", option, 4, 2, 3, 5, p=0.0)()
    with pytest.raises(ValueError, match="option: expected one of"):
        torch_cells.option_cell("lstm", "layer_norm", 4, 2, 3, 5)


def test_bench_options_command_tiny(tmp_path):
    """lstmlab bench --options: every option, layer-norm form and projection the variant takes, as Markdown."""
    out = tmp_path / "options.md"
    rc = subprocess.run([sys.executable, "-m", "lstmlab", "bench", "--options", "--against", "none", "--variants",
                         "rnn", "--sizes", "4,2,3,4", "--threads", "1", "--repeats", "1", "--markdown", str(out)],
                        capture_output=True, text=True, timeout=600)
    assert rc.returncode == 0, rc.stderr
    text = out.read_text()
    assert "| rnn | 4, 2, 3, 4 |" in text and "layer_norm xh" in text and "proj_size H/2" in text, text
    assert "dropout" in text and "Command: `lstmlab bench --options" in text
