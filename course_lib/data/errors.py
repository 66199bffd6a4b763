"""The two ways getting a dataset can fail: it is nowhere to be found, or a file is not the one
we expect. Both carry the facts a user needs to fix it, in the message and as attributes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are in none of the places searched and could not be downloaded.

    Attributes:
        name: the registry name of the dataset.
        searched: every folder that was searched, in search order.
        commands: shell commands that would fetch or install the dataset.
    """

    def __init__(
        self,
        message: str,
        *,
        name: str,
        searched: Sequence[Path] = (),
        commands: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.name = name
        self.searched = tuple(searched)
        self.commands = tuple(commands)

    def __str__(self) -> str:
        # FileNotFoundError's own __str__ would print "[Errno None] None" for a one-argument
        # construction; the message is what the user needs.
        return str(self.args[0])


class DatasetHashError(ValueError):
    """A dataset file's hash matches none of the known versions of that file.

    Attributes:
        path: the offending file (None when a download was rejected before it was kept).
        expected: the accepted hashes, each as ``"alg:hex"``.
        actual: the file's actual hashes, ``{"md5": hex, ...}``.
    """

    def __init__(
        self,
        message: str,
        *,
        path: Path | None = None,
        expected: Sequence[str] = (),
        actual: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.expected = tuple(expected)
        self.actual = dict(actual or {})
