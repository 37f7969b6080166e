"""The example plugin package under variants/ installs and its variant works through the entry point."""
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "variants" / "lstmlab-example-variants"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    target = tmp_path_factory.mktemp("plugin")
    rc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                         "--target", str(target), str(PKG)], capture_output=True, text=True, timeout=300)
    if rc.returncode != 0 and "setuptools" in rc.stderr:
        pytest.skip(f"cannot build the example without setuptools: {rc.stderr[-300:]}")
    assert rc.returncode == 0, rc.stderr
    return target


def _run(target, *args, **kw):
    import os
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=600, **kw)


def test_plugin_variant_is_found_and_passes_gradcheck(installed):
    code = ("import lstmlab, numpy as np\n"
            "assert 'minimal_rnn' in lstmlab.names(), lstmlab.names()\n"
            "cls = lstmlab.get('minimal_rnn')\n"
            "assert cls.__module__ == 'lstmlab_example_variants.minimal_rnn'\n"
            "assert lstmlab.get_spec('minimal_rnn').saved, 'the derived backward saves its activations'\n"
            "rep = lstmlab.gradcheck('minimal_rnn', lengths=[4, 2], num_layers=2)\n"
            "assert rep.passed, rep\n"
            "print('ok', rep.max_abs_error)\n")
    rc = _run(installed, "-c", code)
    assert rc.returncode == 0 and rc.stdout.startswith("ok"), rc.stderr


def test_plugin_variant_trains_from_the_command_line(installed, tmp_path):
    rc = _run(installed, "-m", "lstmlab", "train", "--task", "adding", "-T", "20", "--variant", "minimal_rnn",
              "--hidden", "32", "--optimizer", "adam", "--lr", "0.01", "--batch-size", "32", "--steps", "400",
              "--eval-every", "100", "--no-progress", "--out", str(tmp_path / "run"))
    assert rc.returncode == 0, rc.stderr
    import json
    res = json.loads((tmp_path / "run" / "result.json").read_text())
    assert res["final"]["loss"] < 0.5 * res["final"]["baseline"], res["final"]
