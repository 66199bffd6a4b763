"""The dataset registry: what each dataset is, where it officially comes from, and which files
(with which hashes) we accept as a copy of it.

This module is data. Every URL and hash lives here, in one place, so that auditing where the
course's data comes from means reading one file. Parsers live in the dataset modules and are
named by import path, so importing the registry imports none of them. The types are in
``course_lib.data.specs``.
"""

from __future__ import annotations

from course_lib.data.specs import DatasetSpec, FileSpec, KnownHash, Variant

__all__ = [
    "REGISTRY",
    "DatasetSpec",
    "FileSpec",
    "KnownHash",
    "Variant",
    "available",
    "get_spec",
    "register",
]

_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_DEBIAN = "decompressed content (Debian's recompressed copy)"


def _fashion_file(key: str, stem: str, md5: str, content_md5: str) -> FileSpec:
    return FileSpec(
        key=key,
        filename=f"{stem}.gz",
        url=_FASHION_URL + f"{stem}.gz",
        hashes=(KnownHash(f"md5:{md5}"), KnownHash(f"md5:{content_md5}", _DEBIAN, True)),
        alt_names=(stem,),
    )


REGISTRY: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec) -> DatasetSpec:
    """Add (or replace) a registry entry and return it."""
    REGISTRY[spec.name] = spec
    return spec


register(
    DatasetSpec(
        name="fashion_mnist",
        title="Fashion-MNIST",
        description="70,000 28x28 grey images of clothing in 10 classes (60k train, 10k test)",
        source="https://github.com/zalandoresearch/fashion-mnist",
        license="MIT",
        citation="Xiao, Rasul & Vollgraf (2017), arXiv:1708.07747",
        builder="course_lib.data.fashion_mnist:build",
        variants=(
            Variant(
                "official",
                (
                    _fashion_file(
                        "train_images",
                        "train-images-idx3-ubyte",
                        "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                        "f4a8712d7a061bf5bd6d2ca38dc4d50a",
                    ),
                    _fashion_file(
                        "train_labels",
                        "train-labels-idx1-ubyte",
                        "25c81989df183df01b3e8a0aad5dffbe",
                        "9018921c3c673c538a1fc5bad174d6f9",
                    ),
                    _fashion_file(
                        "test_images",
                        "t10k-images-idx3-ubyte",
                        "bef4ecab320f06d8554ea6380940ec79",
                        "8181f5470baa50b63fa0f6fddb340f0a",
                    ),
                    _fashion_file(
                        "test_labels",
                        "t10k-labels-idx1-ubyte",
                        "bb300cfdad3c16e7a12a480ee83cd310",
                        "15d484375f8d13e6eb1aabb0c3f46965",
                    ),
                ),
            ),
        ),
        # torchvision keeps these files in <root>/FashionMNIST/raw.
        folders=("FashionMNIST/raw", "FashionMNIST"),
        system_dirs=("/usr/share/datasets/fashion-mnist",),
        install_hints=("sudo apt-get install dataset-fashion-mnist   # Debian/Ubuntu",),
    )
)

register(
    DatasetSpec(
        name="california_housing",
        title="California Housing",
        description="20,640 census block groups of California (1990), 8 features, house value",
        source="https://www.dcc.fc.up.pt/~ltorgo/Regression/cal_housing.html",
        license="public domain (StatLib)",
        citation="Pace & Barry (1997), Sparse spatial autoregressions, Stat. Prob. Letters 33",
        builder="course_lib.data.california_housing:build",
        variants=(
            Variant(
                "official",
                (
                    FileSpec(
                        "archive",
                        "cal_housing.tgz",
                        # The archive scikit-learn's fetch_california_housing downloads.
                        url="https://ndownloader.figshare.com/files/5976036",
                        hashes=(
                            KnownHash(
                                "sha256:aaa5c9a6afe2225cc2aed2723682ae40"
                                "3280c4a3695a2ddda4ffb5d8215ea681"
                            ),
                        ),
                    ),
                ),
            ),
            Variant(
                "mirror",
                (
                    FileSpec(
                        "csv",
                        "cal_housing.csv",
                        hashes=(
                            KnownHash("md5:028bb368389fa3845a7d9ebdffd71c86", "course mirror"),
                        ),
                    ),
                ),
                notes="Course mirror: cal_housing.data from the official archive with a header.",
            ),
        ),
        folders=("cal_housing", "CaliforniaHousing"),
    )
)

register(
    DatasetSpec(
        name="imdb",
        title="IMDB Large Movie Review Dataset v1.0",
        description="50,000 labelled movie reviews for binary sentiment (25k train, 25k test)",
        source="https://ai.stanford.edu/~amaas/data/sentiment/",
        license="released for research by the authors (see the dataset's README)",
        citation="Maas et al. (2011), Learning Word Vectors for Sentiment Analysis, ACL",
        builder="course_lib.data.imdb:build",
        variants=(
            Variant(
                "official",
                (
                    FileSpec(
                        "archive",
                        "aclImdb_v1.tar.gz",
                        url="https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                        hashes=(KnownHash("md5:7c2ac02c03563afcf9b574c7e56c153a"),),
                    ),
                ),
            ),
            Variant(
                "mirror",
                (
                    FileSpec(
                        "train",
                        "imdb_train.jsonl.gz",
                        hashes=(
                            KnownHash("md5:9660bda4f9b657e1e14ad542930a8620", "course mirror"),
                        ),
                    ),
                    FileSpec(
                        "test",
                        "imdb_test.jsonl.gz",
                        hashes=(
                            KnownHash("md5:6eddabe7d166b0a95cc0c6a7c1203dbd", "course mirror"),
                        ),
                    ),
                ),
                notes="Course mirror: the official reviews re-packed one JSON object per line; "
                "texts are byte-identical to aclImdb/{train,test}/{pos,neg}/*.txt.",
            ),
        ),
        folders=("aclImdb",),
    )
)

register(
    DatasetSpec(
        name="pneumoniamnist",
        title="PneumoniaMNIST (MedMNIST v2)",
        description="5,856 28x28 grey paediatric chest X-rays, normal vs pneumonia",
        source="https://medmnist.com/",
        license="CC BY 4.0",
        citation="Yang et al. (2023), MedMNIST v2, Scientific Data 10:41; "
        "source images Kermany et al. (2018), Cell 172:1122",
        builder="course_lib.data.pneumoniamnist:build",
        variants=(
            Variant(
                "official",
                (
                    FileSpec(
                        "npz",
                        "pneumoniamnist.npz",
                        url="https://zenodo.org/records/10519652/files/pneumoniamnist.npz?download=1",
                        hashes=(KnownHash("md5:28209eda62fecd6e6a2d98b1501bb15f"),),
                    ),
                ),
            ),
            Variant(
                "mirror",
                (
                    FileSpec(
                        "npz",
                        "pneumoniamnist_reconstructed.npz",
                        hashes=(
                            KnownHash("md5:238a40f8f78b9a61dfdd21e86aac35f9", "course mirror"),
                        ),
                    ),
                ),
                notes="Reconstructed mirror: rebuilt from two public third-party copies to the "
                "official split sizes; its sample order differs from the official file, so the "
                "official md5 (28209eda62fecd6e6a2d98b1501bb15f) does not apply to it.",
            ),
        ),
        folders=("medmnist",),
        # Where the medmnist package downloads to by default.
        system_dirs=("~/.medmnist",),
    )
)

_SKLEARN = dict(
    source="https://scikit-learn.org/stable/datasets/toy_dataset.html",
    builder="course_lib.data.toy:build",
    kind="bundled",
)
register(
    DatasetSpec(
        name="digits",
        title="Optical digits (UCI)",
        description="1,797 8x8 images of handwritten digits, 10 classes (bundled with sklearn)",
        license="CC BY 4.0 (UCI ML Repository)",
        citation="Alpaydin & Kaynak (1998), UCI Optical Recognition of Handwritten Digits",
        **_SKLEARN,
    )
)
register(
    DatasetSpec(
        name="breast_cancer",
        title="Breast Cancer Wisconsin (Diagnostic)",
        description="569 tumours, 30 features, malignant vs benign (bundled with sklearn)",
        license="CC BY 4.0 (UCI ML Repository)",
        citation="Street, Wolberg & Mangasarian (1993), SPIE 1905",
        **_SKLEARN,
    )
)
register(
    DatasetSpec(
        name="diabetes",
        title="Diabetes (Efron et al.)",
        description="442 patients, 10 standardised features, disease progression (regression)",
        license="distributed with scikit-learn (BSD-3-Clause)",
        citation="Efron, Hastie, Johnstone & Tibshirani (2004), Least Angle Regression, Ann. Stat.",
        **_SKLEARN,
    )
)
register(
    DatasetSpec(
        name="mnist1d",
        title="MNIST-1D",
        description="5,000 procedurally generated 1-D signals of length 40, 10 classes",
        source="https://github.com/greydanus/mnist1d",
        license="Apache-2.0",
        citation="Greydanus & Kobak (2024), Scaling Down Deep Learning with MNIST-1D, ICML",
        builder="course_lib.data.toy:build",
        kind="generated",
    )
)


def available() -> list[str]:
    """Names of every registered dataset, in registry order."""
    return list(REGISTRY)


def get_spec(name: str) -> DatasetSpec:
    """The registry entry for ``name``.

    Raises:
        KeyError: for an unknown name; the message lists the known ones.
    """
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(REGISTRY)
        raise KeyError(f"unknown dataset {name!r}; known datasets: {known}") from None
