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

from . import variants  # noqa: E402  (registers the built-ins)

__all__ = ["register", "unregister", "get", "get_spec", "names", "UnknownVariantError",
           "Variant", "Stage", "Product", "VariantError", "RNN", "gradcheck", "GradcheckReport",
           "__version__"]
