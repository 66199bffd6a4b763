"""Drivers of the ``loss_functions`` assignment: run the student's losses beside the grader.

Each function is called in the sandboxed worker as ``fn(namespace, **kwargs)``, where
``namespace`` holds the student's answer cells (``mse_loss``, ``mae_loss``, ``huber_loss``),
and returns plain data. The hidden tests pass the inputs and compare the results with their
own references; nothing here decides a grade.

The reference losses of :func:`train` are torch's, bound when this module is imported (the
worker imports it before it blocks ``torch.nn.functional.mse_loss`` and friends for the
student), so the reference run is the one torch's own functions give.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn.functional as F

# Imported now, not lazily: the worker blocks ``course_lib.losses`` for the student before any
# driver runs, and ``course_lib.experiments`` imports it.
from course_lib.experiments.common import finite, fit_until_diverged, load_data, predict, take
from course_lib.experiments.presets import get_preset
from course_lib.models import MLP
from course_lib.optim import Adam
from course_lib.train import choose_device, seed_everything

# torch's losses, bound now: the worker later replaces the module attributes for the student.
_REFERENCE: dict[str, Callable[..., torch.Tensor]] = {
    "mse_loss": F.mse_loss,
    "mae_loss": F.l1_loss,
    "huber_loss": F.huber_loss,
}
_TRAINING_NAMES = tuple(_REFERENCE)


def student_function(namespace: Mapping[str, Any], name: str) -> Callable[..., Any]:
    """The student's top-level ``name``, or a plain-words error if it is missing."""
    fn = namespace.get(name)
    if not callable(fn):
        raise NameError(f"your notebook does not define a function `{name}`")
    return fn


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def value_and_grad(
    namespace: Mapping[str, Any],
    *,
    name: str,
    args: list[Any],
    options: dict[str, Any] | None = None,
    grad_weights: torch.Tensor | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """Call ``name(*args, **options)`` on ``device`` and backpropagate into ``args[0]``.

    Args:
        namespace: the student's definitions.
        name: the loss to call.
        args: its positional arguments (tensors are moved to the device; the first one is the
            input whose gradient is returned).
        options: its keyword arguments.
        grad_weights: the upstream gradient for a non-scalar result (``reduction='none'``);
            default: all ones (the gradient of the sum).
        device: where to run; ``None``: :func:`course_lib.train.choose_device` (CUDA when
            present), so the same test also checks that the code runs on a GPU.

    Returns:
        ``value``, ``grad`` (``None`` if no gradient reached the input), ``dtype`` and
        ``device`` (the result's), ``input_dtype``, ``shape`` and ``is_tensor``.
    """
    fn = student_function(namespace, name)
    dev = choose_device(device)
    moved = [a.to(dev) if isinstance(a, torch.Tensor) else a for a in args]
    first = moved[0].detach().clone().requires_grad_(True)
    out = fn(first, *moved[1:], **(options or {}))
    if not isinstance(out, torch.Tensor):
        return {"is_tensor": False, "value": out if isinstance(out, (int, float)) else None}
    grad = None
    if out.requires_grad:
        upstream = torch.ones_like(out) if grad_weights is None else grad_weights.to(out)
        out.backward(upstream.reshape(out.shape))
        grad = None if first.grad is None else first.grad.detach().cpu()
    return {
        "is_tensor": True,
        "value": out.detach().cpu(),
        "grad": grad,
        "dtype": _dtype_name(out.dtype),
        "input_dtype": _dtype_name(first.dtype),
        "device": out.device.type,
        "expected_device": dev.type,
        "shape": list(out.shape),
    }


def error_of(
    namespace: Mapping[str, Any],
    *,
    name: str,
    args: list[Any],
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Call ``name(*args, **options)`` and report the exception it raised (``None`` if none)."""
    fn = student_function(namespace, name)
    try:
        fn(*args, **(options or {}))
    except Exception as err:  # the point is to see which exception the student raises
        return {"error": type(err).__name__, "message": str(err)[:300]}
    return {"error": None, "message": ""}


def _mse(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    return float(((outputs.squeeze(-1).float() - targets) ** 2).mean())


def _train_one(
    loss: Callable[..., torch.Tensor], loss_kwargs: dict[str, Any], config: Mapping[str, Any]
) -> dict[str, Any]:
    """Train the preset's MLP with ``loss``; its clean test errors and validation MSE curve."""
    data = load_data("california_housing", seed=0, outlier_fraction=config["outlier_fraction"])
    train_x, train_y = take(data.train, config.get("train_subset"), seed=0)
    dev = choose_device(None)
    seed_everything(config["seed"])
    model = MLP(train_x.shape[1], 1, depth=config["depth"], width=config["width"])

    def loss_fn(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        # The MLP outputs (N, 1); the targets are (N,).
        return loss(outputs.squeeze(-1), targets.to(outputs.dtype), **loss_kwargs)

    history, diverged = fit_until_diverged(
        model,
        type(data.train)(train_x, train_y),
        val=data.val,
        loss_fn=loss_fn,
        optimizer=lambda params: Adam(params, lr=config["lr"]),
        epochs=config["epochs"],
        batch_size=config["batch_size"],
        metrics={"mse": _mse},
        device=dev,
        seed=config["seed"],
        progress=False,
    )
    curve = [finite(e["val_mse"]) for e in history.epochs]
    if diverged:
        return {"diverged": True, "test_mse": None, "test_mae": None, "val_mse": curve}
    pred = predict(model, data.test.x, dev).squeeze(-1)
    return {
        "diverged": False,
        "test_mse": finite(((pred - data.test.y) ** 2).mean()),
        "test_mae": finite((pred - data.test.y).abs().mean()),
        "val_mse": curve,
    }


def train(
    namespace: Mapping[str, Any],
    *,
    losses: list[str] | tuple[str, ...] = _TRAINING_NAMES,
    outlier_fraction: float = 0.05,
    seed: int = 0,
    preset: str = "cpu",
    delta: float = 1.0,
) -> dict[str, Any]:
    """Train the ``losses`` preset's MLP with each student loss and with torch's, same seed.

    Args:
        namespace: the student's definitions.
        losses: which of ``mse_loss``, ``mae_loss``, ``huber_loss`` to train with.
        outlier_fraction: the fraction of training targets replaced by gross outliers.
        seed: model initialisation and batch order (the same for both runs).
        preset: the size (``course_lib.experiments.presets``; ``cpu`` for grading).
        delta: Huber's ``delta``.

    Returns:
        ``{name: {"student": metrics, "reference": metrics}}`` with the clean test MSE and
        MAE, whether the run diverged and the validation MSE after each epoch.
    """
    p = get_preset("losses", preset)
    config = {
        "outlier_fraction": outlier_fraction,
        "seed": seed,
        "lr": p.grid["lr"],
        "epochs": p.epochs,
        "batch_size": p.batch_size,
        **p.model,
        **p.data,
    }
    threads = torch.get_num_threads()
    if p.threads is not None:
        torch.set_num_threads(p.threads)
    try:
        results: dict[str, Any] = {}
        for name in losses:
            kwargs = {"delta": delta} if name == "huber_loss" else {}
            student = student_function(namespace, name)
            results[name] = {
                "student": _train_one(student, kwargs, config),
                "reference": _train_one(_REFERENCE[name], kwargs, config),
            }
        return results
    finally:
        torch.set_num_threads(threads)
