"""Where a dataset's files are looked for, in order, and what happens when they are nowhere.

Search order, per file (the first hit wins):

1. ``$COURSE_DATA_DIR`` (several folders may be given, separated by ``os.pathsep``): the file
   directly in the folder, then in a sub-folder named after the dataset or one of its aliases
   (``fashion_mnist``, ``fashion-mnist``, ``FashionMNIST/raw``...).
2. The user cache, ``<cache>/<name>/`` (see ``course_lib.data.cache.cache_dir``); downloads go here.
3. Fixed system places, e.g. ``/usr/share/datasets/fashion-mnist`` from Debian's package.

A dataset may be accepted in several variants (the official files, or a known mirror). Variants
are tried in the registry's order, official first, and the first one whose files are all found
somewhere is used: an official copy anywhere wins over a mirror. When none is complete,
``resolve`` downloads the official files with pooch (hash-checked) unless
``$COURSE_DATA_OFFLINE`` is set, and otherwise raises ``DatasetNotFoundError`` naming every
folder searched and the commands that fetch it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from course_lib.data.cache import cache_dir
from course_lib.data.errors import DatasetHashError, DatasetNotFoundError
from course_lib.data.hashing import verify_file
from course_lib.data.registry import DatasetSpec, Variant, get_spec


@dataclass(frozen=True)
class Located:
    """Where a dataset was found.

    Attributes:
        name: registry name.
        variant: which accepted file set was found (``"official"``, ``"mirror"``...), or for
            datasets without files ``"bundled"`` / ``"generated"``.
        files: each file's role -> its path.
        notes: what to know about this variant (empty for the official files).
        searched: the folders searched, in order.
        hashes: each file's role -> the known hash it matched (filled in by ``verify``).
    """

    name: str
    variant: str
    files: dict[str, Path]
    notes: str = ""
    searched: tuple[Path, ...] = ()
    hashes: dict[str, str] = field(default_factory=dict)

    @property
    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.files.values())


def data_dirs() -> list[Path]:
    """The folders named by ``$COURSE_DATA_DIR`` (none if unset)."""
    raw = os.environ.get("COURSE_DATA_DIR", "")
    return [Path(p).expanduser() for p in raw.split(os.pathsep) if p.strip()]


def search_places(spec: DatasetSpec) -> list[tuple[Path, str]]:
    """Every folder searched for ``spec``'s files, in order, each with where it comes from."""
    places: list[tuple[Path, str]] = []
    for root in data_dirs():
        places.append((root, "$COURSE_DATA_DIR"))
        places += [(root / folder, "$COURSE_DATA_DIR") for folder in spec.folder_names]
    places.append((cache_dir() / spec.name, "user cache"))
    places += [(Path(d).expanduser(), "system") for d in spec.system_dirs]
    return list(dict.fromkeys(places))


def _find_file(names: tuple[str, ...], places: list[tuple[Path, str]]) -> Path | None:
    for folder, _ in places:
        for name in names:
            candidate = folder / name
            if candidate.is_file():
                return candidate
    return None


def find_variants(spec: DatasetSpec) -> list[tuple[Variant, dict[str, Path]]]:
    """For every variant, the files of it that were found (possibly none, possibly all)."""
    places = search_places(spec)
    found = []
    for variant in spec.variants:
        paths = {f.key: _find_file(f.names, places) for f in variant.files}
        found.append((variant, {k: p for k, p in paths.items() if p is not None}))
    return found


def find_all_copies(spec: DatasetSpec) -> list[tuple[Variant, str, Path]]:
    """Every copy of every file of ``spec`` in every searched place (for ``course data check``)."""
    copies = []
    for variant in spec.variants:
        for f in variant.files:
            for folder, _ in search_places(spec):
                copies += [(variant, f.key, folder / n) for n in f.names if (folder / n).is_file()]
    return list(dict.fromkeys(copies))


def locate(name: str, *, verify: bool = False) -> Located:
    """Find a dataset's files locally (never downloads).

    Args:
        name: registry name, see ``available()``.
        verify: also check every file's hash (once per file; see ``course_lib.data.hashing``).

    Returns:
        Where each file is, and which variant they form.

    Raises:
        KeyError: unknown name.
        DatasetNotFoundError: no variant is complete in any searched place.
        DatasetHashError: with ``verify``, a file matches none of its known hashes.
    """
    spec = get_spec(name)
    if spec.kind != "files":
        return Located(name, spec.kind, {}, notes=spec.description)
    for variant, paths in find_variants(spec):
        if len(paths) == len(variant.files):
            searched = tuple(folder for folder, _ in search_places(spec))
            located = Located(name, variant.label, paths, variant.notes, searched)
            return _verify(spec, located) if verify else located
    raise not_found_error(spec)


def _verify(spec: DatasetSpec, located: Located) -> Located:
    variant = next(v for v in spec.variants if v.label == located.variant)
    hashes = {}
    for f in variant.files:
        what = f"dataset {spec.name!r} ({variant.label} file {f.filename})"
        hashes[f.key] = verify_file(located.files[f.key], f.hashes, what=what).value
    return replace(located, hashes=hashes)


def fetch(name: str) -> Located:
    """Download the official files into the user cache with pooch, then verify them.

    Files already in the cache with the right hash are not downloaded again.

    Raises:
        DatasetNotFoundError: the dataset has no downloadable variant, or the download failed
            (no network, say); the message lists the places searched and other ways to get it.
        DatasetHashError: the server sent a file whose hash is wrong.
    """
    import pooch

    spec = get_spec(name)
    variant = spec.official()
    if variant is None:
        raise not_found_error(spec, reason="it has no downloadable source")
    target = cache_dir() / spec.name
    paths = {}
    for f in variant.files:
        try:
            downloaded = pooch.retrieve(
                f.url,
                known_hash=next(h.value for h in f.hashes if not h.decompressed),
                fname=f.filename,
                path=target,
                progressbar=sys.stderr.isatty(),
            )
        except ValueError as err:  # pooch's hash mismatch
            raise DatasetHashError(
                f"downloading {f.url} for dataset {name!r} gave a file with the wrong hash: {err}",
                expected=[h.value for h in f.hashes],
            ) from err
        except Exception as err:  # requests/OS errors: no network, HTTP 404, disk full...
            raise not_found_error(spec, reason=f"downloading {f.url} failed: {err}") from err
        paths[f.key] = Path(downloaded)
        try:
            verify_file(paths[f.key], f.hashes, what=f"dataset {name!r} ({f.filename})")
        except DatasetHashError:
            # Ours to delete (it was just downloaded into the cache); left in place it would
            # shadow any good copy found later in the search order.
            paths[f.key].unlink(missing_ok=True)
            raise
    searched = tuple(folder for folder, _ in search_places(spec))
    return _verify(spec, Located(name, variant.label, paths, variant.notes, searched))


def resolve(name: str) -> Located:
    """Local files if any (verified), else a download (unless ``$COURSE_DATA_OFFLINE``)."""
    try:
        return locate(name, verify=True)
    except DatasetNotFoundError:
        spec = get_spec(name)
        if os.environ.get("COURSE_DATA_OFFLINE") or spec.official() is None:
            raise
        return fetch(name)


def fetch_commands(spec: DatasetSpec) -> list[str]:
    """Shell commands that would put the dataset where the loader looks."""
    commands = [f"course data fetch {spec.name}"] if spec.official() else []
    return commands + list(spec.install_hints)


def not_found_error(spec: DatasetSpec, reason: str = "") -> DatasetNotFoundError:
    """The error for a dataset found nowhere: every folder searched, the files, the fixes."""
    places = search_places(spec)
    width = max(len(str(p)) for p, _ in places)
    lines = [f"Dataset {spec.name!r} ({spec.title}) was not found on this machine."]
    lines.append("Looked for these files:")
    for variant, found in find_variants(spec):
        names = ", ".join(f.filename for f in variant.files)
        lines.append(f"  {variant.label}: {names}")
        lines += [f"    (found only {k} at {p})" for k, p in found.items()]
    lines.append("in these folders, in this order:")
    lines += [f"  {p!s:<{width}}  ({origin})" for p, origin in places]
    if not data_dirs():
        lines.append("  ($COURSE_DATA_DIR is not set)")
    if reason:
        lines.append(f"Could not download it: {reason}")
    elif os.environ.get("COURSE_DATA_OFFLINE"):
        lines.append("Did not try to download it: $COURSE_DATA_OFFLINE is set.")
    commands = fetch_commands(spec)
    if commands:
        lines.append("To get it, run:")
        lines += [f"  {c}" for c in commands]
        lines.append("or download the official files yourself into one of the folders above:")
    else:
        lines.append("Copy the files into one of the folders above.")
    official = spec.official()
    lines += [f"  {f.url}" for f in (official.files if official else ())]
    return DatasetNotFoundError(
        "\n".join(lines), name=spec.name, searched=[p for p, _ in places], commands=commands
    )
