"""The built-in paper reproductions, one module per paper.

Each module defines one :class:`lstmlab.repro.Reproduction` and registers it
(:func:`lstmlab.repro.register_reproduction`); importing this package registers
them all, which the reproduction registry does at its first lookup. Run one with
``lstmlab repro NAME --quick`` (or ``python -m lstmlab repro NAME --quick``). Their
committed results live outside the package, in the source tree's ``paper_repro/results/``.
"""
from . import (  # noqa: F401 - they register
    arjovsky2016,
    greff2017,
    hochreiter1997,
    le2015,
    linzen2016,
    regularisers,
    tallec2018,
)
