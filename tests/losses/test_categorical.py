"""cross_entropy against torch.nn.functional.cross_entropy over the whole argument grid."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from course_lib.losses import cross_entropy
from tests.losses.helpers import assert_same_value_and_grad, leaf

C = 4
# (input shape, target-index shape); the class dimension is 0 for (C,), else 1.
SHAPES = {
    "unbatched": ((C,), ()),
    "batch": ((5, C), (5,)),
    "1d": ((3, C, 4), (3, 4)),
    "2d": ((2, C, 3, 2), (2, 3, 2)),
    "empty": ((0, C), (0,)),
}
REDUCTIONS = ("none", "mean", "sum")
SMOOTHING = (0.0, 0.1, 1.0)


def _logits(shape, seed):
    gen = torch.Generator().manual_seed(seed)
    return leaf(2 * torch.randn(shape, generator=gen, dtype=torch.float64)), gen


def _weight(weighted, gen):
    return torch.rand(C, generator=gen, dtype=torch.float64) + 0.2 if weighted else None


@pytest.mark.parametrize(
    ("shape", "weighted", "reduction", "smoothing", "ignore_index"),
    list(itertools.product(SHAPES, (False, True), REDUCTIONS, SMOOTHING, (-100, 1))),
)
def test_class_index_targets_match_torch(shape, weighted, reduction, smoothing, ignore_index):
    in_shape, t_shape = SHAPES[shape]
    x, gen = _logits(in_shape, seed=0)
    target = torch.randint(0, C, t_shape, generator=gen)
    if ignore_index == -100 and target.numel() > 1:
        target.view(-1)[::3] = -100  # every third example is ignored
    w = _weight(weighted, gen)
    kwargs = dict(ignore_index=ignore_index, reduction=reduction, label_smoothing=smoothing)
    assert_same_value_and_grad(
        lambda: cross_entropy(x, target, w, **kwargs),
        lambda: F.cross_entropy(x, target, w, **kwargs),
        [x],
    )


@pytest.mark.parametrize(
    ("shape", "weighted", "reduction", "smoothing"),
    list(itertools.product(SHAPES, (False, True), REDUCTIONS, SMOOTHING)),
)
def test_class_probability_targets_match_torch(shape, weighted, reduction, smoothing):
    in_shape, _ = SHAPES[shape]
    x, gen = _logits(in_shape, seed=1)
    dim = 0 if len(in_shape) == 1 else 1
    q = leaf(torch.softmax(torch.randn(in_shape, generator=gen, dtype=torch.float64), dim))
    w = _weight(weighted, gen)
    kwargs = dict(reduction=reduction, label_smoothing=smoothing)
    assert_same_value_and_grad(
        lambda: cross_entropy(x, q, w, **kwargs),
        lambda: F.cross_entropy(x, q, w, **kwargs),
        [x, q],
    )


@pytest.mark.parametrize(
    ("weighted", "reduction", "smoothing"),
    list(itertools.product((False, True), REDUCTIONS, SMOOTHING)),
)
def test_all_targets_ignored_matches_torch(weighted, reduction, smoothing):
    # 'mean' is 0 / 0 = nan in torch; we match it rather than invent a value.
    x, gen = _logits((3, C), seed=2)
    target = torch.full((3,), -100)
    w = _weight(weighted, gen)
    kwargs = dict(reduction=reduction, label_smoothing=smoothing)
    assert_same_value_and_grad(
        lambda: cross_entropy(x, target, w, **kwargs),
        lambda: F.cross_entropy(x, target, w, **kwargs),
        [x],
    )
    if reduction == "mean":
        assert torch.isnan(cross_entropy(x, target, w, **kwargs))


def test_empty_batch_mean_is_nan_and_sum_is_zero():
    x = leaf(torch.zeros(0, C))
    for target in (torch.zeros(0, dtype=torch.long), torch.zeros(0, C, dtype=torch.float64)):
        assert torch.isnan(cross_entropy(x, target))
        assert cross_entropy(x, target, reduction="sum").item() == 0.0
        assert cross_entropy(x, target, reduction="none").shape == (0,)


def test_mean_normalisation_differs_between_target_kinds_like_torch():
    # Indices: weighted mean (divide by the target classes' weights); probabilities: divide by N.
    x, gen = _logits((6, C), seed=3)
    target = torch.randint(0, C, (6,), generator=gen)
    w = _weight(True, gen)
    per = cross_entropy(x, target, w, reduction="none")
    torch.testing.assert_close(cross_entropy(x, target, w), per.sum() / w[target].sum())
    one_hot = F.one_hot(target, C).double()
    torch.testing.assert_close(cross_entropy(x, one_hot, w), per.sum() / 6)


def test_smoothed_probability_target_equals_smoothed_index_target_without_weight():
    x, gen = _logits((5, C), seed=4)
    target = torch.randint(0, C, (5,), generator=gen)
    one_hot = F.one_hot(target, C).double()
    torch.testing.assert_close(
        cross_entropy(x, target, label_smoothing=0.2),
        cross_entropy(x, one_hot, label_smoothing=0.2),
    )


def test_extreme_logits_match_torch():
    x = leaf(torch.tensor([[800.0, -800.0, 0.0, 1.0], [-1e4, 1e4, 3.0, -3.0]]))
    target = torch.tensor([1, 0])
    assert_same_value_and_grad(
        lambda: cross_entropy(x, target, reduction="none", label_smoothing=0.1),
        lambda: F.cross_entropy(x, target, reduction="none", label_smoothing=0.1),
        [x],
    )


@pytest.mark.parametrize(
    ("input_shape", "target", "match"),
    [
        ((5, C), torch.zeros(4, dtype=torch.long), "shape"),
        ((5, C), torch.zeros(5), "integer"),
        ((5, C), torch.zeros(5, C, dtype=torch.long), "floating"),
        ((5, C), torch.full((5,), C), "outside"),
        ((), torch.zeros((), dtype=torch.long), "class dimension"),
    ],
)
def test_bad_targets_raise(input_shape, target, match):
    with pytest.raises(ValueError, match=match):
        cross_entropy(torch.zeros(input_shape), target)


def test_bad_weight_and_smoothing_raise():
    x, t = torch.zeros(5, C), torch.zeros(5, dtype=torch.long)
    with pytest.raises(ValueError, match="weight"):
        cross_entropy(x, t, torch.ones(C + 1))
    with pytest.raises(ValueError, match="label_smoothing"):
        cross_entropy(x, t, label_smoothing=1.5)
