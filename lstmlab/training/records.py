"""The files of a run directory, each written atomically or append-only.

``config.json``     the run's configuration and library versions (written once)
``metrics.jsonl``   one JSON object per line: ``{"kind": "train" | "eval", "step": ...}``
``checkpoint.lstmlab``  the latest checkpoint (see :mod:`.checkpoint`)
``result.json``     final figures, written when the run completes
``failed.json``     why the run stopped (non-finite values), removed when it resumes
"""
from __future__ import annotations

import json
import os
import platform
from importlib import metadata
from pathlib import Path

from .checkpoint import atomic_write_text, storage_error

CONFIG, METRICS, CHECKPOINT, RESULT, FAILED = ("config.json", "metrics.jsonl", "checkpoint.lstmlab",
                                               "result.json", "failed.json")


def versions() -> dict:
    """Versions of Python, lstmlab and the libraries that change its numbers."""
    out = {"python": platform.python_version(), "platform": platform.platform(), "machine": platform.machine()}
    for pkg in ("lstmlab", "numpy", "numba", "llvmlite", "scipy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def make_folder(path) -> Path:
    """``mkdir -p`` that reports a file in the way, a read-only or full file system as StorageError."""
    path = Path(path)
    try:
        if path.exists() and not path.is_dir():
            raise FileExistsError(17, "File exists")
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # also a name too long or a symlink loop, raised by exists()
        raise storage_error(path, exc) from exc
    return path


def write_json(path: Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text())
    except ValueError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None


class MetricsLog:
    """Append-only JSON-lines log; :meth:`truncate_after` drops records past a checkpoint."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def records(self) -> list[dict]:
        """Every complete record (a line cut short by a crash is ignored)."""
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                out.append(rec)
        return out

    def truncate_after(self, step: int) -> None:
        """Keep records with ``step <= step``, rewriting the file atomically."""
        keep = [r for r in self.records() if r.get("step", 0) <= step]
        atomic_write_text(self.path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in keep))

    def append(self, record: dict) -> None:
        """Add one record; on an OS error the file is cut back to its whole records and StorageError raised."""
        line = json.dumps(record, sort_keys=True) + "\n"
        size = self.path.stat().st_size if self.path.exists() else 0
        try:
            with open(self.path, "a") as fh:
                fh.write(line)
                fh.flush()
        except OSError as exc:
            try:
                os.truncate(self.path, size)  # no half-written record
            except OSError:
                pass
            raise storage_error(self.path, exc) from exc
