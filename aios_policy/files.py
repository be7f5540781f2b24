"""Files on disk, as every stage writes and names them: replaced whole, never half-written, and shown
relative to where the user stands."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(target: Path, text: str, mode: int | None = None) -> None:
    """Replace target whole with text (a temporary file beside it, renamed over it), so a reader sees the
    old file or the new one, never a mix. mode: the new file's permissions (default: the old file's, or
    the usual ones for a new file)."""
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        if mode is None:
            mode = target.stat().st_mode & 0o777 if target.exists() else 0o666 & ~_umask()
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def display_path(path: str | os.PathLike[str]) -> str:
    """A path as the user would type it: relative to the working directory where it can be."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
