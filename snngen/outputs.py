"""Output files of the command line: checked before any work starts, written atomically.

The policy is ``snngen build``'s (:func:`snngen.hwmodel.build.write_build_dir`): a file given
as an input of the same command is never overwritten, an existing output is replaced only with
``--force``, missing parent directories are created, and a file is written through a temporary
file renamed into place (:mod:`snngen.atomic`), so it holds either its old content or the whole
new one. Every problem is found by :func:`check` before a long conversion or simulation runs, and
is reported with the path the user gave (never an internal temporary name).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from snngen import atomic


class OutputError(ValueError):
    """An output path that cannot or must not be written; the message names it and why."""


def _nearest_existing(p: Path) -> Path:
    """``p`` or its closest ancestor that exists (the directory a write would start from),
    spelled relative to what the user gave, as messages name it."""
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check(path: str | os.PathLike, what: str, force: bool,
          inputs: Iterable[tuple[str, str | os.PathLike | None]] = ()) -> None:
    """Refuse to write ``path`` (``what``: how the user gave it, e.g. ``"-o"``) if it is one of
    ``inputs`` (``(label, path)`` pairs, ``None`` paths ignored; ``force`` does not help), a
    directory, an existing file without ``force``, or somewhere no file can be created."""
    p = Path(path)
    for label, src in inputs:
        if src is not None and _same_file(p, Path(src)):
            raise OutputError(f"{what} {path} is the {label} of this command: an input is never "
                              "overwritten; choose another output file")
    if p.is_dir():
        raise OutputError(f"{what} {path} is a directory; give a file name")
    if (p.exists() or p.is_symlink()) and not force:
        raise OutputError(f"{what} {path} exists; pass --force to replace it")
    base = _nearest_existing(p.parent)
    if not base.is_dir():
        raise OutputError(f"{what} {path} cannot be created: {base} is not a directory")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {path} cannot be created: directory {base} is not writable")


def check_dir(path: str | os.PathLike, what: str) -> None:
    """Refuse an output directory ``path`` that is a file or cannot be created."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputError(f"{what} {path} is not a directory")
    base = _nearest_existing(p)
    if not base.is_dir():
        raise OutputError(f"{what} {path} cannot be created: {base} is not a directory")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {path} cannot be created: directory {base} is not writable")


def write(path: str | os.PathLike, data: bytes, what: str) -> None:
    """Write ``data`` to ``path`` atomically, creating missing parent directories. An OSError
    (a disk that fills, a directory that became read-only since :func:`check`) is reported with
    ``path`` as given, not the temporary file's name."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        atomic.write_bytes(path, data)
    except OSError as e:
        raise OutputError(f"{what} {path} cannot be written: {e.strerror or e}") from e
