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

__version__ = "0.1.0"



def _import_builtin_variants():
    """Import ``lstmlab.variants`` (registers the built-ins).

    Installed, ``variants/`` is mapped to ``lstmlab.variants``. Run from a source
    checkout's root (``python -m lstmlab ...`` puts the checkout first on
    ``sys.path``), the mapping is bypassed, so load the sibling folder by path.
    """
    import importlib
    import importlib.util
    import os
    import sys
    try:
        return importlib.import_module(__name__ + ".variants")
    except ModuleNotFoundError as exc:
        folder = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "variants")
        if exc.name != __name__ + ".variants" or not os.path.isfile(os.path.join(folder, "__init__.py")):
            raise
    spec = importlib.util.spec_from_file_location(__name__ + ".variants", os.path.join(folder, "__init__.py"),
                                                  submodule_search_locations=[folder])
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


variants = _import_builtin_variants()

__all__ = ["register", "unregister", "get", "get_spec", "names", "UnknownVariantError",
           "Variant", "Stage", "Product", "VariantError", "RNN", "gradcheck", "GradcheckReport",
           "__version__"]
