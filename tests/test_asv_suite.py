"""The asv suite imports and a tiny subset of it runs (the full suite is for asv)."""
import importlib
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1] / "asv_benchmarks"


@pytest.fixture(scope="module")
def suite():
    sys.path.insert(0, str(ROOT))
    try:
        mods = {n: importlib.import_module(f"benchmarks.{n}") for n in ("bench_speed", "bench_memory", "bench_compile")}
        yield mods
    finally:
        sys.path.remove(str(ROOT))


def test_config_parses_and_points_at_the_suite():
    text = re.sub(r"^\s*//.*$", "", (ROOT / "asv.conf.json").read_text(), flags=re.M)
    conf = json.loads(text)
    assert conf["version"] == 1 and conf["project"] == "lstmlab"
    assert (ROOT / conf["benchmark_dir"] / "__init__.py").is_file()
    assert (ROOT / conf["repo"] / "pyproject.toml").is_file()


def test_benchmarks_are_discoverable(suite):
    names = {n for m in suite.values() for cls in vars(m).values() if isinstance(cls, type)
             for n in vars(cls) if n.split("_")[0] in ("time", "track", "peakmem")}
    for want in ("time_forward", "time_forward_backward", "peakmem_train_step",
                 "track_first_call_cold_seconds", "track_first_result_warm_seconds", "track_peak_over_must_keep"):
        assert want in names


def test_tiny_subset_runs(suite):
    speed = suite["bench_speed"]
    b = speed.AnchorSizes()
    b.setup("gru", "5,2,3,4")
    b.time_forward("gru", "5,2,3,4")
    b.time_forward_backward("gru", "5,2,3,4")
    r = speed.Recompute()
    r.setup(2, "5,2,3,4")
    r.time_forward_backward(2, "5,2,3,4")
    g = speed.Regularisation()
    for option in speed.Regularisation.params[1]:
        if option.startswith("layer_norm"):  # their kernels compile in each process (tens of seconds)
            continue
        if option == "proj_size":  # the GRU reads h pointwise: asv skips it
            with pytest.raises(NotImplementedError, match="proj_size"):
                g.setup("gru", option, "5,2,3,4")
            continue
        g.setup("gru", option, "5,2,3,4")
        g.time_forward_backward("gru", option, "5,2,3,4")
    m = suite["bench_memory"].LongSequence()
    m.setup(None, "20,2,3,4")
    m.peakmem_train_step(None, "20,2,3,4")
    assert "lstm" in speed.EveryVariant.params[0] and "(100, 64, 512, 512)" not in speed._ANCHORS
    assert "100,64,512,512" in speed._ANCHORS


def test_must_keep_bytes_counts_saved_values_and_states():
    from lstmlab.benchmark.memory import must_keep_bytes
    # lstm saves 5 vectors and has 2 states; plus x (D), y and dy (2H)
    assert must_keep_bytes("lstm", 10, 2, 3, 4) == 10 * 2 * ((5 + 2) * 4 + 3 + 8) * 4
    assert np.isclose(must_keep_bytes("lstm", 10, 2, 3, 4, itemsize=8), 2 * must_keep_bytes("lstm", 10, 2, 3, 4))
