"""The paper reproductions, shipped as ``lstmlab.paper_repro`` (PyPI has an unrelated
top-level ``paper_repro``). Each module defines one :class:`lstmlab.repro.Reproduction`
and runs as a script: ``python paper_repro/NAME.py --quick`` or ``lstmlab repro NAME --quick``.
"""
from .arjovsky2016 import REPRO as _arjovsky2016
from .greff2017 import REPRO as _greff2017
from .hochreiter1997 import REPRO as _hochreiter1997
from .le2015 import REPRO as _le2015
from .tallec2018 import REPRO as _tallec2018

REPRODUCTIONS = {r.name: r for r in (_arjovsky2016, _greff2017, _hochreiter1997, _le2015, _tallec2018)}
