"""Finding files, the errors when they are missing or wrong, verification stamps, downloads.

Most tests register a tiny made-up dataset so that every place in the search order can be
filled or emptied at will; a few use the real Fashion-MNIST entry for its Debian specifics.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from pathlib import Path

import pooch
import pytest
import torch

from course_lib.data import (
    DatasetHashError,
    DatasetNotFoundError,
    DatasetSplits,
    Split,
    available,
    load,
    locate,
    registry,
)
from course_lib.data import hashing as hashing_module
from course_lib.data.registry import DatasetSpec, FileSpec, KnownHash, Variant

OFFICIAL = b"the official tiny file\n"
MIRROR = b"the mirror's tiny file\n"
URL = "https://example.org/tiny.txt"


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def build_tiny(located, *, seed: int = 0) -> DatasetSplits:
    """Builder of the made-up dataset: one example per byte of its file."""
    data = torch.tensor(list(located.files["txt"].read_bytes()), dtype=torch.float32)
    s = Split(data[:, None], torch.zeros(len(data), dtype=torch.int64))
    return DatasetSplits(s, s, s, {"seed_seen": seed})


@pytest.fixture
def tiny(empty_env, tmp_path, monkeypatch):
    """Register the made-up dataset 'tiny'; returns its folders (data, cache, system)."""
    system = tmp_path / "system"
    system.mkdir()
    spec = DatasetSpec(
        name="tiny_set",
        title="Tiny",
        description="a made-up dataset",
        source="https://example.org",
        license="CC0",
        citation="nobody",
        builder=f"{__name__}:build_tiny",
        variants=(
            Variant(
                "official",
                (FileSpec("txt", "tiny.txt", (KnownHash(f"md5:{_md5(OFFICIAL)}"),), url=URL),),
            ),
            Variant(
                "mirror",
                (
                    FileSpec(
                        "txt", "tiny_mirror.txt", (KnownHash(f"md5:{_md5(MIRROR)}", "mirror"),)
                    ),
                ),
                notes="mirror note",
            ),
        ),
        folders=("tiny-alias",),
        system_dirs=(str(system),),
        install_hints=("apt-get install tiny-data",),
    )
    monkeypatch.setitem(registry.REGISTRY, "tiny_set", spec)
    return {**empty_env, "system": system}


def _put(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return folder / name


def test_search_order_data_dir_then_alias_then_cache_then_system(tiny):
    _put(tiny["system"], "tiny.txt", OFFICIAL)
    assert locate("tiny_set").files["txt"].parent == tiny["system"]
    _put(tiny["cache"] / "tiny_set", "tiny.txt", OFFICIAL)
    assert locate("tiny_set").files["txt"].parent == tiny["cache"] / "tiny_set"
    _put(tiny["data"] / "tiny-alias", "tiny.txt", OFFICIAL)
    assert locate("tiny_set").files["txt"].parent == tiny["data"] / "tiny-alias"
    _put(tiny["data"] / "tiny-set", "tiny.txt", OFFICIAL)  # dashed form of the name
    assert locate("tiny_set").files["txt"].parent == tiny["data"] / "tiny-set"
    _put(tiny["data"], "tiny.txt", OFFICIAL)
    located = locate("tiny_set")
    assert located.files["txt"].parent == tiny["data"]
    assert located.variant == "official" and located.notes == ""


def test_several_data_dirs_and_the_mirror_variant(tiny, tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    monkeypatch.setenv("COURSE_DATA_DIR", os.pathsep.join([str(first), str(second)]))
    _put(second / "tiny_set", "tiny_mirror.txt", MIRROR)
    located = locate("tiny_set", verify=True)
    assert located.variant == "mirror" and located.notes == "mirror note"
    assert located.files["txt"] == second / "tiny_set" / "tiny_mirror.txt"
    assert located.hashes == {"txt": f"md5:{_md5(MIRROR)}"}
    ds = load("tiny_set", seed=5)
    assert ds.meta["variant"] == "mirror" and ds.meta["notes"] == "mirror note"
    assert ds.meta["seed_seen"] == 5 and len(ds.train) == len(MIRROR)
    # The official files win over a mirror wherever they are.
    _put(tiny["system"], "tiny.txt", OFFICIAL)
    assert locate("tiny_set").variant == "official"


def test_missing_dataset_names_every_folder_searched_and_how_to_fetch(tiny):
    with pytest.raises(DatasetNotFoundError) as info:
        load("tiny_set")
    err = info.value
    assert isinstance(err, FileNotFoundError)
    message = str(err)
    data = tiny["data"]
    expected = [
        data,
        data / "tiny_set",
        data / "tiny-set",
        data / "tiny-alias",
        tiny["cache"] / "tiny_set",
        tiny["system"],
    ]
    assert list(err.searched) == expected
    positions = [message.index(f"  {p}  ") for p in expected]
    assert positions == sorted(positions), "folders must be listed in search order"
    for needle in (
        "'tiny_set'",
        "tiny.txt",
        "tiny_mirror.txt",
        "course data fetch tiny_set",
        "apt-get install tiny-data",
        URL,
        "$COURSE_DATA_OFFLINE is set",
    ):
        assert needle in message
    assert err.commands == ("course data fetch tiny_set", "apt-get install tiny-data")


def test_missing_fashion_mnist_mentions_debian_package_and_aliases(empty_env):
    with pytest.raises(DatasetNotFoundError) as info:
        locate("fashion_mnist")
    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert "course data fetch fashion_mnist" in message
    assert str(empty_env["data"] / "fashion-mnist") in message
    assert str(empty_env["data"] / "FashionMNIST" / "raw") in message
    assert "train-images-idx3-ubyte.gz" in message


def test_download_through_pooch_into_the_cache(tiny, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_OFFLINE")
    calls = []

    def fake_retrieve(url, known_hash, fname, path, progressbar=False):
        calls.append((url, known_hash, fname, Path(path)))
        return str(_put(Path(path), fname, OFFICIAL))

    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    ds = load("tiny_set")
    assert calls == [(URL, f"md5:{_md5(OFFICIAL)}", "tiny.txt", tiny["cache"] / "tiny_set")]
    assert ds.meta["variant"] == "official"
    assert ds.meta["source"] == {"txt": str(tiny["cache"] / "tiny_set" / "tiny.txt")}
    load("tiny_set")  # now found in the cache: no second download
    assert len(calls) == 1


def test_failed_download_is_a_not_found_error_with_the_reason(tiny, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_OFFLINE")

    def no_network(*args, **kwargs):
        raise OSError("Failed to resolve 'example.org'")

    monkeypatch.setattr(pooch, "retrieve", no_network)
    with pytest.raises(DatasetNotFoundError, match=r"Failed to resolve 'example\.org'") as info:
        load("tiny_set")
    assert "course data fetch tiny_set" in str(info.value)
    assert str(tiny["system"]) in str(info.value)


def test_download_with_a_wrong_hash_is_a_hash_error(tiny, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_OFFLINE")

    def bad_server(*args, **kwargs):
        raise ValueError("MD5 hash of downloaded file does not match the known hash")

    monkeypatch.setattr(pooch, "retrieve", bad_server)
    with pytest.raises(DatasetHashError, match="wrong hash"):
        load("tiny_set")


def test_corrupt_file_names_the_file_and_both_hashes(tiny):
    bad = _put(tiny["data"], "tiny_mirror.txt", MIRROR[:-2] + b"?\n")
    with pytest.raises(DatasetHashError) as info:
        load("tiny_set")
    err, message = info.value, str(info.value)
    assert isinstance(err, ValueError)
    assert str(bad) in message
    assert _md5(MIRROR) in message  # expected
    assert _md5(bad.read_bytes()) in message  # actual
    assert err.path == bad
    assert err.expected == (f"md5:{_md5(MIRROR)}",)
    assert err.actual["md5"] == _md5(bad.read_bytes())


def test_a_file_is_hashed_once_until_it_changes(tiny, monkeypatch):
    path = _put(tiny["data"], "tiny.txt", OFFICIAL)
    locate("tiny_set", verify=True)
    stamps = list((tiny["cache"] / "verified").glob("*.json"))
    assert len(stamps) == 1 and str(path.resolve()) in stamps[0].read_text()

    def must_not_hash(*args, **kwargs):
        raise AssertionError("hashed again")

    monkeypatch.setattr(hashing_module, "file_digests", must_not_hash)
    assert locate("tiny_set", verify=True).hashes["txt"] == f"md5:{_md5(OFFICIAL)}"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with pytest.raises(AssertionError, match="hashed again"):
        locate("tiny_set", verify=True)


def test_unknown_names_and_options():
    with pytest.raises(KeyError, match="fashion_mnist"):
        load("fashion-mnist-typo")
    assert available()[:4] == ["fashion_mnist", "california_housing", "imdb", "pneumoniamnist"]
    assert {"digits", "breast_cancer", "diabetes", "mnist1d"} <= set(available())
    with pytest.raises(TypeError):
        load("diabetes", val_size=3)
    assert locate("digits").variant == "bundled"


@pytest.fixture(scope="session")
def debian_fashion() -> dict[str, Path]:
    """The real Fashion-MNIST files as this machine has them (fails if it has none)."""
    return locate("fashion_mnist").files


@pytest.mark.needs_data
def test_fashion_download_path_with_a_fake_pooch(debian_fashion, empty_env, monkeypatch):
    """No network: 'download' by copying the local files, checking what pooch is asked for."""
    monkeypatch.delenv("COURSE_DATA_OFFLINE")
    by_name = {p.name: p for p in debian_fashion.values()}
    asked = {}

    def fake_retrieve(url, known_hash, fname, path, progressbar=False):
        asked[fname] = (url, known_hash)
        Path(path).mkdir(parents=True, exist_ok=True)
        return shutil.copy(by_name[fname], Path(path) / fname)

    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    ds = load("fashion_mnist", val_size=100, subset=100)
    base = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
    assert asked["train-images-idx3-ubyte.gz"] == (
        base + "train-images-idx3-ubyte.gz",
        "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    )
    assert len(asked) == 4
    assert ds.train.x.shape == (100, 1, 28, 28)
    assert (
        locate("fashion_mnist").files["test_labels"].parent == empty_env["cache"] / "fashion_mnist"
    )


@pytest.mark.needs_data
def test_recompressed_or_uncompressed_idx_files_are_accepted(debian_fashion, empty_env):
    folder = empty_env["data"] / "fashion-mnist"
    folder.mkdir()
    for key, path in debian_fashion.items():
        if key.endswith("labels"):  # small: store them uncompressed
            (folder / path.name.removesuffix(".gz")).write_bytes(gzip.decompress(path.read_bytes()))
        else:
            (folder / path.name).symlink_to(path)
    located = locate("fashion_mnist", verify=True)
    assert located.files["train_labels"].name == "train-labels-idx1-ubyte"
    assert located.hashes["train_labels"] == "md5:9018921c3c673c538a1fc5bad174d6f9"
    ds = load("fashion_mnist", val_size=0, subset=50)
    assert ds.train.y.shape == (50,)
    # A truncated file is caught by its hash before the parser sees it.
    (folder / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x00")
    with pytest.raises(DatasetHashError, match="15d484375f8d13e6eb1aabb0c3f46965"):
        load("fashion_mnist")
