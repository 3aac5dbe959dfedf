"""Atomic file writes: a path holds either its old content or the whole new one, never a mix."""

from __future__ import annotations

import contextlib
import os
import secrets


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a fresh temporary file in the same directory, fsync
    it, rename it over ``path`` and fsync the directory. On any error (an interrupt included)
    the temporary file is removed and ``path`` is untouched. The new file gets the ordinary
    permissions of the umask."""
    path = os.fspath(path)
    directory = os.path.dirname(path) or "."
    base = os.path.basename(path)
    # O_EXCL with mode 0o666: a fresh name of our own, with the umask's permissions
    while True:
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    # make the rename itself durable where the platform allows it
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
