"""Checkpoint files: atomic writes, verified reads, no pickle.

Layout of a checkpoint file::

    MAGIC (16 bytes) | header length (8 bytes, little-endian) | header (UTF-8 JSON)
    | array bytes | SHA-256 of everything before it (32 bytes)

The header holds the format name and version, free metadata (``meta``) and,
per array, its name, dtype, shape and byte offset. A file is written to a
temporary name in the same folder, flushed to disk, then renamed over the old
one, so a crash at any moment leaves the previous checkpoint whole. A read
checks the magic, the version, the length and the checksum before building
anything, so a truncated or corrupted file is reported and never half-loaded.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import struct
from pathlib import Path

import numpy as np

MAGIC = b"LSTMLAB-CKPT\x00\x00\x00\n"
FORMAT_VERSION = 1
_DIGEST = 32

#: Test hook: crash (SIGKILL) half-way through the n-th checkpoint write of this process.
_CRASH_ENV = "LSTMLAB_TEST_CRASH_IN_CHECKPOINT"
_writes = 0


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: what is wrong, and which file."""


class StorageError(OSError):
    """A file or folder could not be written: which path, why, and what to do (one line)."""

    def __str__(self):
        return self.strerror or super().__str__()


_ADVICE = {errno.ENOSPC: "no space left on the device: free some space, or write the run elsewhere",
           errno.EDQUOT: "disk quota exceeded: free some space, or write the run elsewhere",
           errno.EROFS: "the file system is read-only: choose a writable folder",
           errno.EACCES: "permission denied: choose a folder you can write to",
           errno.EPERM: "operation not permitted: choose a folder you can write to",
           errno.EISDIR: "it is a folder, where a file is needed: choose another path",
           errno.ENOTDIR: "a part of the path is a file, where a folder is needed: choose another path",
           errno.EEXIST: "a file is in the way, where a folder is needed: choose another path",
           errno.ENOENT: "a folder on the path does not exist (or the file system does not allow this)",
           errno.ENAMETOOLONG: "the name is too long for the file system: choose a shorter path",
           errno.ELOOP: "too many levels of symbolic links: choose another path"}


def storage_error(path, exc: OSError) -> StorageError:
    """A :class:`StorageError` for ``exc`` raised while writing ``path``."""
    why = _ADVICE.get(exc.errno, exc.strerror or str(exc))
    err = StorageError(exc.errno, f"cannot write {path}: {why}")
    err.filename = str(path)
    return err


def atomic_write_bytes(path, data: bytes, *, crash_after: int | None = None) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    Any OS error (no space, read-only, permissions, a folder in the way)
    leaves the previous file as it was, removes the temporary file and is
    raised as :class:`StorageError` naming the path.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            if crash_after is not None:      # only the test hook takes this branch
                fh.write(data[:crash_after])
                fh.flush()
                os.fsync(fh.fileno())
                os.kill(os.getpid(), signal.SIGKILL)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise storage_error(path, exc) from exc
    try:  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def remove_stale_temporaries(folder) -> list[Path]:
    """Delete temporary files left by a crash during a write; return them."""
    gone = []
    for p in Path(folder).glob(".*.tmp-*"):
        p.unlink(missing_ok=True)
        gone.append(p)
    return gone


def encode(arrays: dict, meta: dict) -> bytes:
    entries, offset, chunks = [], 0, []
    for name, a in arrays.items():
        a = np.asarray(a, order="C")  # not ascontiguousarray: it turns shape () into (1,)
        if a.dtype.hasobject:
            raise TypeError(f"checkpoint: array {name!r} has dtype object, which is not stored")
        raw = a.tobytes()
        entries.append({"name": name, "dtype": a.dtype.str, "shape": list(a.shape), "offset": offset,
                        "nbytes": len(raw)})
        chunks.append(raw)
        offset += len(raw)
    header = json.dumps({"format": "lstmlab-checkpoint", "version": FORMAT_VERSION, "meta": meta,
                         "arrays": entries, "body_bytes": offset}, sort_keys=True).encode("utf-8")
    head = MAGIC + struct.pack("<Q", len(header)) + header
    body = b"".join(chunks)
    return head + body + hashlib.sha256(head + body).digest()


def save(path, arrays: dict, meta: dict) -> None:
    """Write ``arrays`` (name -> ndarray) and JSON-able ``meta`` atomically to ``path``."""
    global _writes
    _writes += 1
    data = encode(arrays, meta)
    crash = os.environ.get(_CRASH_ENV)
    at = len(data) // 2 if crash and int(crash) == _writes else None
    atomic_write_bytes(path, data, crash_after=at)


def load(path) -> tuple[dict, dict]:
    """Read a checkpoint: ``(arrays, meta)``. Raises :class:`CheckpointError` saying what is wrong."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path}: file not found") from None
    except OSError as exc:  # a folder in its place, permissions, I/O errors
        raise CheckpointError(f"checkpoint {path}: cannot be read ({exc.strerror or exc}); remove or "
                              f"replace it") from None
    n0 = len(MAGIC) + 8
    if len(data) < len(MAGIC) or data[:len(MAGIC)] != MAGIC:
        raise CheckpointError(f"checkpoint {path}: not an lstmlab checkpoint (wrong magic bytes)")
    if len(data) < n0:
        raise CheckpointError(f"checkpoint {path}: truncated ({len(data)} bytes, header incomplete)")
    (hlen,) = struct.unpack("<Q", data[len(MAGIC):n0])
    if len(data) < n0 + hlen:
        raise CheckpointError(f"checkpoint {path}: truncated ({len(data)} bytes, header needs {n0 + hlen})")
    try:
        header = json.loads(data[n0:n0 + hlen].decode("utf-8"))
        version, body_bytes = header["version"], int(header["body_bytes"])
    except (ValueError, KeyError, TypeError) as exc:
        if hashlib.sha256(data[:-_DIGEST]).digest() != data[-_DIGEST:]:
            raise CheckpointError(f"checkpoint {path}: corrupted (SHA-256 checksum mismatch; header "
                                  f"unreadable)") from None
        raise CheckpointError(f"checkpoint {path}: corrupted header ({exc})") from None
    if version != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path}: format version {version!r}, but this lstmlab reads "
                              f"version {FORMAT_VERSION}; re-run with the lstmlab that wrote it")
    want = n0 + hlen + body_bytes + _DIGEST
    if len(data) < want:
        raise CheckpointError(f"checkpoint {path}: truncated ({len(data)} of {want} bytes)")
    if len(data) > want:
        raise CheckpointError(f"checkpoint {path}: corrupted ({len(data) - want} unexpected trailing bytes)")
    if hashlib.sha256(data[:-_DIGEST]).digest() != data[-_DIGEST:]:
        raise CheckpointError(f"checkpoint {path}: corrupted (SHA-256 checksum mismatch)")
    arrays, base = {}, n0 + hlen
    for e in header["arrays"]:
        buf = data[base + e["offset"]: base + e["offset"] + e["nbytes"]]
        arrays[e["name"]] = np.frombuffer(buf, dtype=np.dtype(e["dtype"])).reshape(tuple(e["shape"])).copy()
    return arrays, header["meta"]
