"""A deliberately simple word-level text pipeline: tokenizer, vocabulary, fixed-length ids.

The course's text models are about optimisation, not linguistics, so tokenisation is a regular
expression anyone can read: lowercase, HTML line breaks (``<br />``, which IMDB reviews are full
of) turned into spaces, then runs of letters/digits (keeping inner apostrophes: ``don't``) and
the two punctuation marks that carry sentiment, ``!`` and ``?``.

A corpus is encoded once into a flat array of provisional word ids plus row offsets (cheap to
cache); a vocabulary is then built from any subset of rows, by frequency, in a few vectorised
numpy operations. Ids: ``0`` padding, ``1`` unknown (any word outside the vocabulary), then the
vocabulary words from most to least frequent (ties alphabetical).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from itertools import chain

import numpy as np
import torch

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
# Bump when tokenize() changes: cached encodings are keyed on it.
TOKENIZER_VERSION = 1

_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
# [^\W_] is \w without the underscore: letters and digits of any script.
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[!?]")


def tokenize(text: str) -> list[str]:
    """Split a text into lowercase word tokens (see the module docstring for the rule).

    >>> tokenize("A <br /><br />great film, isn't it?!")
    ['a', 'great', 'film', "isn't", 'it', '?', '!']
    """
    return _TOKEN.findall(_BREAK.sub(" ", text.lower()))


def encode_corpus(texts: Iterable[str], index: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Tokenise texts into one flat id array and row offsets.

    Args:
        texts: the documents.
        index: word -> provisional id; new words are added (ids in order of first sight), so
            one dict shared across calls gives consistent ids across corpora.

    Returns:
        ``(ids, offsets)``: int32 ids of all tokens, and int64 offsets of length
        ``len(texts) + 1``; document ``i`` is ``ids[offsets[i]:offsets[i + 1]]``.
    """
    docs = [tokenize(t) for t in texts]
    # dict.fromkeys and map run in C: several times faster than a Python loop over 6M tokens.
    for word in dict.fromkeys(chain.from_iterable(docs)):
        index.setdefault(word, len(index))
    total = sum(map(len, docs))
    ids = np.fromiter(map(index.__getitem__, chain.from_iterable(docs)), np.int32, count=total)
    offsets = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum([len(d) for d in docs], out=offsets[1:])
    return ids, offsets


def _token_counts(ids: np.ndarray, offsets: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """How often each provisional id occurs in the given rows (documents)."""
    rows = np.unique(rows)
    n_docs = len(offsets) - 1
    # Counting over a few rows is cheap; for most rows, count all and subtract the others.
    if len(rows) > n_docs // 2:
        others = np.setdiff1d(np.arange(n_docs), rows)
        return np.bincount(ids, minlength=n) - _token_counts(ids, offsets, others, n)
    if len(rows) == 0:
        return np.zeros(n, dtype=np.int64)
    starts, ends = offsets[rows], offsets[rows + 1]
    mask = np.zeros(len(ids) + 1, dtype=np.int8)
    np.add.at(mask, starts, 1)
    np.add.at(mask, ends, -1)
    inside = np.cumsum(mask[:-1], dtype=np.int8).astype(bool)
    return np.bincount(ids[inside], minlength=n)


def build_vocab(
    ids: np.ndarray,
    offsets: np.ndarray,
    rows: np.ndarray,
    words: Sequence[str],
    size: int | None,
) -> tuple[list[str], np.ndarray]:
    """A vocabulary from the given rows only, and the map from provisional ids to final ids.

    Args:
        ids: the flat provisional ids of an encoded corpus (``encode_corpus``).
        offsets: its row offsets.
        rows: the documents whose words count (the training split: words seen only in
            validation or test documents become unknown, as they would for new data).
        words: provisional id -> word.
        size: the vocabulary size including ``<pad>`` and ``<unk>``; None keeps every word.

    Returns:
        ``(vocab, mapping)``: ``vocab[i]`` is the word with final id ``i``; ``mapping`` maps
        each provisional id to its final id (``UNK_ID`` if outside the vocabulary).
    """
    if size is not None and size < 2:
        raise ValueError(f"vocab_size must be at least 2 (<pad> and <unk>), got {size}")
    counts = _token_counts(ids, offsets, np.asarray(rows), len(words))
    candidates = np.flatnonzero(counts)
    keep = len(candidates) if size is None else min(size - 2, len(candidates))
    if 0 < keep < len(candidates):
        # Only words at least as frequent as the keep-th most frequent can make it; the exact
        # order (and alphabetical tie-break) is then settled among those few in Python.
        threshold = np.partition(counts[candidates], len(candidates) - keep)[-keep]
        candidates = candidates[counts[candidates] >= threshold]
    freq = counts.tolist()
    order = sorted(candidates.tolist(), key=lambda i: (-freq[i], words[i]))[:keep]
    mapping = np.full(len(words), UNK_ID, dtype=np.int64)
    mapping[order] = np.arange(2, len(order) + 2)
    return [PAD, UNK, *(words[i] for i in order)], mapping


def pad_truncate(
    ids: np.ndarray, offsets: np.ndarray, rows: np.ndarray, mapping: np.ndarray, max_len: int
) -> torch.Tensor:
    """Final ids of the given rows, each cut to its first ``max_len`` tokens and right-padded.

    Returns:
        int64 tensor ``(len(rows), max_len)``; padding is ``PAD_ID`` (0).
    """
    rows = np.asarray(rows, dtype=np.int64)
    starts = offsets[rows]
    lengths = offsets[rows + 1] - starts
    position = np.arange(max_len)
    valid = position[None, :] < lengths[:, None]
    # Out-of-row positions read a clamped index and are then overwritten with padding.
    source = np.minimum(starts[:, None] + position[None, :], max(len(ids) - 1, 0))
    out = mapping[ids[source]] if len(ids) else np.zeros(valid.shape, dtype=np.int64)
    out[~valid] = PAD_ID
    return torch.from_numpy(out)


def encode(texts: Sequence[str], vocab: Sequence[str], max_len: int) -> torch.Tensor:
    """Encode new texts with an existing vocabulary (e.g. ``meta["vocab"]`` of a loaded set).

    Returns:
        int64 tensor ``(len(texts), max_len)``, laid out like the loaded splits.
    """
    lookup = {w: i for i, w in enumerate(vocab)}
    out = torch.full((len(texts), max_len), PAD_ID, dtype=torch.int64)
    for row, text in enumerate(texts):
        tokens = [lookup.get(w, UNK_ID) for w in tokenize(text)[:max_len]]
        out[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.int64)
    return out
