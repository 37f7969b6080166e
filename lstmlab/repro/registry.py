"""The reproduction registry: :class:`~lstmlab.repro.Reproduction` subclasses by name.

The built-in papers (:mod:`lstmlab.repro.papers`) register themselves with
:func:`register_reproduction`; third-party packages add reproductions through the
entry-point group ``lstmlab.reproductions`` (a subclass, or a module whose import
registers some), loaded lazily like the variant and task plugins.
"""
from __future__ import annotations

from ..registry import Registry, UnknownNameError
from .base import Reproduction

__all__ = ["REPRODUCTIONS", "REPRODUCTION_ENTRY_POINT_GROUP", "UnknownReproductionError", "register_reproduction",
           "reproduction_names", "get_reproduction", "available"]

REPRODUCTION_ENTRY_POINT_GROUP = "lstmlab.reproductions"


class UnknownReproductionError(UnknownNameError):
    """No reproduction is registered under that name."""


def _validate(cls, name: str) -> None:
    if cls.configs is Reproduction.configs:
        raise TypeError(f"reproduction {name!r}: {cls.__qualname__} must define configs(budget, seeds)")
    cls.name = name


REPRODUCTIONS = Registry("reproduction", Reproduction, REPRODUCTION_ENTRY_POINT_GROUP, validate=_validate,
                         default_name=lambda cls: cls.name, builtins="lstmlab.repro.papers",
                         error=UnknownReproductionError)


def register_reproduction(name: str | None = None, *, override: bool = False):
    """Class decorator: register a :class:`Reproduction` subclass under ``name`` (default: its ``name``)."""
    return REPRODUCTIONS.register(name, override=override)


def reproduction_names(pattern: str = "*") -> list[str]:
    """Sorted registered reproduction names matching the glob ``pattern``."""
    return REPRODUCTIONS.names(pattern)


def get_reproduction(name: str) -> Reproduction:
    """The reproduction registered as ``name`` (an instance); unknown names get close matches."""
    return REPRODUCTIONS.get(name)()


def available() -> dict:
    """name -> Reproduction instance, for every registered reproduction."""
    return {n: REPRODUCTIONS.get(n)() for n in REPRODUCTIONS.names()}
