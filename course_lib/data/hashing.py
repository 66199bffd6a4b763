"""Hash checks that run once per file, not once per load.

Hashing Fashion-MNIST's decompressed images costs about half a second; doing it on every load
would dominate a quick experiment. After a file matches, a small stamp in the cache records its
path, size and modification time; while those are unchanged the file counts as verified.
``course data check`` ignores the stamps and hashes everything again.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from course_lib.data.cache import atomic_write, cache_dir
from course_lib.data.errors import DatasetHashError
from course_lib.data.registry import KnownHash

_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: Path) -> bool:
    """Whether the file starts with gzip's magic bytes."""
    with open(path, "rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


def file_digests(
    path: Path, algorithms: Iterable[str], *, decompress: bool = False
) -> dict[str, str]:
    """Hex digests of a file's bytes (or of its gzip-decompressed content), in one pass.

    With ``decompress=True`` a file that is not gzip is hashed as is, so an uncompressed copy
    matches the hash of a compressed file's content.
    """
    hashers = {alg: hashlib.new(alg) for alg in dict.fromkeys(algorithms)}
    opener = gzip.open if decompress and is_gzip(path) else open
    with opener(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            for hasher in hashers.values():
                hasher.update(chunk)
    return {alg: hasher.hexdigest() for alg, hasher in hashers.items()}


def _stamp_path(path: Path) -> Path:
    key = hashlib.sha1(str(path.resolve()).encode()).hexdigest()
    return cache_dir() / "verified" / f"{key}.json"


def _signature(path: Path) -> dict[str, object]:
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _read_stamp(path: Path) -> str | None:
    try:
        stamp = json.loads(_stamp_path(path).read_text())
    except (OSError, ValueError):
        return None
    if {k: stamp.get(k) for k in ("path", "size", "mtime_ns")} != _signature(path):
        return None
    return stamp.get("hash")


def _write_stamp(path: Path, value: str) -> None:
    stamp = {**_signature(path), "hash": value}
    # A read-only cache only costs a re-hash next time.
    with contextlib.suppress(OSError):
        atomic_write(_stamp_path(path), json.dumps(stamp).encode())


def match_hash(path: Path, hashes: Sequence[KnownHash]) -> tuple[KnownHash | None, dict[str, str]]:
    """Hash the file and return the known hash it matches (or None) and the digests computed."""
    raw = [h for h in hashes if not h.decompressed]
    digests = file_digests(path, [h.algorithm for h in raw] or ["md5"])
    for known in raw:
        if digests.get(known.algorithm) == known.hexdigest:
            return known, digests
    content = [h for h in hashes if h.decompressed]
    if content:
        inner = file_digests(path, [h.algorithm for h in content], decompress=True)
        for known in content:
            if inner[known.algorithm] == known.hexdigest:
                return known, digests
        digests.update({f"{alg} (decompressed)": hexd for alg, hexd in inner.items()})
    return None, digests


def verify_file(
    path: Path, hashes: Sequence[KnownHash], *, what: str = "", force: bool = False
) -> KnownHash:
    """Check a file against its accepted hashes, using (and refreshing) the stamp.

    Args:
        path: the file.
        hashes: accepted versions of the file; one match suffices.
        what: a description for the error message (dataset and file role).
        force: ignore any stamp and hash the file again.

    Returns:
        The known hash the file matched.

    Raises:
        DatasetHashError: the file matches none of ``hashes``; the message names the file, the
            expected hashes and the actual ones.
    """
    if not force:
        stamped = _read_stamp(path)
        for known in hashes:
            if known.value == stamped:
                return known
    known, digests = match_hash(path, hashes)
    if known is not None:
        _write_stamp(path, known.value)
        return known
    expected = "\n".join(
        f"  {h.value}  ({h.what}{', of the decompressed content' if h.decompressed else ''})"
        for h in hashes
    )
    actual = "\n".join(f"  {alg}:{hexd}" for alg, hexd in digests.items())
    raise DatasetHashError(
        f"{path} is not a known version of {what or path.name}: it may be corrupt, truncated "
        f"or a different release.\nExpected one of:\n{expected}\nActual:\n{actual}\n"
        "Delete or replace the file (course data fetch downloads a fresh copy into the cache).",
        path=path,
        expected=[h.value for h in hashes],
        actual=digests,
    )
