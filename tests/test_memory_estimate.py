"""Sizes the machine cannot hold are refused up front, with the estimate and the memory available."""
import numpy as np
import pytest

import lstmlab
from lstmlab import memory
from lstmlab.cli import main
from lstmlab.training import TrainConfig


def test_layer_estimate_counts_the_tape():
    spec = lstmlab.get_spec("lstm")
    est = memory.layer_bytes(spec, D=3, H=8, T=10, B=2, itemsize=4)
    # tape: Z (T+1)B*2H + S T*B*5H + P T*B*H + XP chunk (=T here) B*4H + Y T*B*H
    assert est["tape"] == 4 * (11 * 2 * 16 + 10 * 2 * 40 + 10 * 2 * 8 + 10 * 2 * 32 + 10 * 2 * 8)
    assert est["parameters"] == 4 * (32 * 3 + 32 + 32 * 8)
    assert est["total"] == est["parameters"] + est["tape"] + est["backward"]


def test_a_layer_too_big_for_the_machine_is_refused(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 10 * 2 ** 20)
    with pytest.raises(MemoryError, match=r"hidden_size=4096.*needs about .* GiB, but only 10.0 MiB"):
        lstmlab.RNN("lstm", 8, 4096)


def test_a_forward_too_big_is_refused_before_allocating(monkeypatch):
    layer = lstmlab.RNN("lstm", 1, 64)
    monkeypatch.setattr(memory, "available_bytes", lambda: 10 * 2 ** 20)
    with pytest.raises(MemoryError, match="forward of x with T=4096, B=64.*tape.*recompute=K"):
        layer.forward(np.zeros((4096, 64, 1), np.float32))


def test_train_config_and_dry_run(monkeypatch, capsys):
    assert main(["train", "--dry-run", "--hidden", "16"]) == 0
    assert "memory estimate:" in capsys.readouterr().out
    monkeypatch.setattr(memory, "available_bytes", lambda: 2 ** 20)
    with pytest.raises(MemoryError, match="the run .*hidden=512"):
        TrainConfig(hidden=512).validate()
    assert main(["train", "--dry-run", "--hidden", "512"]) == 2
    assert "only 1.0 MiB of memory is available" in capsys.readouterr().err
