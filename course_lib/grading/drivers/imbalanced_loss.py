"""Drivers of the ``imbalanced_loss`` assignment: run the student's losses beside the grader.

Called in the sandboxed worker as ``fn(namespace, **kwargs)``; ``namespace`` holds the student's
answer cells (``focal_loss``, ``balanced_class_weights``, ``weighted_bce_loss``,
``ranking_loss``, ``combined_loss``). :func:`value_and_grad` and :func:`error_of` are the
``loss_functions`` drivers' (generic: call a loss, backpropagate into its first argument).

:func:`train` trains the exercise's small CNN on PneumoniaMNIST at 5% pneumonia with the
student's focal loss and with the reference one (``course_lib.losses.sigmoid_focal_loss``,
bound when this module is imported, before the worker blocks ``course_lib.losses`` for the
student), from the same seed, and returns the test scores of both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

# Imported now, not lazily: the worker blocks ``course_lib.losses`` for the student before any
# driver runs, and ``course_lib.experiments`` imports it.
from course_lib.experiments.common import finite, fit_until_diverged, load_data, predict
from course_lib.experiments.imbalance import scores_at_prevalence
from course_lib.experiments.presets import get_preset
from course_lib.grading.drivers.loss_functions import error_of, student_function, value_and_grad
from course_lib.losses import sigmoid_focal_loss as _reference_focal
from course_lib.models import SmallCNN
from course_lib.optim import Adam
from course_lib.train import auroc, choose_device, seed_everything

__all__ = ["error_of", "train", "value_and_grad"]


def _train_one(
    loss: Callable[..., torch.Tensor], loss_kwargs: dict[str, Any], config: Mapping[str, Any]
) -> dict[str, Any]:
    """Train the preset's one-logit CNN with ``loss``; test AUROC, recall, precision and F1."""
    data = load_data("pneumoniamnist", seed=0, positive_rate=config["positive_rate"])
    dev = choose_device(None)
    seed_everything(config["seed"])
    model = SmallCNN(1, 1, channels=tuple(config["channels"]), image_size=28)

    def loss_fn(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        # One logit per image, (N, 1) -> (N,); labels 0/1 as floats of the logits' dtype.
        return loss(logits.squeeze(-1).float(), labels.to(torch.float32), **loss_kwargs)

    history, diverged = fit_until_diverged(
        model,
        data.train,
        val=data.val,
        loss_fn=loss_fn,
        optimizer=lambda params: Adam(params, lr=config["lr"], impl="foreach"),
        epochs=config["epochs"],
        batch_size=config["batch_size"],
        metrics={"auroc": auroc},
        device=dev,
        seed=config["seed"],
        progress=False,
    )
    curve = [finite(e["val_auroc"]) for e in history.epochs]
    if diverged:
        return {"diverged": True, "test_auroc": None, "val_auroc": curve}
    probs = predict(model, data.test.x, dev).squeeze(-1).sigmoid()
    scores = scores_at_prevalence(probs, data.test.y, 0.5, config["positive_rate"])
    return {
        "diverged": False,
        "test_auroc": finite(auroc(probs, data.test.y)),
        **{k: finite(v) for k, v in scores.items()},
        "val_auroc": curve,
    }


def train(
    namespace: Mapping[str, Any],
    *,
    gamma: float = 2.0,
    alpha: float | None = 0.25,
    seed: int = 0,
    preset: str = "cpu",
) -> dict[str, Any]:
    """Train the ``imbalance`` preset's CNN with the student's ``focal_loss`` and the reference.

    Args:
        namespace: the student's definitions.
        gamma: the focal loss's focusing parameter.
        alpha: the weight of the positive class (``None``: no weighting).
        seed: model initialisation and batch order (the same for both runs).
        preset: the size (``course_lib.experiments.presets``; ``cpu`` for grading).

    Returns:
        ``{"student": scores, "reference": scores}``: test AUROC, and precision, recall, F1
        and false-positive rate at threshold 0.5 and 5% prevalence, whether the run diverged,
        and the validation AUROC after each epoch.
    """
    p = get_preset("imbalance", preset)
    config = {
        "seed": seed,
        "lr": p.grid["lr"],
        "epochs": p.epochs,
        "batch_size": p.batch_size,
        **p.model,
        **p.data,
    }
    student = student_function(namespace, "focal_loss")

    def reference(
        logits: torch.Tensor, labels: torch.Tensor, gamma: float, alpha: float | None
    ) -> torch.Tensor:
        a = -1.0 if alpha is None else alpha  # torchvision's switch for "no alpha"
        return _reference_focal(logits, labels, alpha=a, gamma=gamma, reduction="mean")

    kwargs = {"gamma": gamma, "alpha": alpha}
    return {
        "student": _train_one(student, kwargs, config),
        "reference": _train_one(reference, kwargs, config),
    }
