"""multi_margin_loss against torch; hinge and squared hinge against torch and scikit-learn."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from course_lib.losses import hinge_loss, multi_margin_loss, squared_hinge_loss
from tests.losses.helpers import assert_same_value_and_grad, leaf

REDUCTIONS = ("none", "mean", "sum")
C = 5


@pytest.mark.parametrize(
    ("p", "margin", "weighted", "reduction", "unbatched"),
    list(itertools.product((1, 2), (0.5, 1.0, 2.0), (False, True), REDUCTIONS, (False, True))),
)
def test_multi_margin_matches_torch(p, margin, weighted, reduction, unbatched):
    gen = torch.Generator().manual_seed(0)
    shape, t_shape = ((C,), ()) if unbatched else ((6, C), (6,))
    x = leaf(torch.randn(shape, generator=gen, dtype=torch.float64))
    target = torch.randint(0, C, t_shape, generator=gen)
    w = torch.rand(C, generator=gen, dtype=torch.float64) + 0.2 if weighted else None
    assert_same_value_and_grad(
        lambda: multi_margin_loss(x, target, p, margin, w, reduction=reduction),
        lambda: F.multi_margin_loss(x, target, p, margin, w, reduction=reduction),
        [x],
    )


def test_multi_margin_gradient_is_zero_exactly_at_the_margin_like_torch():
    # z = margin - x_y + x_c is exactly 0 for class 0: torch's backward uses z > 0 (not >= 0).
    x = leaf(torch.tensor([[0.0, 0.5, 1.0], [2.0, 2.0, 1.0]]))
    target = torch.tensor([2, 0])
    for p in (1, 2):
        assert_same_value_and_grad(
            lambda p=p: multi_margin_loss(x, target, p, reduction="none"),
            lambda p=p: F.multi_margin_loss(x, target, p, reduction="none"),
            [x],
        )


def test_multi_margin_on_an_empty_batch_is_defined():
    # torch 2.13 returns uninitialised memory here; we return nan (mean) and 0 (sum).
    x, t = torch.zeros(0, C), torch.zeros(0, dtype=torch.long)
    assert torch.isnan(multi_margin_loss(x, t))
    assert multi_margin_loss(x, t, reduction="sum").item() == 0.0
    assert multi_margin_loss(x, t, reduction="none").shape == (0,)


def test_multi_margin_bad_arguments_raise():
    x, t = torch.zeros(3, C), torch.zeros(3, dtype=torch.long)
    with pytest.raises(ValueError, match="p = 1 or p = 2"):
        multi_margin_loss(x, t, p=3)
    with pytest.raises(ValueError, match="shape"):
        multi_margin_loss(x, torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="outside"):
        multi_margin_loss(x, torch.full((3,), C))
    with pytest.raises(ValueError, match="weight"):
        multi_margin_loss(x, t, weight=torch.ones(C, 1))


def _binary_data(seed=0, n=12):
    gen = torch.Generator().manual_seed(seed)
    s = 2 * torch.randn(n, generator=gen, dtype=torch.float64)
    s[:4] = torch.tensor([1.0, -1.0, 0.0, 1.0])  # exactly at the kink for y = +1, -1
    y = torch.where(torch.rand(n, generator=gen) < 0.5, -1, 1)
    y[:4] = torch.tensor([1, -1, 1, -1])
    return leaf(s), y


def _via_multi_margin(s, y, p, reduction):
    """Torch reference: a binary hinge is a 2-class multi-margin loss on scores (-s/2, s/2).

    For y = +1 (class 1): max(0, 1 - s/2 - s/2) = max(0, 1 - s); torch divides by C = 2.
    """
    two_class = torch.stack([-s / 2, s / 2], dim=1)
    per = 2 * F.multi_margin_loss(two_class, (y > 0).long(), p=p, reduction="none")
    return {"none": per, "mean": per.mean(), "sum": per.sum()}[reduction]


@pytest.mark.parametrize(
    ("squared", "reduction", "label_dtype"),
    list(itertools.product((False, True), REDUCTIONS, (torch.long, torch.float64))),
)
def test_hinge_matches_torch_multi_margin_reference(squared, reduction, label_dtype):
    s, y = _binary_data()
    ours = squared_hinge_loss if squared else hinge_loss
    assert_same_value_and_grad(
        lambda: ours(s, y.to(label_dtype), reduction=reduction),
        lambda: _via_multi_margin(s, y, 2 if squared else 1, reduction),
        [s],
    )


def test_hinge_matches_sklearn():
    from sklearn import metrics

    s, y = _binary_data(seed=1, n=30)
    expected = metrics.hinge_loss(y.numpy(), s.detach().numpy())
    assert hinge_loss(s, y).item() == pytest.approx(expected, rel=1e-12)


def test_hinge_formula_and_gradient_by_hand():
    s, y = leaf(torch.tensor([2.0, 0.5, -0.5, 0.25])), torch.tensor([1, 1, 1, -1])
    # margins 1 - y s: -1, 0.5, 1.5, 1.25
    torch.testing.assert_close(
        hinge_loss(s, y, reduction="none"), torch.tensor([0, 0.5, 1.5, 1.25]).double()
    )
    torch.testing.assert_close(
        squared_hinge_loss(s, y, reduction="none"), torch.tensor([0, 0.25, 2.25, 1.5625]).double()
    )
    (g,) = torch.autograd.grad(squared_hinge_loss(s, y, reduction="sum"), s)
    torch.testing.assert_close(g, torch.tensor([0.0, -1.0, -3.0, 2.5]).double())


@pytest.mark.parametrize("fn", (hinge_loss, squared_hinge_loss))
def test_hinge_rejects_zero_one_labels(fn):
    with pytest.raises(ValueError, match=r"\{-1, \+1\}"):
        fn(torch.zeros(3), torch.tensor([0, 1, 1]))
