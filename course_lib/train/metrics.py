r"""Evaluation metrics as plain functions ``(outputs, targets) -> float``, and their epoch totals.

Conventions (the same for every metric, so one model output feeds all of them):

* **multi-class**: ``outputs`` are logits or probabilities of shape ``(N, C)``; the prediction
  is the arg-max. ``targets`` are class indices ``(N,)`` (or one-hot ``(N, C)``).
* **binary**: ``outputs`` are scores of shape ``(N,)`` or ``(N, 1)`` (logits: positive when
  ``> threshold``, 0 by default; pass ``threshold=0.5`` for probabilities, e.g. with
  ``functools.partial``) or two-column logits ``(N, 2)`` (score = logit 1 − logit 0, so the
  prediction agrees with the arg-max). A target is positive when it is ``> 0``, which covers
  both 0/1 and −1/+1 labels.

A metric of an epoch is a metric of *all* its outputs, not the mean of per-batch values: the
two differ for precision, recall, F1 and AUROC (and for accuracy when the last batch is
smaller). :class:`EpochOutputs` therefore keeps the epoch's outputs and targets and computes
every metric once at the end. That costs memory ``N x C`` floats per epoch, which is small for
the classifiers of this course.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor

__all__ = [
    "EpochOutputs",
    "Metric",
    "accuracy",
    "auroc",
    "binary_confusion",
    "f1_score",
    "mean_absolute_error",
    "precision",
    "recall",
]

Metric = Callable[[Tensor, Tensor], float]


def _class_predictions(outputs: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """Predicted and true labels, both shaped like the targets (see the module conventions)."""
    if outputs.ndim >= 2 and outputs.shape[-1] > 1:
        if targets.shape == outputs.shape:  # one-hot or soft targets
            targets = targets.argmax(dim=-1)
        return outputs.argmax(dim=-1), targets
    return _binary_scores(outputs) > 0, targets > 0


def _binary_scores(outputs: Tensor, threshold: float = 0.0) -> Tensor:
    """One score per sample, positive iff the prediction is the positive class."""
    if outputs.ndim == 2 and outputs.shape[1] == 2:
        return (outputs[:, 1] - outputs[:, 0]).float() - threshold
    if outputs.ndim == 2 and outputs.shape[1] == 1:
        outputs = outputs[:, 0]
    if outputs.ndim != 1:
        raise ValueError(
            "binary metrics need scores of shape (N,), (N, 1) or (N, 2), got "
            f"{tuple(outputs.shape)}"
        )
    return outputs.float() - threshold


def accuracy(outputs: Tensor, targets: Tensor) -> float:
    """Fraction of correct predictions (multi-class arg-max, or binary logits at 0).

    Args:
        outputs: ``(N, C)`` logits, or ``(N,)`` / ``(N, 1)`` binary logits.
        targets: ``(N,)`` class indices (or one-hot), or 0/1 labels for binary.

    Returns:
        A number in [0, 1] (``nan`` for empty inputs).
    """
    predicted, true = _class_predictions(outputs, targets)
    if predicted.numel() == 0:
        return float("nan")
    return (predicted.reshape(true.shape) == true).float().mean().item()


def mean_absolute_error(outputs: Tensor, targets: Tensor) -> float:
    """Mean of ``|outputs - targets|`` over every element (``(N, 1)`` outputs fit ``(N,)``)."""
    if outputs.shape != targets.shape and outputs.numel() == targets.numel():
        outputs = outputs.reshape(targets.shape)
    return (outputs.float() - targets.float()).abs().mean().item()


def binary_confusion(outputs: Tensor, targets: Tensor, threshold: float = 0.0) -> dict[str, int]:
    """Counts of true/false positives/negatives for binary scores.

    Args:
        outputs: binary scores, see the module conventions.
        targets: labels, positive when ``> 0``.
        threshold: score above which a prediction is positive.

    Returns:
        ``{"tp": ..., "fp": ..., "fn": ..., "tn": ...}``.
    """
    predicted = _binary_scores(outputs, threshold) > 0
    true = targets.reshape(predicted.shape) > 0
    tp = int((predicted & true).sum())
    fp = int((predicted & ~true).sum())
    fn = int((~predicted & true).sum())
    return {"tp": tp, "fp": fp, "fn": fn, "tn": predicted.numel() - tp - fp - fn}


def _ratio(numerator: int, denominator: int) -> float:
    # scikit-learn's default (zero_division="warn") returns 0 for an empty denominator.
    return numerator / denominator if denominator else 0.0


def precision(outputs: Tensor, targets: Tensor, threshold: float = 0.0) -> float:
    r"""Binary precision :math:`TP / (TP + FP)`; 0 when nothing is predicted positive."""
    c = binary_confusion(outputs, targets, threshold)
    return _ratio(c["tp"], c["tp"] + c["fp"])


def recall(outputs: Tensor, targets: Tensor, threshold: float = 0.0) -> float:
    r"""Binary recall :math:`TP / (TP + FN)`; 0 when there are no positives."""
    c = binary_confusion(outputs, targets, threshold)
    return _ratio(c["tp"], c["tp"] + c["fn"])


def f1_score(outputs: Tensor, targets: Tensor, threshold: float = 0.0) -> float:
    r"""Binary F1, the harmonic mean of precision and recall: :math:`2TP / (2TP + FP + FN)`."""
    c = binary_confusion(outputs, targets, threshold)
    return _ratio(2 * c["tp"], 2 * c["tp"] + c["fp"] + c["fn"])


def auroc(outputs: Tensor, targets: Tensor) -> float:
    r"""Area under the ROC curve, from ranks (the Mann–Whitney U statistic).

    The AUROC is the probability that a random positive scores above a random negative, ties
    counting one half:

    .. math::
        \text{AUROC} = \frac{\sum_{i \in +} r_i - n_+(n_+ + 1)/2}{n_+ n_-},

    with :math:`r_i` the rank of score :math:`i` among all scores (tied scores share the mean
    of their ranks). This equals ``sklearn.metrics.roc_auc_score`` exactly, ties included,
    and needs one sort rather than a threshold sweep.

    Args:
        outputs: binary scores (any monotone transform gives the same value).
        targets: labels, positive when ``> 0``.

    Returns:
        The AUROC in [0, 1], or ``nan`` when the targets hold a single class (scikit-learn
        raises there; a training loop is better served by a ``nan`` in its history).
    """
    # On the CPU in float64: exact rank sums, and MPS has neither float64 nor every op used.
    scores = _binary_scores(outputs).cpu().double()
    positive = targets.reshape(scores.shape).cpu() > 0
    n_pos = int(positive.sum())
    n_neg = positive.numel() - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    sorted_scores, order = torch.sort(scores)
    _, group, counts = torch.unique_consecutive(
        sorted_scores, return_inverse=True, return_counts=True
    )
    last = counts.cumsum(0).double()  # 1-based rank of each tie group's last member
    mean_rank = last - (counts.double() - 1) / 2
    ranks = torch.empty_like(scores)
    ranks[order] = mean_rank[group]
    u = ranks[positive].sum().item() - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


class EpochOutputs:
    """Collects one epoch's outputs and targets, then computes each metric over all of them.

    Example:
        >>> acc = EpochOutputs()
        >>> acc.update(torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0]))
        >>> acc.update(torch.tensor([[0.0, 3.0]]), torch.tensor([1]))
        >>> acc.compute({"accuracy": accuracy})
        {'accuracy': 0.6666666865348206}
    """

    def __init__(self) -> None:
        self._outputs: list[Tensor] = []
        self._targets: list[Tensor] = []

    def update(self, outputs: Tensor, targets: Tensor) -> None:
        """Add a batch (detached; low-precision outputs are widened to float32)."""
        outputs = outputs.detach()
        if outputs.is_floating_point() and outputs.dtype != torch.float64:
            outputs = outputs.float()
        self._outputs.append(outputs)
        self._targets.append(targets.detach())

    def compute(self, metrics: Mapping[str, Metric]) -> dict[str, float]:
        """Every metric over everything added since the last :meth:`reset`."""
        if not metrics or not self._outputs:
            return {name: float("nan") for name in metrics}
        outputs, targets = torch.cat(self._outputs), torch.cat(self._targets)
        return {name: float(fn(outputs, targets)) for name, fn in metrics.items()}

    def reset(self) -> None:
        """Forget the batches added so far."""
        self._outputs.clear()
        self._targets.clear()
