"""Metrics against scikit-learn, and epoch totals that are not means of batch values."""

import functools
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning

from course_lib.train import (
    EpochOutputs,
    accuracy,
    auroc,
    f1_score,
    mean_absolute_error,
    precision,
    recall,
)


def _binary(n: int, seed: int, ties: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(n, generator=g)
    if ties:
        scores = (scores * 2).round() / 2  # a handful of distinct values: many ties
    labels = (torch.rand(n, generator=g) < torch.sigmoid(scores)).long()
    return scores, labels


@pytest.mark.parametrize("seed", range(5))
def test_multiclass_accuracy(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    logits, y = torch.randn(200, 5, generator=g), torch.randint(0, 5, (200,), generator=g)
    expected = skm.accuracy_score(y.numpy(), logits.argmax(1).numpy())
    assert accuracy(logits, y) == pytest.approx(expected, abs=1e-7)
    one_hot = torch.nn.functional.one_hot(y, 5).float()
    assert accuracy(logits, one_hot) == pytest.approx(expected, abs=1e-7)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("shape", ["flat", "column", "two"])
def test_binary_metrics_match_sklearn(seed: int, shape: str) -> None:
    scores, y = _binary(150, seed)
    predicted = (scores > 0).long().numpy()
    outputs = {
        "flat": scores,
        "column": scores[:, None],
        "two": torch.stack([torch.zeros_like(scores), scores], 1),  # logit 1 - logit 0
    }[shape]
    yn = y.numpy()
    assert accuracy(outputs, y) == pytest.approx(skm.accuracy_score(yn, predicted), abs=1e-7)
    assert precision(outputs, y) == pytest.approx(skm.precision_score(yn, predicted))
    assert recall(outputs, y) == pytest.approx(skm.recall_score(yn, predicted))
    assert f1_score(outputs, y) == pytest.approx(skm.f1_score(yn, predicted))
    assert auroc(outputs, y) == pytest.approx(skm.roc_auc_score(yn, scores.numpy()), abs=1e-12)


def test_threshold_for_probabilities_and_plus_minus_one_labels() -> None:
    scores, y = _binary(100, 0)
    probs = torch.sigmoid(scores)
    at_half = functools.partial(precision, threshold=0.5)
    assert at_half(probs, y) == pytest.approx(precision(scores, y))
    signed = 2 * y - 1  # -1/+1 labels (hinge losses)
    assert f1_score(scores, signed) == pytest.approx(f1_score(scores, y))
    assert auroc(probs, signed) == pytest.approx(auroc(scores, y))


def test_zero_division_follows_sklearn() -> None:
    y = torch.tensor([1, 0, 1])
    never = torch.full((3,), -1.0)
    for ours, theirs in [(precision, skm.precision_score), (f1_score, skm.f1_score)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)  # sklearn warns, then says 0
            expected = theirs(y.numpy(), np.zeros(3, dtype=int))
        assert ours(never, y) == expected == 0.0


@pytest.mark.parametrize("seed", range(5))
def test_auroc_with_ties(seed: int) -> None:
    scores, y = _binary(300, seed, ties=True)
    assert auroc(scores, y) == pytest.approx(
        skm.roc_auc_score(y.numpy(), scores.numpy()), abs=1e-12
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-3, 3), st.booleans()), min_size=2, max_size=40).filter(
        lambda pairs: len({label for _, label in pairs}) == 2
    )
)
def test_auroc_property(pairs: list[tuple[int, bool]]) -> None:
    scores = torch.tensor([float(s) for s, _ in pairs])
    y = torch.tensor([int(label) for _, label in pairs])
    assert auroc(scores, y) == pytest.approx(skm.roc_auc_score(y.numpy(), scores.numpy()))


def test_auroc_single_class_is_nan() -> None:
    assert np.isnan(auroc(torch.randn(5), torch.ones(5)))


def test_mean_absolute_error() -> None:
    g = torch.Generator().manual_seed(0)
    out, y = torch.randn(50, 1, generator=g), torch.randn(50, generator=g)
    expected = skm.mean_absolute_error(y.numpy(), out[:, 0].numpy())
    assert mean_absolute_error(out, y) == pytest.approx(expected, rel=1e-6)


def test_epoch_outputs_are_metrics_of_the_whole_epoch() -> None:
    scores, y = _binary(103, 1)
    acc = EpochOutputs()
    for start in range(0, 103, 10):  # the last batch has 3 samples
        acc.update(scores[start : start + 10].to(torch.bfloat16), y[start : start + 10])
    got = acc.compute({"auroc": auroc, "f1": f1_score, "accuracy": accuracy})
    widened = scores.to(torch.bfloat16).float()
    assert got == {
        "auroc": auroc(widened, y),
        "f1": f1_score(widened, y),
        "accuracy": accuracy(widened, y),
    }
    batch_mean = np.mean([auroc(scores[s : s + 10], y[s : s + 10]) for s in range(0, 100, 10)])
    assert got["auroc"] != pytest.approx(batch_mean)  # why the epoch total is computed once
    acc.reset()
    assert np.isnan(acc.compute({"auroc": auroc})["auroc"])
