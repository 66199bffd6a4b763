"""Evaluation: the mean loss and the metrics of a model over a whole dataset, without gradients."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from course_lib.train.batches import dataset_tensors, iterate_batches
from course_lib.train.device import choose_device
from course_lib.train.metrics import EpochOutputs, Metric
from course_lib.train.precision import autocast

__all__ = ["evaluate"]

LossFn = Callable[[Tensor, Tensor], Tensor]


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter or buffer (the CPU for an empty model)."""
    for tensor in [*model.parameters(), *model.buffers()]:
        return tensor.device
    return torch.device("cpu")


def accumulator_dtype(device: torch.device) -> torch.dtype:
    """float64 for sums of losses, except on MPS, which has no float64."""
    return torch.float32 if device.type == "mps" else torch.float64


def check_metrics(metrics: Mapping[str, Metric] | None) -> dict[str, Metric]:
    """Validate the metric names: ``loss`` is taken, and each value must be callable."""
    metrics = dict(metrics or {})
    for name, fn in metrics.items():
        if name == "loss":
            raise ValueError("'loss' is reported anyway; choose another metric name")
        if not callable(fn):
            raise TypeError(f"metric {name!r} must be a callable (outputs, targets) -> float")
    return metrics


@torch.no_grad()
def run_evaluation(
    model: nn.Module,
    data: Dataset,
    *,
    loss_fn: LossFn,
    metrics: Mapping[str, Metric],
    device: torch.device,
    batch_size: int,
    amp: str | None,
    tensors: tuple[Tensor, Tensor] | None,
) -> dict[str, float]:
    """The body of :func:`evaluate` once the device is known and the data may be on it.

    Used by fit, which moves the validation tensors to the device once rather than every epoch.
    """
    was_training = model.training
    model.eval()
    outputs = EpochOutputs() if metrics else None
    total = torch.zeros((), device=device, dtype=accumulator_dtype(device))
    try:
        for xb, yb in iterate_batches(data, batch_size, device, tensors=tensors):
            with autocast(device, amp):
                out = model(xb)
                loss = loss_fn(out, yb)
            # Weight each batch by its size, so the mean is over samples even when the last
            # batch is smaller (assuming loss_fn averages over its batch, as torch's do).
            total += loss.detach().to(total.dtype) * len(yb)
            if outputs is not None:
                outputs.update(out, yb)
    finally:
        model.train(was_training)
    n = len(data)
    result = {"loss": total.item() / n if n else float("nan")}
    if outputs is not None:
        result.update(outputs.compute(metrics))
    return result


def evaluate(
    model: nn.Module,
    data: Dataset,
    *,
    loss_fn: LossFn,
    metrics: Mapping[str, Metric] | None = None,
    device: str | torch.device | None = None,
    batch_size: int = 256,
    amp: str | None = None,
) -> dict[str, float]:
    """Mean loss and metrics of ``model`` over ``data``, in eval mode, without gradients.

    The model is put in eval mode (dropout off, BatchNorm uses its running statistics) and
    back in its previous mode afterwards.

    Args:
        model: the model.
        data: a map-style dataset of ``(x, y)`` pairs.
        loss_fn: ``(outputs, targets) -> scalar``, averaging over the batch.
        metrics: ``{name: (outputs, targets) -> float}``, each computed over the whole dataset
            (see :mod:`course_lib.train.metrics`).
        device: where to run. ``None`` means where the model already is (unlike fit, which
            picks the fastest device): evaluating should not move a model behind your back.
        batch_size: samples per batch; it changes the speed, not the result.
        amp: ``None``, ``"bf16"`` or ``"fp16"`` autocast for the forward pass.

    Returns:
        ``{"loss": ..., <metric name>: ...}``.
    """
    metrics = check_metrics(metrics)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    target = model_device(model) if device is None else choose_device(device)
    model.to(target)
    tensors = dataset_tensors(data)
    if tensors is not None:
        tensors = (tensors[0].to(target), tensors[1].to(target))
    return run_evaluation(
        model,
        data,
        loss_fn=loss_fn,
        metrics=metrics,
        device=target,
        batch_size=batch_size,
        amp=amp,
        tensors=tensors,
    )
