"""lstmlab: gated recurrent cells compiled with Numba, exact gradients, your own variants.

Quick start::

    import numpy as np, lstmlab
    layer = lstmlab.RNN("peephole", input_size=8, hidden_size=32)
    y, state, ctx = layer.forward(np.zeros((100, 4, 8), np.float32))
    grads, dx, dstate0 = layer.backward(ctx, np.ones_like(y))
"""
from . import variants  # noqa: F401 - registers the built-ins
from .config import set_num_threads
from .gradcheck import GradcheckReport, gradcheck
from .layer import RNN
from .registry import UnknownVariantError, get, get_spec, names, register, unregister
from .variant import Product, Stage, Variant, VariantError

__version__ = "0.1.0"

__all__ = ["register", "unregister", "get", "get_spec", "names", "UnknownVariantError",
           "Variant", "Stage", "Product", "VariantError", "RNN", "gradcheck", "GradcheckReport",
           "set_num_threads",
           "__version__"]
