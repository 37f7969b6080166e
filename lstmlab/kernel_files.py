"""Generated kernel source written where its tracebacks and its readers find it.

Both backends write each generated module once to the kernel cache folder
(:func:`lstmlab.config.kernel_dir`), under a name carrying a hash of
everything the code depends on. A file that exists is never rewritten:
Numba's on-disk cache checks its time stamp, and a changed variant gets a new
name, so it never meets a stale kernel. Compiled from that file, a failing
kernel's traceback shows its generated lines.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from . import config


def write_once(modname: str, source: str) -> Path:
    """``<kernel dir>/<modname>.py`` holding ``source``, written atomically if absent."""
    path = config.kernel_dir() / f"{modname}.py"
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(source)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    return path


def module_name(prefix: str, variant: str, digest: str) -> str:
    """An importable module name for a variant's generated kernels."""
    return f"{prefix}_{variant}_{digest}".replace("-", "_").replace(".", "_")
