"""The types a registry entry is made of: accepted hashes, files, variants, datasets."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class KnownHash:
    """One accepted hash of a file.

    Attributes:
        value: ``"alg:hex"`` as pooch writes it, e.g. ``"md5:8d4f..."``.
        what: what this hash identifies, for messages ("official file", "Debian's copy").
        decompressed: the hash is of the gzip-decompressed content, not of the file's bytes
            (a raw, uncompressed file is hashed as is). Recompressing a ``.gz`` changes its
            bytes but not its content, which is why Debian's copies need this.
    """

    value: str
    what: str = "official file"
    decompressed: bool = False

    @property
    def algorithm(self) -> str:
        return self.value.split(":", 1)[0]

    @property
    def hexdigest(self) -> str:
        return self.value.split(":", 1)[1].lower()


@dataclass(frozen=True)
class FileSpec:
    """One file of a dataset variant.

    Attributes:
        key: the role the parser knows it by (``"train_images"``).
        filename: the name searched for (and downloaded as).
        hashes: every accepted version of the file; any one match is enough.
        url: where the official file is downloaded from; None for mirror-only files.
        alt_names: other names accepted when searching (an uncompressed copy, say).
    """

    key: str
    filename: str
    hashes: tuple[KnownHash, ...]
    url: str | None = None
    alt_names: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.filename, *self.alt_names)


@dataclass(frozen=True)
class Variant:
    """A complete set of files from which the dataset can be built (official, or a mirror).

    Attributes:
        label: short name shown to users (``"official"``, ``"mirror"``).
        files: the files; all must be present for the variant to be usable.
        notes: what a user of this variant should know (ends up in ``meta["notes"]``).
    """

    label: str
    files: tuple[FileSpec, ...]
    notes: str = ""

    @property
    def downloadable(self) -> bool:
        return all(f.url is not None for f in self.files)


@dataclass(frozen=True)
class DatasetSpec:
    """A registry entry.

    Attributes:
        name: the name ``load`` takes.
        title: a human name.
        description: one line on what it is.
        source: the official home page.
        license: the licence the data is distributed under.
        citation: whom to cite.
        builder: ``"module:function"`` that turns located files into ``DatasetSplits``.
        kind: ``"files"`` (searched for and downloaded), ``"bundled"`` (ships inside an
            installed package) or ``"generated"`` (computed by a package).
        variants: for ``"files"``, the accepted file sets in order of preference.
        folders: extra folder names searched under each data directory.
        system_dirs: fixed places searched last (``~`` is expanded).
        install_hints: commands besides ``course data fetch`` that provide the files.
    """

    name: str
    title: str
    description: str
    source: str
    license: str
    citation: str
    builder: str
    kind: Literal["files", "bundled", "generated"] = "files"
    variants: tuple[Variant, ...] = ()
    folders: tuple[str, ...] = ()
    system_dirs: tuple[str, ...] = ()
    install_hints: tuple[str, ...] = ()

    @property
    def folder_names(self) -> tuple[str, ...]:
        """Folder names searched under a data directory: the name, its dashed form, aliases."""
        names = (self.name, self.name.replace("_", "-"), *self.folders)
        return tuple(dict.fromkeys(names))

    def official(self) -> Variant | None:
        """The first variant that can be downloaded, if any."""
        return next((v for v in self.variants if v.downloadable), None)

    def load_builder(self) -> Callable[..., Any]:
        module, _, func = self.builder.partition(":")
        return getattr(importlib.import_module(module), func)
