"""IMDB Large Movie Review Dataset v1.0: 50,000 reviews labelled positive or negative.

Source: Maas, Daly, Pham, Huang, Ng & Potts (2011), "Learning Word Vectors for Sentiment
Analysis", ACL; https://ai.stanford.edu/~amaas/data/sentiment/ (released by the authors for
research; cite the paper). Reviews rated 1-4 are negative (label 0), 7-10 positive (label 1);
25,000 train and 25,000 test, half of each positive. The unlabelled ``unsup`` reviews are not used.

Both file layouts give identical tensors: the official archive
(``aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt`` inside ``aclImdb_v1.tar.gz``) and the
course mirror (``imdb_{train,test}.jsonl.gz``, one ``{"id", "rating", "label", "text"}`` per
line), because reviews are put in one canonical order: negatives then positives, by id.

Tokenising 50,000 reviews takes seconds, so the encoded corpus is cached in the user cache,
keyed on the source files' hashes and the tokenizer's version; a vocabulary, a validation
split and fixed-length id tensors are then built from it in well under a second.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import tarfile
from pathlib import Path

import numpy as np
import torch

from course_lib.data import text
from course_lib.data.cache import cache_dir, load_arrays, save_arrays
from course_lib.data.locate import Located
from course_lib.data.splits import DatasetSplits, Split, stratified_holdout, stratified_subset

CLASS_NAMES = ("negative", "positive")
_MEMBER = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")
# One review: (label, id, rating, text).
Review = tuple[int, int, int, str]


def read_archive(path: Path) -> dict[str, list[Review]]:
    """The labelled reviews from the official ``aclImdb_v1.tar.gz``, per split, in canonical
    order. The archive is streamed once; nothing is extracted to disk."""
    reviews: dict[str, list[Review]] = {"train": [], "test": []}
    with tarfile.open(path, "r:*") as archive:
        for member in archive:
            match = _MEMBER.search(member.name)
            if not (match and member.isfile()):
                continue
            split, polarity, review_id, rating = match.groups()
            handle = archive.extractfile(member)
            assert handle is not None  # isfile() above
            body = handle.read().decode("utf-8")
            label = int(polarity == "pos")
            reviews[split].append((label, int(review_id), int(rating), body))
    return {split: sorted(rows) for split, rows in reviews.items()}


def read_jsonl(path: Path) -> list[Review]:
    """The reviews of one mirror file, in canonical order."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return sorted((int(r["label"]), int(r["id"]), int(r["rating"]), r["text"]) for r in rows)


def _encode(located: Located) -> dict[str, np.ndarray]:
    if "archive" in located.files:
        reviews = read_archive(located.files["archive"])
    else:
        reviews = {s: read_jsonl(located.files[s]) for s in ("train", "test")}
    index: dict[str, int] = {}
    arrays: dict[str, np.ndarray] = {}
    for split in ("train", "test"):  # train first: its words get the low provisional ids
        rows = reviews[split]
        ids, offsets = text.encode_corpus((r[3] for r in rows), index)
        arrays[f"{split}_ids"], arrays[f"{split}_offsets"] = ids, offsets
        arrays[f"{split}_labels"] = np.array([r[0] for r in rows], dtype=np.int64)
        arrays[f"{split}_ratings"] = np.array([r[2] for r in rows], dtype=np.int64)
    # Tokens never contain a newline, so the word list is stored as one joined byte string.
    arrays["words"] = np.frombuffer("\n".join(index).encode("utf-8"), dtype=np.uint8)
    return arrays


def encoded_corpus(located: Located) -> tuple[dict[str, np.ndarray], list[str]]:
    """The tokenised corpus, from the cache when it is there (else computed and cached).

    Returns:
        ``(arrays, words)``: per split ``{split}_ids``, ``_offsets``, ``_labels``, ``_ratings``
        (see ``text.encode_corpus``), and the provisional id -> word list.
    """
    key_source = json.dumps(
        {"tokenizer": text.TOKENIZER_VERSION, "files": sorted(located.hashes.items())}
    )
    key = hashlib.sha256(key_source.encode()).hexdigest()[:16]
    path = cache_dir() / "imdb" / f"encoded-{key}.npz"
    arrays = load_arrays(path) if located.hashes else None
    if arrays is None:
        arrays = _encode(located)
        if located.hashes:  # unverified files never seed the cache
            save_arrays(path, arrays)
    words = arrays["words"].tobytes().decode("utf-8").split("\n")
    return arrays, words


def build(
    located: Located,
    *,
    seed: int = 0,
    max_len: int = 256,
    vocab_size: int | None = 20000,
    val_size: int = 2500,
    subset: int | None = None,
) -> DatasetSplits:
    """Build fixed-length token-id splits.

    Args:
        located: the files (``archive``, or ``train`` and ``test`` mirror files).
        seed: seeds the validation hold-out and the subset.
        max_len: tokens kept per review: the first ``max_len``; shorter reviews are padded
            with 0 at the end (``x != 0`` is the mask).
        vocab_size: ids in ``[0, vocab_size)``: 0 ``<pad>``, 1 ``<unk>``, then the most
            frequent words of the returned TRAINING split (validation and test words never
            enter the vocabulary). None keeps every training word.
        val_size: reviews held out of the official training set (half of each class).
        subset: if given, keep only this many training reviews (classes balanced as in the
            data) for quick runs; the vocabulary then comes from these reviews alone.

    Returns:
        ``x`` int64 ``(N, max_len)``, ``y`` int64 (1 = positive); ``meta["vocab"]`` lists the
        word of each id; test is the official test set (25,000 reviews).
    """
    arrays, words = encoded_corpus(located)
    labels = arrays["train_labels"]
    train_rows, val_rows = stratified_holdout(labels, val_size, seed)
    if subset is not None:
        train_rows = train_rows[stratified_subset(labels[train_rows], subset, seed + 1)]
    ids, offsets = arrays["train_ids"], arrays["train_offsets"]
    vocab, mapping = text.build_vocab(ids, offsets, train_rows, words, vocab_size)

    def split(prefix: str, rows: np.ndarray) -> Split:
        x = text.pad_truncate(
            arrays[f"{prefix}_ids"], arrays[f"{prefix}_offsets"], rows, mapping, max_len
        )
        return Split(x, torch.from_numpy(arrays[f"{prefix}_labels"][rows]))

    test_rows = np.arange(len(arrays["test_labels"]))
    meta = {
        "num_classes": 2,
        "class_names": list(CLASS_NAMES),
        "vocab": vocab,
        "vocab_size": len(vocab),
        "max_len": max_len,
        "pad_id": text.PAD_ID,
        "unk_id": text.UNK_ID,
        "tokenizer": "course_lib.data.text.tokenize",
        # Rows of the official training set, in canonical order (negatives then positives,
        # by review id), in each split; test is the whole official test set in that order.
        "indices": {"train": train_rows, "val": val_rows},
    }
    return DatasetSplits(
        split("train", train_rows), split("train", val_rows), split("test", test_rows), meta
    )
