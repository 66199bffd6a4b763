"""IMDB reviews: both file layouts, vocabulary from the training split only, the cache."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import time

import pytest
import torch

from course_lib.data import load, locate
from course_lib.data.imdb import build, read_jsonl
from course_lib.data.locate import Located
from course_lib.data.text import PAD_ID, UNK_ID, encode, tokenize


@pytest.fixture(scope="module")
def imdb():
    """The default load (tokenises the corpus once per test run, into the test cache)."""
    return load("imdb", seed=0)


@pytest.mark.needs_data
def test_official_sizes_and_balance(imdb):
    assert (len(imdb.train), len(imdb.val), len(imdb.test)) == (22500, 2500, 25000)
    assert int(imdb.train.y.sum() + imdb.val.y.sum()) == 12500
    assert int(imdb.val.y.sum()) == 1250 and int(imdb.test.y.sum()) == 12500
    assert imdb.train.x.shape == (22500, 256) and imdb.train.x.dtype == torch.int64
    assert imdb.meta["vocab_size"] == 20000 == len(imdb.meta["vocab"])
    assert imdb.meta["vocab"][:2] == ["<pad>", "<unk>"]
    assert int(imdb.train.x.max()) < 20000 and int(imdb.test.x.min()) == PAD_ID
    # The most frequent training words lead the vocabulary.
    assert imdb.meta["vocab"][2:5] == ["the", "and", "a"]
    assert "br" not in imdb.meta["vocab"]  # <br /> is markup, not a word


@pytest.mark.needs_data
def test_second_load_comes_from_the_token_cache(imdb):
    start = time.perf_counter()
    again = load("imdb", seed=0)
    assert time.perf_counter() - start < 5.0
    assert torch.equal(again.train.x, imdb.train.x) and torch.equal(again.test.y, imdb.test.y)
    other = load("imdb", seed=1)
    assert not torch.equal(other.val.y, imdb.val.y) or not torch.equal(other.val.x, imdb.val.x)


@pytest.mark.needs_data
def test_vocabulary_comes_from_the_training_split_only():
    ds = load("imdb", seed=0, subset=300, vocab_size=None, max_len=64)
    files = locate("imdb").files
    if "train" in files:
        train_reviews = read_jsonl(files["train"])
        test_reviews = read_jsonl(files["test"])
    else:  # the official archive
        from course_lib.data.imdb import read_archive

        reviews = read_archive(files["archive"])
        train_reviews, test_reviews = reviews["train"], reviews["test"]
    chosen = ds.meta["indices"]["train"]
    train_words = {w for i in chosen for w in tokenize(train_reviews[i][3])}
    assert set(ds.meta["vocab"][2:]) == train_words
    lookup = {w: i for i, w in enumerate(ds.meta["vocab"])}
    # A word that occurs in a test review but in no training review is unknown.
    for row, review in enumerate(test_reviews[:200]):
        tokens = tokenize(review[3])[:64]
        expected = [lookup.get(w, UNK_ID) for w in tokens]
        assert ds.test.x[row, : len(tokens)].tolist() == expected
        assert ds.test.x[row, len(tokens) :].eq(PAD_ID).all()
    unseen = [w for r in test_reviews[:200] for w in tokenize(r[3])[:64] if w not in train_words]
    assert unseen, "expected some test-only words"
    assert torch.equal(
        ds.test.x[:200], encode([r[3] for r in test_reviews[:200]], ds.meta["vocab"], 64)
    )


def test_tokenizer():
    assert tokenize("It's <br /><BR/>GREAT!! 10/10, don't miss…") == [
        "it's", "great", "!", "!", "10", "10", "don't", "miss",
    ]  # fmt: skip
    assert tokenize("café naïve_word 'quoted'") == ["café", "naïve", "word", "quoted"]


REVIEWS = {
    "train": [(1, 3, 8, "Great fun, great cast."), (0, 1, 2, "Dull.<br />Dull plot"),
              (1, 0, 10, "A masterpiece!"), (0, 7, 1, "Awful awful acting"),
              (0, 2, 3, "Boring and slow"), (1, 5, 9, "Loved it, trainonly")],
    "test": [(1, 0, 7, "Fun cast, testonly word"), (0, 4, 2, "Slow and dull")],
}  # fmt: skip


def _official_archive(path):
    with tarfile.open(path, "w:gz") as tar:
        for split, rows in REVIEWS.items():
            for label, review_id, rating, text in rows:
                polarity = "pos" if label else "neg"
                data = text.encode()
                info = tarfile.TarInfo(f"aclImdb/{split}/{polarity}/{review_id}_{rating}.txt")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        extra = tarfile.TarInfo("aclImdb/train/unsup/0_0.txt")  # unlabelled: ignored
        extra.size = 4
        tar.addfile(extra, io.BytesIO(b"skip"))


def _mirror(path, rows):
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for label, review_id, rating, text in reversed(rows):  # order must not matter
            record = {"id": review_id, "rating": rating, "label": label, "text": text}
            handle.write(json.dumps(record) + "\n")


def test_archive_and_mirror_layouts_give_identical_tensors(tmp_path):
    _official_archive(tmp_path / "aclImdb_v1.tar.gz")
    _mirror(tmp_path / "train.jsonl.gz", REVIEWS["train"])
    _mirror(tmp_path / "test.jsonl.gz", REVIEWS["test"])
    official = Located("imdb", "official", {"archive": tmp_path / "aclImdb_v1.tar.gz"})
    mirror = Located(
        "imdb", "mirror", {"train": tmp_path / "train.jsonl.gz", "test": tmp_path / "test.jsonl.gz"}
    )
    options = dict(seed=0, val_size=2, max_len=5, vocab_size=None)
    a, b = build(official, **options), build(mirror, **options)
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(a, split).x, getattr(b, split).x)
        assert torch.equal(getattr(a, split).y, getattr(b, split).y)
    assert a.meta["vocab"] == b.meta["vocab"]
    assert len(a.train) == 4 and int(a.val.y.sum()) == 1 and a.test.y.tolist() == [0, 1]
    vocab = a.meta["vocab"]
    assert "testonly" not in vocab
    # Canonical order puts negatives first: test row 1 is "Fun cast, testonly word".
    assert a.test.x[1].tolist()[2] == UNK_ID
    # Canonical training order: negatives by id, then positives by id.
    canonical = sorted(REVIEWS["train"])
    train_words = {w for i in a.meta["indices"]["train"] for w in tokenize(canonical[i][3])}
    val_words = {w for i in a.meta["indices"]["val"] for w in tokenize(canonical[i][3])}
    assert set(vocab[2:]) == train_words
    val_only = val_words - train_words
    assert val_only, "this toy split should have words seen only in validation"
    val_tokens = [w for i in a.meta["indices"]["val"] for w in tokenize(canonical[i][3])[:5]]
    val_ids = a.val.x[a.val.x != PAD_ID].tolist()
    val_only_ids = [i for w, i in zip(val_tokens, val_ids, strict=True) if w in val_only]
    assert val_only_ids and set(val_only_ids) == {UNK_ID}
    # vocab_size counts <pad> and <unk>: size 3 keeps the single most frequent training word.
    counts = {}
    for i in a.meta["indices"]["train"]:
        for w in tokenize(canonical[i][3]):
            counts[w] = counts.get(w, 0) + 1
    top = min(counts, key=lambda w: (-counts[w], w))
    small = build(official, seed=0, val_size=2, max_len=5, vocab_size=3)
    assert small.meta["vocab"] == ["<pad>", "<unk>", top]
    assert set(small.train.x.unique().tolist()) <= {PAD_ID, UNK_ID, 2}
