"""The built-in paper reproductions, one module per paper.

Each module defines one :class:`lstmlab.repro.Reproduction`; run it with
``lstmlab repro NAME --quick`` (or ``python -m lstmlab repro NAME --quick``). Their
committed results live outside the package, in the source tree's ``paper_repro/results/``.
"""
from .arjovsky2016 import REPRO as _arjovsky2016
from .greff2017 import REPRO as _greff2017
from .hochreiter1997 import REPRO as _hochreiter1997
from .le2015 import REPRO as _le2015
from .tallec2018 import REPRO as _tallec2018

REPRODUCTIONS = {r.name: r for r in (_arjovsky2016, _greff2017, _hochreiter1997, _le2015, _tallec2018)}
