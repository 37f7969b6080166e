"""lstmlab: gated recurrent cells compiled with Numba, exact gradients, your own variants.

Quick start::

    import numpy as np, lstmlab
    layer = lstmlab.RNN("peephole", input_size=8, hidden_size=32)
    y, state, ctx = layer.forward(np.zeros((100, 4, 8), np.float32))
    grads, dx, dstate0 = layer.backward(ctx, np.ones_like(y))
"""
from .registry import register, unregister, get, get_spec, names, UnknownVariantError
from .variant import Variant, Stage, Product, VariantError
from .layer import RNN
from .gradcheck import gradcheck, GradcheckReport
from .config import set_num_threads

__version__ = "0.1.0"



def _import_mapped(sub: str):
    """Import ``lstmlab.<sub>`` for the top-level folders shipped inside lstmlab.

    Installed, ``variants/`` is mapped to ``lstmlab.variants`` and ``paper_repro/``
    to ``lstmlab.paper_repro``. Run from a source checkout's root (``python -m
    lstmlab ...`` puts the checkout first on ``sys.path``), the mapping is
    bypassed, so load the sibling folder by path.
    """
    import importlib
    import importlib.util
    import os
    import sys
    try:
        return importlib.import_module(f"{__name__}.{sub}")
    except ModuleNotFoundError as exc:
        folder = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), sub)
        if exc.name != f"{__name__}.{sub}" or not os.path.isfile(os.path.join(folder, "__init__.py")):
            raise
    spec = importlib.util.spec_from_file_location(f"{__name__}.{sub}", os.path.join(folder, "__init__.py"),
                                                  submodule_search_locations=[folder])
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


variants = _import_mapped("variants")  # registers the built-ins

__all__ = ["register", "unregister", "get", "get_spec", "names", "UnknownVariantError",
           "Variant", "Stage", "Product", "VariantError", "RNN", "gradcheck", "GradcheckReport",
           "set_num_threads",
           "__version__"]
