"""One epoch of training: the step, its bookkeeping, and the end-of-epoch summary.

The step is the hand-written loop every PyTorch tutorial teaches (forward, loss, zero_grad,
backward, step) plus what fit promises around it: the gradient norm, clipping, loss scaling,
the scheduler, the history and the logs. The bookkeeping avoids a host-device round trip per
step: losses and gradient norms stay tensors until they are flushed every ``log_every`` steps
(one ``tolist()`` each), which is also when a non-finite loss is detected.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.utils.data import Dataset

from course_lib.train.batches import epoch_permutation, iterate_batches
from course_lib.train.evaluate import run_evaluation
from course_lib.train.history import History
from course_lib.train.logging import TensorBoardLogger, layer_norms
from course_lib.train.metrics import EpochOutputs, Metric
from course_lib.train.precision import autocast
from course_lib.train.setup import peak_memory_bytes, reset_peak_memory

__all__ = ["Run", "StepRecorder"]


@dataclass
class StepRecorder:
    """Buffers per-step values as tensors and turns them into history rows in batches.

    It also keeps the sums behind the epoch's training loss (a mean over samples, so each
    batch's loss is weighted by its size), in Python floats once the losses are read anyway.
    """

    steps: list[int] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)
    losses: list[Tensor] = field(default_factory=list)
    norms: list[Tensor] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    loss_sum: float = 0.0
    samples: int = 0

    def add(
        self, step: int, epoch: int, loss: Tensor, grad_norm: Tensor, lr: float, size: int
    ) -> None:
        """Record one step of ``size`` samples (the tensors are detached, not read)."""
        self.steps.append(step)
        self.epochs.append(epoch)
        self.losses.append(loss)
        self.norms.append(grad_norm)
        self.lrs.append(lr)
        self.sizes.append(size)

    def epoch_loss(self) -> float:
        """The sample-weighted mean loss since the last :meth:`reset_epoch` (flush first)."""
        return self.loss_sum / self.samples if self.samples else float("nan")

    def reset_epoch(self) -> None:
        """Start the sums of a new epoch."""
        self.loss_sum, self.samples = 0.0, 0

    def flush(self, history: History) -> dict[str, Any] | None:
        """Append the buffered rows to ``history``; return the last one.

        Raises:
            FloatingPointError: at the first non-finite loss, naming its step; the exception's
                ``history`` attribute holds the history up to that step.
        """
        if not self.steps:
            return None
        losses = torch.stack(self.losses).tolist()
        norms = torch.stack(self.norms).tolist()
        rows = zip(self.steps, self.epochs, losses, self.lrs, norms, self.sizes, strict=True)
        for step, epoch, loss, lr, norm, size in rows:
            if not math.isfinite(loss):
                error = FloatingPointError(
                    f"The training loss is {loss} at step {step} (epoch {epoch}, lr {lr:g}, "
                    f"gradient norm {norm:.4g}); training stopped because the weights are no "
                    "longer usable. Usual fixes: a smaller learning rate, gradient clipping "
                    "(clip_grad_norm=1.0), a warm-up schedule, or full precision (amp=None)."
                )
                error.history = history  # type: ignore[attr-defined]
                raise error
            history.steps.append(
                {"step": step, "epoch": epoch, "loss": loss, "lr": lr, "grad_norm": norm}
            )
            self.loss_sum += loss * size
            self.samples += size
        for buffer in (self.steps, self.epochs, self.losses, self.norms, self.lrs, self.sizes):
            buffer.clear()
        return history.steps[-1]


@dataclass
class Run:
    """Everything an epoch needs; fit builds it once and calls :meth:`train_epoch`."""

    model: nn.Module
    optimizer: Optimizer
    scheduler: Any | None
    scheduler_interval: str
    plateau: bool
    scaler: torch.amp.GradScaler | None
    loss_fn: Callable[[Tensor, Tensor], Tensor]
    metrics: Mapping[str, Metric]
    device: torch.device
    amp: str | None
    seed: int
    batch_size: int
    train: Dataset
    train_tensors: tuple[Tensor, Tensor] | None
    val: Dataset | None
    val_tensors: tuple[Tensor, Tensor] | None
    eval_batch_size: int
    clip_grad_norm: float | None
    clip_grad_value: float | None
    logger: TensorBoardLogger | None
    log_every: int
    histogram_every: int | None
    max_steps: int | None
    history: History
    progress: Any  # a tqdm bar (disabled when progress=False)
    step: int = 0
    wall_time: float = 0.0
    recorder: StepRecorder = field(default_factory=StepRecorder)

    def __post_init__(self) -> None:
        self.named = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        self.params = [p for _, p in self.named]

    def steps_left(self) -> bool:
        """Whether ``max_steps`` still allows a step."""
        return self.max_steps is None or self.step < self.max_steps

    def _gradient_norm(self) -> tuple[list[Tensor], list[Tensor], Tensor]:
        """Gradients, their per-tensor 2-norms and the global 2-norm, before any clipping."""
        grads = [p.grad for p in self.params if p.grad is not None]
        if not grads:
            return grads, [], torch.zeros((), device=self.device)
        # All per-tensor norms in one call (one fused kernel on CUDA), then the norm of the
        # norms: the norm of all gradients concatenated, without building the concatenation.
        norms = list(torch._foreach_norm(grads))
        return grads, norms, torch.linalg.vector_norm(torch.stack(norms))

    def _clip(self, grads: list[Tensor], total: Tensor) -> None:
        """Clip by value, then by global norm (with ``torch.nn.utils``'s exact formula)."""
        if not grads:
            return
        if self.clip_grad_value is not None:
            torch._foreach_clamp_min_(grads, -self.clip_grad_value)
            torch._foreach_clamp_max_(grads, self.clip_grad_value)
            total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
        if self.clip_grad_norm is not None:
            # A factor of exactly 1 when no clipping is needed: no branch on a device value.
            scale = torch.clamp(self.clip_grad_norm / (total + 1e-6), max=1.0)
            torch._foreach_mul_(grads, scale)

    def _train_step(self, xb: Tensor, yb: Tensor, epoch: int) -> Tensor:
        with autocast(self.device, self.amp):
            out = self.model(xb)
            loss = self.loss_fn(out, yb)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)  # true gradients, for the norm and clipping
        else:
            loss.backward()
        grads, norms, grad_norm = self._gradient_norm()
        self._clip(grads, grad_norm)
        lr = float(self.optimizer.param_groups[0]["lr"])  # the lr this step uses
        if self.scaler is not None:
            self.scaler.step(self.optimizer)  # skipped if the gradients overflowed
            self.scaler.update()
        else:
            self.optimizer.step()
        self.step += 1
        if self.scheduler is not None and self.scheduler_interval == "step" and not self.plateau:
            self.scheduler.step()
        loss = loss.detach()
        self.recorder.add(self.step, epoch, loss, grad_norm.detach(), lr, len(yb))
        if self.step % self.log_every == 0:
            self._flush(norms)
        every = self.histogram_every
        if self.logger is not None and every and self.step % every == 0:
            self.logger.log_histograms(self.model, self.step)
        return out

    def _flush(self, norms: list[Tensor] | None = None) -> None:
        """Move buffered steps into the history; log the last one if it is a logging step."""
        row = self.recorder.flush(self.history)
        if row is None:
            return
        self.progress.set_postfix(loss=f"{row['loss']:.4g}", lr=f"{row['lr']:.3g}", refresh=False)
        if self.logger is None or norms is None:
            return
        names = [n for n, p in self.named if p.grad is not None]
        layers = layer_norms(names, torch.stack(norms).tolist()) if norms else {}
        values = {k: row[k] for k in ("loss", "lr", "grad_norm")}
        self.logger.log_step(row["step"], values, layers)

    def train_epoch(self, epoch: int) -> dict[str, Any]:
        """Train one epoch (or until ``max_steps``), validate, step epoch schedulers.

        Returns:
            The epoch's history row (also appended to the history and logged).
        """
        start = time.perf_counter()
        reset_peak_memory(self.device)
        self.model.train()
        outputs = EpochOutputs() if self.metrics else None
        self.recorder.reset_epoch()
        order = epoch_permutation(len(self.train), self.seed, epoch)
        batches = iterate_batches(
            self.train, self.batch_size, self.device, order, self.train_tensors
        )
        for xb, yb in batches:
            if not self.steps_left():
                break
            out = self._train_step(xb, yb, epoch)
            if outputs is not None:
                outputs.update(out, yb)
            self.progress.update(1)
        self._flush()
        row: dict[str, Any] = {"epoch": epoch, "step": self.step}
        row["train_loss"] = self.recorder.epoch_loss()
        train_metrics = outputs.compute(self.metrics) if outputs is not None else {}
        row.update({f"train_{k}": v for k, v in train_metrics.items()})
        row.update(self._validate())
        self._step_epoch_scheduler(row["val_loss"])
        if self.logger is not None and self.histogram_every is None:
            self.logger.log_histograms(self.model, self.step)
        self.wall_time += time.perf_counter() - start
        row["wall_time"] = self.wall_time
        row["peak_memory_bytes"] = peak_memory_bytes(self.device)
        self.history.epochs.append(row)
        if self.logger is not None:
            self.logger.log_epoch(row, self.step)
        if row["val_loss"] is not None:
            self.progress.set_postfix(
                loss=f"{row['train_loss']:.4g}", val_loss=f"{row['val_loss']:.4g}", refresh=False
            )
        return row

    def _validate(self) -> dict[str, float | None]:
        if self.val is None:
            return {"val_loss": None, **{f"val_{k}": None for k in self.metrics}}
        result = run_evaluation(
            self.model,
            self.val,
            loss_fn=self.loss_fn,
            metrics=self.metrics,
            device=self.device,
            batch_size=self.eval_batch_size,
            amp=self.amp,
            tensors=self.val_tensors,
        )
        return {f"val_{k}": v for k, v in result.items()}

    def _step_epoch_scheduler(self, val_loss: float | None) -> None:
        if self.scheduler is None:
            return
        if self.plateau:
            self.scheduler.step(val_loss)  # fit checked that there is validation data
        elif self.scheduler_interval == "epoch":
            self.scheduler.step()
