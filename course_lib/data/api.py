"""``load``: one call from a dataset's name to tensors split three ways."""

from __future__ import annotations

from typing import Any

from course_lib.data.locate import Located, resolve
from course_lib.data.registry import get_spec
from course_lib.data.splits import DatasetSplits


def load(name: str, *, seed: int = 0, **options: Any) -> DatasetSplits:
    """Load a dataset as train / validation / test tensors.

    Finds the files (``$COURSE_DATA_DIR``, the user cache, system folders), downloads the
    official ones if they are nowhere (hash-checked, into the cache), verifies each file's hash
    once, and builds deterministic splits.

    Args:
        name: one of ``available()``: ``"fashion_mnist"``, ``"california_housing"``,
            ``"imdb"``, ``"pneumoniamnist"``, ``"digits"``, ``"breast_cancer"``,
            ``"diabetes"``, ``"mnist1d"``.
        seed: seeds every random choice (validation hold-out, subsets, resampling,
            outliers): the same seed gives identical tensors.
        **options: the dataset's own options (an unknown one is a TypeError); details in
            the ``build`` function of its module, e.g. ``course_lib.data.imdb.build``:

            - ``fashion_mnist``: ``val_size=5000, subset=None, normalize=True``
            - ``california_housing``: ``val_fraction=0.1, test_fraction=0.2,
              outlier_fraction=0.0, outlier_scale=10.0, layout="sklearn" | "raw",
              normalize=True``
            - ``imdb``: ``max_len=256, vocab_size=20000, val_size=2500, subset=None``
            - ``pneumoniamnist``: ``positive_rate=0.05, normalize=True``
            - ``digits``, ``breast_cancer``, ``diabetes``: ``val_fraction=0.1,
              test_fraction=0.2, normalize=True``
            - ``mnist1d``: ``val_size=400``

    Returns:
        The splits; ``meta`` always has ``name``, ``title``, ``variant``, ``source`` (file
        paths), ``notes``, ``license`` and ``citation`` besides the dataset's own entries.

    Raises:
        KeyError: unknown name.
        DatasetNotFoundError: the files are nowhere and could not be downloaded.
        DatasetHashError: a file found is not a known version of it.
    """
    spec = get_spec(name)
    located = resolve(name) if spec.kind == "files" else Located(name, spec.kind, {})
    splits = spec.load_builder()(located, seed=seed, **options)
    notes = [n for n in (located.notes, splits.meta.get("notes", "")) if n]
    splits.meta.update(
        name=name,
        title=spec.title,
        variant=located.variant,
        source={key: str(path) for key, path in located.files.items()},
        notes=" ".join(notes),
        license=spec.license,
        citation=spec.citation,
        seed=seed,
    )
    return splits
