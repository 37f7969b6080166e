"""The variant registry: register by name, list with glob filters, fetch by name.

Third-party packages add variants through the entry-point group
``lstmlab.variants``: each entry point names a variant class (or a module
whose import registers some). Plugins load lazily, at the first lookup or
listing, and a broken one produces a warning naming it, never an import error.
"""
from __future__ import annotations

import difflib
import fnmatch
import logging
import warnings
from importlib import metadata

from .variant import Variant, VariantError, describe

__all__ = ["register", "unregister", "get", "get_spec", "names", "UnknownVariantError", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "lstmlab.variants"
_log = logging.getLogger(__name__)
_REGISTRY: dict[str, type] = {}
_plugins_loaded = False


def unknown_name_message(kind: str, name: str, known) -> str:
    """'unknown KIND 'name'; did you mean ...? Registered: ...' - shared by every registry."""
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    return f"unknown {kind} {name!r}{hint} Registered: {', '.join(sorted(known))}"


class UnknownVariantError(KeyError):
    """No variant is registered under that name."""

    def __str__(self):  # KeyError would print the repr of the message
        return str(self.args[0])


def register(name_or_cls=None, *, name: str | None = None, override: bool = False):
    """Register a :class:`~lstmlab.Variant` subclass under a name.

    Use as ``@register("mycell")``, ``@register`` or ``register(MyCell, name="mycell")``.
    The class is validated now (:func:`lstmlab.variant.describe`), so a missing
    declaration fails here, not at first call. A name already taken raises
    ``ValueError`` unless ``override=True``.
    """
    def deco(cls):
        key = name or (name_or_cls if isinstance(name_or_cls, str) else None) or cls.__name__.lower()
        if not isinstance(key, str) or not key:
            raise TypeError(f"register: name must be a non-empty string, got {key!r}")
        if key in _REGISTRY and _REGISTRY[key] is not cls and not override:
            raise ValueError(f"register: a variant named {key!r} is already registered "
                             f"({_REGISTRY[key].__module__}.{_REGISTRY[key].__qualname__}); "
                             f"pass override=True to replace it")
        cls._spec = None
        describe(cls, key)
        _forget_kernels(cls)
        _REGISTRY[key] = cls
        return cls

    if isinstance(name_or_cls, type):
        return deco(name_or_cls)
    return deco


def _forget_kernels(cls) -> None:
    """Drop the kernels compiled for ``cls``, so a changed class re-registered runs its new maths."""
    import sys
    from . import engine  # lazily: the engine imports the variant modules' machinery
    engine.forget(cls)
    cuda_engine = sys.modules.get("lstmlab.cuda.engine")  # never import the CUDA backend just for this
    forget = getattr(cuda_engine, "forget", None)
    if forget is not None:
        forget(cls)


def unregister(name: str) -> None:
    """Remove a registered variant (for tests and interactive work)."""
    _REGISTRY.pop(name, None)


def load_entry_points(group: str, kind: str, base: type, registry: dict, register_fn) -> None:
    """Register every class in entry-point ``group`` that subclasses ``base`` and is not yet in
    ``registry``, through ``register_fn(cls, name)``. A broken plugin warns and is skipped."""
    try:
        eps = metadata.entry_points(group=group)
    except Exception as exc:  # noqa: BLE001 - a broken environment must not break lstmlab
        warnings.warn(f"lstmlab: could not read entry points {group!r}: {exc}", stacklevel=3)
        return
    for ep in eps:
        try:
            obj = ep.load()
            if isinstance(obj, type) and issubclass(obj, base) and ep.name not in registry:
                register_fn(obj, ep.name)
            _log.debug("loaded lstmlab %s plugin %s = %s", kind, ep.name, ep.value)
        except Exception as exc:  # noqa: BLE001
            warnings.warn(f"lstmlab: {kind} plugin {ep.name!r} ({ep.value}) failed to load and is "
                          f"skipped: {type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=3)


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    load_entry_points(ENTRY_POINT_GROUP, "variant", Variant, _REGISTRY, lambda cls, n: register(cls, name=n))


def names(pattern: str = "*") -> list[str]:
    """Sorted registered names matching the glob ``pattern`` (e.g. ``"n*"``)."""
    _load_plugins()
    return sorted(n for n in _REGISTRY if fnmatch.fnmatchcase(n, pattern))


def get(name) -> type:
    """The variant class registered as ``name``; a class is returned as is.

    An unknown name raises :class:`UnknownVariantError` with the closest names.
    """
    if isinstance(name, type):
        if not issubclass(name, Variant):
            raise TypeError(f"variant: expected a registered name or a Variant subclass, got {name!r}")
        describe(name)
        return name
    if not isinstance(name, str):
        raise TypeError(f"variant: expected a registered name or a Variant subclass, got {name!r}")
    if name not in _REGISTRY:
        _load_plugins()
    if name not in _REGISTRY:
        raise UnknownVariantError(unknown_name_message("variant", name, _REGISTRY))
    return _REGISTRY[name]


def get_spec(name):
    """The validated :class:`~lstmlab.variant.VariantSpec` of a name or class."""
    cls = get(name)
    return describe(cls)


__all__ += ["VariantError"]
