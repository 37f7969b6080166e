"""Binding a variant's pointwise functions: names to values, and for each compiler.

Two jobs, both about the names a pointwise function uses:

* :func:`bind_arguments` resolves each argument of a forward or backward to
  what the engine passes for it (``(name, kind, key)``), with one rule for
  every stage function: a name the variant declares, else the argument's
  Python default, else a :class:`~lstmlab.variant.VariantError` saying what
  was available.
* :func:`bind_function` rebinds a function's globals so that class constants
  and static helpers shadow module globals, and swaps helpers for a
  compiler's versions (njit on the CPU, device functions on CUDA).
"""
from __future__ import annotations

import inspect
import types

from .variant import Variant, VariantError

__all__ = ["bind_arguments", "bind_function", "class_namespace"]


def bind_arguments(cls, fn, label: str, resolve, hint: str) -> tuple:
    """``((name, kind, key), ...)`` for each parameter of ``fn``, in order.

    ``resolve(name)`` returns ``(kind, key)`` for a name the variant
    provides, or None. An unresolved parameter with a default becomes
    ``(name, "fixed", float(default))`` (how Greff et al.'s variants drop a
    gate); without one, ``VariantError`` names the class, the function and
    the argument, followed by ``hint`` (what is available); ``label`` is the
    function's name in the class (``forward``).
    """
    out = []
    for a, prm in inspect.signature(fn).parameters.items():
        found = resolve(a)
        if found is not None:
            out.append((a, *found))
        elif prm.default is not inspect.Parameter.empty:
            out.append((a, "fixed", float(prm.default)))
        else:
            raise VariantError(f"{cls.__name__}.{label}: argument {a!r} {hint}")
    return tuple(out)


def class_namespace(cls) -> dict:
    """ALL-CAPS constants and static methods visible to the pointwise maths."""
    ns = {}
    for klass in reversed(cls.__mro__):
        if klass in (object, Variant):
            continue
        for key, val in vars(klass).items():
            if key.startswith("__"):
                continue
            if isinstance(val, staticmethod):
                ns[key] = val.__func__
            elif key.isupper() and isinstance(val, (bool, int, float)):
                ns[key] = val
    return ns


def bind_function(cls, fn, wrap=None, replace=None, _seen=None):
    """A copy of ``fn`` whose globals see the class namespace first.

    ``wrap`` turns each helper (a static method ``fn`` calls) into what the
    target needs (``numba.njit`` for the CPU); helpers are bound recursively.
    ``replace`` maps global helpers or modules (``math``) to the target's own
    versions, used as they are (the CPU's vectorisable sigmoid, for example).
    """
    _seen = {} if _seen is None else _seen
    replace = replace or {}
    ns = class_namespace(cls)
    glb = dict(fn.__globals__)
    for name in fn.__code__.co_names:
        if name in ns:
            val = ns[name]
        elif name.isupper() and name not in glb and hasattr(cls, name):
            raise VariantError(f"{cls.__name__}.{name} = {getattr(cls, name)!r}: {fn.__name__} reads it, but "
                               f"pointwise maths binds only bool, int and float constants")
        elif _replaceable(glb.get(name)) and glb[name] in replace:
            glb[name] = replace[glb[name]]
            continue
        elif wrap is not None and isinstance(glb.get(name), types.FunctionType):
            val = glb[name]  # a plain-Python helper such as lstmlab.scalar.sigmoid
        else:
            continue
        if isinstance(val, types.FunctionType):
            if val not in _seen:
                _seen[val] = None  # guard recursion
                bound = bind_function(cls, val, wrap, replace, _seen)
                _seen[val] = wrap(bound) if wrap else bound
            val = _seen[val]
        glb[name] = val
    new = types.FunctionType(fn.__code__, glb, fn.__name__, fn.__defaults__, fn.__closure__)
    new.__qualname__ = f"{cls.__qualname__}.{fn.__name__}"
    new.__doc__ = fn.__doc__
    return new


def _replaceable(val):
    return isinstance(val, (types.FunctionType, types.ModuleType))
