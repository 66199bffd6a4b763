"""Fixtures for the data tests.

Every test here runs with a private cache folder (shared by the xdist workers of one run, so
IMDB is tokenised once per run, not once per worker) and with downloads switched off
(``$COURSE_DATA_OFFLINE``): a dataset missing on this machine fails its tests with the loader's
``DatasetNotFoundError``, which says where it looked and how to get the data, instead of
skipping or reaching for the network. Tests of the error paths build their own empty folders.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from course_lib.data import registry


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder for the whole test run, across xdist workers."""
    root = tmp_path_factory.getbasetemp()
    if root.name.startswith("popen-gw"):  # xdist: each worker has a sub-folder of the run's
        root = root.parent
    path = root / "course-cache"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session", autouse=True)
def _isolated_data_env(shared_cache: Path) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COURSE_CACHE_DIR", str(shared_cache))
        mp.setenv("COURSE_DATA_OFFLINE", "1")
        yield


@pytest.fixture
def empty_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Empty data and cache folders, and no system folders: nothing can be found."""
    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    monkeypatch.setenv("COURSE_DATA_DIR", str(data))
    monkeypatch.setenv("COURSE_CACHE_DIR", str(cache))
    for name, spec in list(registry.REGISTRY.items()):
        monkeypatch.setitem(registry.REGISTRY, name, dataclasses.replace(spec, system_dirs=()))
    return {"data": data, "cache": cache}
