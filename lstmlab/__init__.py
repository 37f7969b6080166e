"""lstmlab: gated recurrent cells compiled with Numba, exact gradients, your own variants."""
from .registry import register, get, get_spec, names, UnknownVariantError
from .variant import Variant, Stage, Product, VariantError

__version__ = "0.1.0"

from . import variants  # noqa: E402  (registers the built-ins)

__all__ = ["register", "get", "get_spec", "names", "UnknownVariantError",
           "Variant", "Stage", "Product", "VariantError", "__version__"]
