"""The user cache: where downloads, verification stamps and derived arrays are kept.

``$COURSE_CACHE_DIR`` overrides the platform's cache folder (``pooch.os_cache("course_lib")``,
e.g. ``~/.cache/course_lib`` on Linux). Writes are atomic (a temporary file renamed into place),
so concurrent test workers or notebooks never read a half-written file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np


def cache_dir() -> Path:
    """The course's cache folder (not created here)."""
    override = os.environ.get("COURSE_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    import pooch

    return Path(pooch.os_cache("course_lib"))


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> bool:
    """Save arrays as an uncompressed ``.npz`` (fast to read back) atomically.

    Returns:
        Whether it was saved: a read-only or full cache is not an error, the caller just
        recomputes next time.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, **arrays)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        return False
    return True


def load_arrays(path: Path) -> dict[str, np.ndarray] | None:
    """Read back what ``save_arrays`` wrote; None if missing or unreadable (then recompute)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError):
        return None
