"""``course data list | check | fetch``."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from pathlib import Path

import pooch
import pytest
from click.testing import CliRunner

from course_lib.cli.data import data
from course_lib.data import available, locate, registry


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """An empty data folder and cache, no system folders, downloads off."""
    folders = {"data": tmp_path / "data", "cache": tmp_path / "cache"}
    folders["data"].mkdir()
    monkeypatch.setenv("COURSE_DATA_DIR", str(folders["data"]))
    monkeypatch.setenv("COURSE_CACHE_DIR", str(folders["cache"]))
    monkeypatch.setenv("COURSE_DATA_OFFLINE", "1")
    for name, spec in list(registry.REGISTRY.items()):
        monkeypatch.setitem(registry.REGISTRY, name, dataclasses.replace(spec, system_dirs=()))
    return folders


@pytest.fixture(scope="module")
def california_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real California Housing mirror file (this machine's copy)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COURSE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        files = locate("california_housing").files
    if "csv" not in files:
        pytest.fail("these CLI tests use the course mirror's cal_housing.csv")
    return files["csv"]


def _run(*args: str):
    return CliRunner().invoke(data, list(args))


def test_list_has_one_line_per_dataset(env, california_csv):
    (env["data"] / "california-housing").mkdir()
    shutil.copy(california_csv, env["data"] / "california-housing" / "cal_housing.csv")
    result = _run("list")
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()[1:]}
    assert list(lines) == available()
    assert lines["california_housing"].split()[1] == "found"
    assert "1.2 MB" in lines["california_housing"]
    assert str(env["data"] / "california-housing") in lines["california_housing"]
    assert lines["fashion_mnist"].split()[1] == "missing"
    assert "course data fetch fashion_mnist" in lines["fashion_mnist"]
    assert lines["digits"].split()[1] == "bundled"
    assert lines["mnist1d"].split()[1] == "generated"


def test_check_passes_on_good_files_and_fails_on_a_corrupt_one(env, california_csv):
    good = env["data"] / "cal_housing.csv"
    shutil.copy(california_csv, good)
    result = _run("check")
    assert result.exit_code == 0, result.output
    assert f"california_housing: ok {good}" in result.output
    assert "imdb: no files found" in result.output
    # A second copy, corrupted, elsewhere in the search path: check looks at every copy.
    bad = env["data"] / "california_housing" / "cal_housing.csv"
    bad.parent.mkdir()
    bad.write_bytes(good.read_bytes().replace(b"-122.23", b"-122.24", 1))
    result = _run("check", "california_housing")
    assert result.exit_code == 1
    assert f"MISMATCH {bad}" in result.output
    assert "028bb368389fa3845a7d9ebdffd71c86" in result.output  # expected
    assert hashlib.md5(bad.read_bytes()).hexdigest() in result.output  # actual
    assert "1 of 2 files failed" in result.output


def test_fetch_downloads_into_the_cache_or_explains_why_not(env, california_csv, monkeypatch):
    result = _run("fetch", "california_housing")
    assert result.exit_code == 1
    assert "course data fetch california_housing" in result.output
    assert "ndownloader.figshare.com/files/5976036" in result.output

    # With a network (faked): pooch is asked for the official archive. The fake serves the
    # mirror file under the archive's name, so the hash check rejects it.
    def fake_retrieve(url, known_hash, fname, path, progressbar=False):
        assert known_hash.startswith("sha256:aaa5c9a6")
        Path(path).mkdir(parents=True, exist_ok=True)
        return shutil.copy(california_csv, Path(path) / fname)

    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    result = _run("fetch", "california_housing")
    assert result.exit_code == 1
    assert "aaa5c9a6afe2225cc2aed2723682ae403280c4a3695a2ddda4ffb5d8215ea681" in result.output
    assert not (env["cache"] / "california_housing" / "cal_housing.tgz").exists()

    shutil.copy(california_csv, env["data"] / "cal_housing.csv")
    result = _run("fetch", "california_housing", "digits")
    assert result.exit_code == 0, result.output
    assert "california_housing: already available (mirror)" in result.output
    assert "digits: bundled, nothing to download" in result.output
