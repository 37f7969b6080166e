"""Registry: names, globs, suggestions, duplicates, plugins, contract errors."""
from importlib import metadata

import numpy as np
import pytest

import lstmlab
from lstmlab import registry
from lstmlab.scalar import tanh
from lstmlab.variant import Product, Stage, Variant, VariantError
from lstmlab.variants import LSTM

BUILTINS = ["cifg", "fgr", "gru", "janet", "lstm", "mgu", "nfg", "niaf", "nig", "noaf", "nog", "np", "peephole"]


def test_builtins_and_glob():
    assert set(BUILTINS) <= set(lstmlab.names())
    assert lstmlab.names("n*") == ["nfg", "niaf", "nig", "noaf", "nog", "np"]
    assert lstmlab.names("zz*") == []
    for n in BUILTINS:
        cls = lstmlab.get(n)
        assert cls.reference and cls.__doc__, n


def test_unknown_name_suggests():
    with pytest.raises(lstmlab.UnknownVariantError, match="did you mean 'peephole'"):
        lstmlab.get("peephol")
    with pytest.raises(TypeError, match="registered name"):
        lstmlab.get(3)


def test_duplicate_needs_override():
    class Mine(LSTM):
        pass
    with pytest.raises(ValueError, match="already registered"):
        lstmlab.register(Mine, name="lstm")
    lstmlab.register(Mine, name="tmp_mine")
    try:
        class Mine2(LSTM):
            pass
        lstmlab.register(Mine2, name="tmp_mine", override=True)
        assert lstmlab.get("tmp_mine") is Mine2
    finally:
        lstmlab.unregister("tmp_mine")


class _EP:
    def __init__(self, name, value, obj=None, exc=None):
        self.name, self.value, self._obj, self._exc = name, value, obj, exc

    def load(self):
        if self._exc:
            raise self._exc
        return self._obj


def test_plugins_load_lazily_and_broken_one_warns(monkeypatch):
    class Plugged(LSTM):
        reference = "plugin"
    eps = [_EP("plugged", "pkg:Plugged", Plugged), _EP("broken", "badpkg:Cell", exc=ImportError("no badpkg"))]
    monkeypatch.setattr(metadata, "entry_points", lambda group: eps if group == "lstmlab.variants" else [])
    monkeypatch.setattr(registry.VARIANTS, "_plugins_loaded", False)
    with pytest.warns(RuntimeWarning, match="'broken'.*no badpkg"):
        assert "plugged" in lstmlab.names()
    assert lstmlab.get("plugged") is Plugged
    lstmlab.unregister("plugged")


def test_import_survives_broken_plugin(tmp_path):
    """A broken plugin installed in the environment never breaks `import lstmlab`."""
    import subprocess
    import sys
    import textwrap
    dist = tmp_path / "brokenplug-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[lstmlab.variants]\nbadcell = brokenplug_missing:Cell\n")
    code = textwrap.dedent("""
        import warnings, lstmlab
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            names = lstmlab.names()
        print("lstm" in names, any("badcell" in str(x.message) for x in w))
    """)
    env = dict(__import__("os").environ, PYTHONPATH=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["True", "True"]


def _bad(**attrs):
    base = dict(inputs=("i",), state=("h",), saved=())
    base.update(attrs)
    return type("Bad", (Variant,), base)


@pytest.mark.parametrize("cls,match", [
    (_bad(inputs=()), "at least one gate block"),
    (_bad(state=()), "at least one state"),
    (_bad(inputs=("i", "i")), "duplicate"),
    (_bad(inputs="i"), "tuple of identifier"),
    (_bad(), "no such static method"),
    (_bad(forward=staticmethod(lambda x_i, a_i, h: (h,)), backward=staticmethod(lambda d_h: (0.0,))),
     "must return 3 gradients"),
    (_bad(forward=staticmethod(lambda x_i, a_q, h: (h,)), backward=staticmethod(lambda d_h: (0.0,) * 3)),
     "argument 'a_q' names nothing"),
    (_bad(forward=staticmethod(lambda x_i, a_i, h: (h, h)), backward=staticmethod(lambda d_h: (0.0,) * 3)),
     "tuple of 1 values"),
    (_bad(forward=staticmethod(lambda x_i, a_i, h: (h,)), backward=staticmethod(lambda d_h: (0.0,) * 3),
          stages=(Stage(products=(Product(("q",), ("i",)),), outputs=("h",)),)), "reads 'q'"),
    (_bad(forward=staticmethod(lambda x_i, a_i, h: (h,)), backward=staticmethod(lambda d_h: (0.0,) * 3),
          forget_block="f"), "forget_block"),
    (_bad(forward=staticmethod(lambda x_i, a_i, h: (h,)), backward=staticmethod(lambda zz: (0.0,) * 3)),
     "'zz' is not available"),
])
def test_contract_errors_caught_at_registration(cls, match):
    with pytest.raises(VariantError, match=match):
        lstmlab.register(cls, name="tmp_bad")
    assert "tmp_bad" not in lstmlab.names()


def test_override_recompiles_a_changed_class():
    """Re-registering a changed class runs its new maths, not the kernels compiled before."""
    class Scaled(Variant):
        """h_t = SCALE * tanh(x_n + a_n)."""
        inputs, state, gated = ("n",), ("h",), False
        SCALE = 1.0

        @staticmethod
        def forward(x_n, a_n):
            return (SCALE * tanh(x_n + a_n),)  # noqa: F821 - a class constant, bound by lstmlab

    x = np.random.default_rng(0).standard_normal((3, 2, 4))
    lstmlab.register(Scaled, name="tmp_scaled")
    try:
        y1, _, _ = lstmlab.RNN("tmp_scaled", 4, 5, dtype=np.float64, seed=0).forward(x)
        Scaled.SCALE = 0.5
        lstmlab.register(Scaled, name="tmp_scaled", override=True)
        y2, _, _ = lstmlab.RNN("tmp_scaled", 4, 5, dtype=np.float64, seed=0).forward(x)
    finally:
        lstmlab.unregister("tmp_scaled")
    assert np.abs(y1).max() > 0.1
    np.testing.assert_allclose(y2[0], 0.5 * y1[0], rtol=1e-12)


# -- one generic registry serves variants, tasks and reproductions --------------------------------

def _registries():
    from lstmlab.repro import REPRODUCTIONS, Reproduction
    from lstmlab.tasks import TASKS, Adding
    return {
        "variant": (registry.VARIANTS, "peephol", "peephole", lambda: type("Plugged", (LSTM,), {"reference": "x"})),
        "task": (TASKS, "addin", "adding", lambda: type("PluggedTask", (Adding,), {})),
        "reproduction": (REPRODUCTIONS, "le2016", "le2015",
                         lambda: type("PluggedRepro", (Reproduction,), {"configs": lambda self, budget, seeds: []})),
    }


@pytest.fixture(params=["variant", "task", "reproduction"])
def kind(request):
    return request.param


def test_the_three_registries_are_one_class(kind):
    reg, typo, close, _ = _registries()[kind]
    assert type(reg) is registry.Registry and reg.kind == kind
    assert reg.group == f"lstmlab.{kind}s"
    assert close in reg.names() and reg.names(close[:3] + "*") == [n for n in reg.names() if n.startswith(close[:3])]
    with pytest.raises(KeyError, match=f"unknown {kind} '{typo}'; did you mean '{close}'") as e:
        reg.get(typo)
    assert isinstance(e.value, reg.error) and isinstance(e.value, registry.UnknownNameError)


def test_register_override_unregister(kind):
    reg, _, close, make = _registries()[kind]
    first, second = make(), make()
    assert reg.register("tmp_entry")(first) is first      # decorator form
    try:
        assert reg.get("tmp_entry") is first and "tmp_entry" in reg.names("tmp_*")
        with pytest.raises(ValueError, match="already registered"):
            reg.register(second, name="tmp_entry")
        with pytest.raises(ValueError, match="already registered"):
            reg.register(second, name=close)
        reg.register(second, name="tmp_entry", override=True)
        assert reg.get("tmp_entry") is second
        with pytest.raises(TypeError, match="subclass"):
            reg.register(int, name="tmp_int")
    finally:
        reg.unregister("tmp_entry")
    assert "tmp_entry" not in reg.names()


def test_plugins_load_lazily_and_a_broken_one_warns(kind, monkeypatch):
    reg, _, _, make = _registries()[kind]
    cls = make()
    eps = [_EP("plugged", "pkg:Plugged", cls), _EP("broken", "badpkg:Thing", exc=ImportError("no badpkg")),
           _EP("notaclass", "pkg:thing", object())]
    monkeypatch.setattr(metadata, "entry_points", lambda group: eps if group == reg.group else [])
    monkeypatch.setattr(reg, "_plugins_loaded", False)
    assert "plugged" not in reg._entries                   # nothing loads before a listing or lookup
    try:
        with pytest.warns(RuntimeWarning) as caught:
            assert "plugged" in reg.names()
        messages = " | ".join(str(w.message) for w in caught)
        assert "'broken'" in messages and "no badpkg" in messages and "'notaclass'" in messages
        assert reg.get("plugged") is cls
    finally:
        reg.unregister("plugged")
