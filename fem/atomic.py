"""The one way files are written atomically: to a temporary file beside the target, then renamed.

A reader (or a Snakemake rerun after a crash) sees either the old file or the
complete new one, never half a file. The temporary lives in the target's own
folder, so the final os.replace is a rename on one file system, and is named
`.NAME.PID.TOKEN.tmp`: hidden, unique per process (and per call), and starting
with "." + the final name, so a leftover is easy to spot (`glob(".NAME*")`).

    with atomic_path(path) as tmp:      # any writer that takes a path
        h5py.File(tmp, "w") ...
    write_text_atomic(path, text)       # text files

Standard library only: fem is the base package that everything imports.
"""
from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_path", "temporary_name", "write_bytes_atomic", "write_text_atomic"]


def temporary_name(path: str | Path, suffix: str = ".tmp") -> Path:
    """A fresh hidden name beside `path`: .NAME.PID.TOKEN + suffix (nothing is created)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{suffix}")


@contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it onto `path`, on any exception
    remove it and leave `path` as it was. The temporary is not created: the writer creates it.
    The folder must exist (callers that want it made make it first)."""
    path = Path(path)
    tmp = temporary_name(path, suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        try:
            os.remove(tmp)
        except FileNotFoundError:
            pass


def write_text_atomic(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write text to `path` atomically; return `path` (as a Path)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding=encoding) as f:
            f.write(text)
    return path


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write bytes to `path` atomically; return `path` (as a Path)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return path
