"""Registries by name: one generic :class:`Registry`, and the variant registry built on it.

A :class:`Registry` maps names to subclasses of one base class: register (as a
decorator or a call, ``override=True`` to replace), unregister, fetch by name
(an unknown name suggests the closest), list with glob filters. Its built-ins are
imported and third-party plugins loaded from its entry-point group lazily, at the
first listing or the first lookup of a name it lacks; a broken plugin produces a
warning naming it, never an error. Variants, tasks (:mod:`lstmlab.tasks`) and
reproductions (:mod:`lstmlab.repro`) each have one.

Variants come through the module-level functions (:func:`register`, :func:`get`,
:func:`get_spec`, :func:`names`, :func:`unregister`; also ``lstmlab.register``
etc.); plugins register in the entry-point group ``lstmlab.variants``, each entry
point naming a variant class or a module whose import registers some.
"""
from __future__ import annotations

import difflib
import fnmatch
import importlib
import logging
import sys
import types
import warnings
from importlib import metadata

from .spec import describe
from .variant import Variant, VariantError

__all__ = ["Registry", "UnknownNameError", "register", "unregister", "get", "get_spec", "names",
           "UnknownVariantError", "VARIANTS", "ENTRY_POINT_GROUP", "VariantError"]

ENTRY_POINT_GROUP = "lstmlab.variants"
_log = logging.getLogger(__name__)


def close_names(name, known, n: int = 3) -> list:
    """Up to ``n`` of ``known`` close to ``name``, ignoring case first ('LSTM' for 'lstm')."""
    known = list(known)
    close = [k for k in known if k.lower() == str(name).lower()]
    by_lower = {k.lower(): k for k in known}
    close += [by_lower[k] for k in difflib.get_close_matches(str(name).lower(), list(by_lower), n=n, cutoff=0.5)
              if by_lower[k] not in close]
    return close[:n]


def unknown_name_message(kind: str, name: str, known) -> str:
    """'unknown KIND 'name'; did you mean ...? Registered: ...' - shared by every registry."""
    known = list(known)
    close = close_names(name, known)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    return f"unknown {kind} {name!r}{hint} Registered: {', '.join(sorted(known))}"


class UnknownNameError(KeyError):
    """No entry is registered under that name (a KeyError whose message prints as text)."""

    def __str__(self):  # KeyError would print the repr of the message
        return str(self.args[0])


def load_entry_points(group: str, kind: str, base: type, registry: dict, register_fn) -> None:
    """Register every class in entry-point ``group`` that subclasses ``base`` and is not yet in
    ``registry``, through ``register_fn(cls, name)``; an entry point naming a module registers
    what its import registers. A broken plugin warns and is skipped."""
    try:
        eps = metadata.entry_points(group=group)
    except Exception as exc:  # noqa: BLE001 - a broken environment must not break lstmlab
        warnings.warn(f"lstmlab: could not read entry points {group!r}: {exc}", stacklevel=3)
        return
    for ep in eps:
        try:
            obj = ep.load()
            if isinstance(obj, type) and issubclass(obj, base):
                if ep.name not in registry:
                    register_fn(obj, ep.name)
            elif not isinstance(obj, types.ModuleType):
                raise TypeError(f"expected a {base.__name__} subclass or a module, got {obj!r}")
            _log.debug("loaded lstmlab %s plugin %s = %s", kind, ep.name, ep.value)
        except Exception as exc:  # noqa: BLE001
            warnings.warn(f"lstmlab: {kind} plugin {ep.name!r} ({ep.value}) failed to load and is "
                          f"skipped: {type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=3)


class Registry:
    """Names -> subclasses of ``base``, for one ``kind`` of thing (``"variant"``, ``"task"``, ...).

    group        : entry-point group of third-party plugins, loaded lazily.
    validate     : ``validate(cls, name)``, called at every registration before the class is
                   stored; it raises to refuse the class (and may set attributes on it).
    default_name : ``default_name(cls)``, the name when none is given.
    builtins     : a module imported before the first listing or lookup (it registers the
                   built-ins), or None.
    error        : the :class:`UnknownNameError` subclass raised for an unknown name.
    """

    def __init__(self, kind: str, base: type, group: str, *, validate=None, default_name=None,
                 builtins: str | None = None, error: type = UnknownNameError):
        self.kind, self.base, self.group = kind, base, group
        self.validate, self.builtins, self.error = validate, builtins, error
        self.default_name = default_name or (lambda cls: cls.__name__.lower())
        self._entries: dict[str, type] = {}
        self._plugins_loaded = False

    def __repr__(self):
        return f"<Registry of {self.kind}s: {len(self._entries)} registered, plugins from {self.group!r}>"

    def register(self, name_or_cls=None, *, name: str | None = None, override: bool = False):
        """Register a subclass of the base: ``@reg.register``, ``@reg.register("name")``,
        ``@reg.register(name="name")`` or ``reg.register(cls, name="name")``. Returns the class.

        A name already taken by another class raises ``ValueError`` unless ``override=True``.
        """
        if isinstance(name_or_cls, type):
            return self._add(name_or_cls, name, override)
        if name_or_cls is not None and not isinstance(name_or_cls, str):
            raise TypeError(f"register: expected a {self.base.__name__} subclass or a name, got {name_or_cls!r}")
        return lambda cls: self._add(cls, name or name_or_cls, override)

    def _add(self, cls, name, override):
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise TypeError(f"register: expected a {self.base.__name__} subclass, got {cls!r}")
        if name is not None and not (isinstance(name, str) and name):
            raise ValueError(f"register: name must be a non-empty string, got {name!r}")
        key = name or self.default_name(cls)
        if not isinstance(key, str):
            raise TypeError(f"register: name must be a non-empty string, got {key!r}")
        if not key:
            raise ValueError(f"register: the {self.kind} {cls.__qualname__} needs a name")
        old = self._entries.get(key)
        if old is not None and old is not cls and not override:
            raise ValueError(f"register: a {self.kind} named {key!r} is already registered "
                             f"({old.__module__}.{old.__qualname__}); pass override=True to replace it")
        if self.validate is not None:
            self.validate(cls, key)
        self._entries[key] = cls
        return cls

    def unregister(self, name: str) -> None:
        """Remove a name (for tests and interactive work); an unknown name is ignored."""
        self._entries.pop(name, None)

    def load_plugins(self) -> None:
        """Import the built-ins and load the entry-point plugins, once (lookups do it when needed)."""
        if self._plugins_loaded:
            return
        if self.builtins:
            importlib.import_module(self.builtins)
        self._plugins_loaded = True
        load_entry_points(self.group, self.kind, self.base, self._entries,
                          lambda cls, key: self._add(cls, key, False))

    def names(self, pattern: str = "*") -> list[str]:
        """Sorted registered names matching the glob ``pattern`` (e.g. ``"n*"``)."""
        if not isinstance(pattern, str):
            raise TypeError(f"pattern: expected a glob string such as 'n*', got {pattern!r}")
        self.load_plugins()
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    def get(self, name: str) -> type:
        """The class registered as ``name``; an unknown name raises ``error`` with the closest names."""
        if not isinstance(name, str):
            raise TypeError(f"{self.kind}: expected a {self.kind} name, got {type(name).__name__}")
        if name not in self._entries:
            self.load_plugins()
        if name not in self._entries:
            raise self.error(unknown_name_message(self.kind, name, self._entries))
        return self._entries[name]


# -- variants -------------------------------------------------------------------------------------

class UnknownVariantError(UnknownNameError):
    """No variant is registered under that name."""


def _forget_kernels(cls) -> None:
    """Drop the kernels compiled for ``cls``, so a changed class re-registered runs its new maths."""
    from . import engine  # lazily: the engine imports the variant machinery
    engine.forget(cls)
    cuda_engine = sys.modules.get("lstmlab.cuda.engine")  # never import the CUDA backend just for this
    forget = getattr(cuda_engine, "forget", None)
    if forget is not None:
        forget(cls)


def _validate_variant(cls, name: str) -> None:
    """Check the contract now (so a missing declaration fails here, not at first call)."""
    cls._spec = None
    describe(cls, name)
    _forget_kernels(cls)


VARIANTS = Registry("variant", Variant, ENTRY_POINT_GROUP, validate=_validate_variant,
                    builtins="lstmlab.variants", error=UnknownVariantError)
_REGISTRY = VARIANTS._entries


def register(name_or_cls=None, *, name: str | None = None, override: bool = False):
    """Register a :class:`~lstmlab.Variant` subclass under a name.

    Use as ``@register("mycell")``, ``@register`` (the class name, lower-cased) or
    ``register(MyCell, name="mycell")``. The class is validated now
    (:func:`lstmlab.spec.describe`), so a missing declaration fails here, not at
    first call, and any kernels compiled for it before are dropped. A name already
    taken raises ``ValueError`` unless ``override=True``.
    """
    return VARIANTS.register(name_or_cls, name=name, override=override)


def unregister(name: str) -> None:
    """Remove a registered variant (for tests and interactive work)."""
    VARIANTS.unregister(name)


def names(pattern: str = "*") -> list[str]:
    """Sorted registered variant names matching the glob ``pattern`` (e.g. ``"n*"``)."""
    return VARIANTS.names(pattern)


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
    return VARIANTS.get(name)


def get_spec(name):
    """The validated :class:`~lstmlab.spec.VariantSpec` of a name or class."""
    return describe(get(name))
