"""``fit``: the course's one training loop, with everything a careful hand-written loop has."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset
from tqdm import tqdm

from course_lib.train.batches import dataset_tensors, num_batches
from course_lib.train.checkpoint import (
    CHECKPOINT_NAME,
    check_resumable,
    load_checkpoint,
    save_checkpoint,
)
from course_lib.train.device import choose_device
from course_lib.train.evaluate import check_metrics
from course_lib.train.history import History
from course_lib.train.logging import TensorBoardLogger
from course_lib.train.loop import Run
from course_lib.train.metrics import Metric
from course_lib.train.precision import check_amp, make_grad_scaler
from course_lib.train.seed import deterministic_mode, seed_everything
from course_lib.train.setup import (
    OptimizerArg,
    SchedulerArg,
    check_fit_arguments,
    default_hparams,
    is_plateau,
    make_optimizer,
    make_scheduler,
)

__all__ = ["fit"]


def _on_device(dataset: Dataset, device: torch.device) -> tuple[Tensor, Tensor] | None:
    tensors = dataset_tensors(dataset)
    return None if tensors is None else (tensors[0].to(device), tensors[1].to(device))


def _train_epochs(run: Run, epochs: range, checkpoint: Path | None, config: dict[str, Any]) -> bool:
    """Train the given epochs, checkpointing each complete one; whether any step was taken."""
    steps_per_epoch = num_batches(len(run.train), run.batch_size)
    trained = False
    for epoch in epochs:
        if not run.steps_left():
            break
        before = run.step
        run.train_epoch(epoch)
        trained = True
        # A partial epoch (max_steps) is not a point a resumed run could restart from.
        if checkpoint is not None and run.step - before == steps_per_epoch:
            save_checkpoint(
                checkpoint,
                model=run.model,
                optimizer=run.optimizer,
                scheduler=run.scheduler,
                scaler=run.scaler,
                history=run.history,
                epoch=epoch + 1,
                step=run.step,
                config=config,
            )
    return trained


def fit(
    model: nn.Module,
    train: Dataset,
    *,
    val: Dataset | None = None,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    optimizer: OptimizerArg,
    scheduler: SchedulerArg = None,
    scheduler_interval: str = "step",
    epochs: int = 1,
    batch_size: int = 64,
    eval_batch_size: int | None = None,
    metrics: Mapping[str, Metric] | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
    deterministic: bool = False,
    amp: str | None = None,
    clip_grad_norm: float | None = None,
    clip_grad_value: float | None = None,
    log_dir: str | Path | None = None,
    log_every: int = 10,
    histogram_every: int | None = None,
    hparams: dict[str, Any] | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    max_steps: int | None = None,
) -> History:
    """Train ``model`` on ``train`` with mini-batch gradient steps; return the history.

    Each step is the textbook one (forward, loss, ``zero_grad``, ``backward``, ``step``), so a
    hand-written loop over the same batches reaches the same weights bit for bit. Around it:
    the global gradient norm (before clipping), optional clipping and mixed precision, the lr
    scheduler, validation after each epoch, TensorBoard logs, checkpoints that resume exactly.

    Batches: epoch ``e`` visits the samples in the order
    :func:`~course_lib.train.batches.epoch_permutation` ``(len(train), seed, e)``, and the last
    batch may be smaller. In-memory datasets (tensor attributes ``.x`` and ``.y``, or a
    two-tensor ``TensorDataset``) are moved to the device once and sliced; others go through a
    ``DataLoader`` with ``num_workers=0``.

    Args:
        model: trained in place, after being moved to the device.
        train: map-style dataset of ``(x, y)`` pairs.
        val: evaluated (eval mode, no gradients) after every epoch, or ``None``.
        loss_fn: ``(outputs, targets) -> scalar`` averaged over the batch (e.g. a
            ``course_lib.losses`` function or ``nn.CrossEntropyLoss()``).
        optimizer: an optimizer over the model's parameters, or (better) a factory
            ``params -> optimizer``, applied after the model has moved to the device.
            Optimizers whose ``step`` needs a closure (L-BFGS) are refused.
        scheduler: an lr scheduler, a factory ``optimizer -> scheduler``, or ``None``.
        scheduler_interval: ``"step"`` (after every optimizer step) or ``"epoch"``. A
            ``ReduceLROnPlateau`` (torch's or course_lib's) is always stepped once per epoch
            with the validation loss, and so needs ``val``.
        epochs: the total number of epochs, counting those a resumed run already did.
        batch_size: training samples per step.
        eval_batch_size: samples per evaluation batch; ``None`` uses ``batch_size``.
        metrics: ``{name: (outputs, targets) -> float}`` computed over each epoch's training
            outputs and over the validation set (see :mod:`course_lib.train.metrics`); the
            history gets ``train_<name>`` and ``val_<name>``.
        device: see :func:`~course_lib.train.device.choose_device` (``None``: the
            ``COURSE_DEVICE`` variable, else CUDA, MPS, CPU).
        seed: seeds every generator when training starts (dropout, and the batch order).
            Seed before building the model if its initial weights must repeat too.
        deterministic: run inside :func:`~course_lib.train.seed.deterministic_mode`, so that
            a GPU run repeats bit for bit (slower; restored on return).
        amp: ``None``, ``"bf16"`` or ``"fp16"`` (CUDA and MPS, with loss scaling); see
            :mod:`course_lib.train.precision`.
        clip_grad_norm: rescale gradients whose global 2-norm exceeds this.
        clip_grad_value: clamp each gradient component to ``[-c, c]`` (applied first).
        log_dir: TensorBoard folder, or ``None`` for no logging; see
            :mod:`course_lib.train.logging` for the tags.
        log_every: the step scalars are flushed to the history and written to TensorBoard
            every this many steps, which is also when a non-finite loss is caught.
        histogram_every: weight and gradient histograms every this many steps; ``None``: at
            the end of each epoch; ``0``: never.
        hparams: extra hyperparameters for TensorBoard's HParams tab, merged over those read
            off the run (optimizer, lr, scheduler, batch size, seed...).
        checkpoint_dir: where ``last.pt`` is written at the end of each complete epoch
            (overwritten; the write is atomic). ``None``: no checkpoints.
        resume: continue from ``checkpoint_dir/last.pt`` if it exists (else start afresh),
            so the same call can be rerun after an interruption. The result is the same, bit
            for bit, as a run never interrupted. Needs the same seed and batch size.
        progress: show a ``tqdm`` bar with the loss and lr (it disappears when done).
        max_steps: stop after this many optimizer steps in all, mid-epoch if need be (the
            partial epoch is validated and recorded, but not checkpointed).

    Returns:
        The :class:`~course_lib.train.history.History`: a row per step (loss, lr, gradient
        norm) and per epoch (losses, metrics, ``wall_time`` in seconds of training so far,
        and ``peak_memory_bytes``: on CUDA the peak allocated by torch during the epoch, on
        the CPU and MPS the process's peak resident set size since it started).

    Raises:
        ValueError: on invalid arguments, an unavailable device, ``amp="fp16"`` on the CPU,
            a plateau scheduler without ``val``, or a resume with changed settings.
        FloatingPointError: when the loss becomes ``nan`` or ``inf`` (the message names the
            step; the exception's ``history`` attribute holds the history so far).

    Example:
        >>> from torch.utils.data import TensorDataset
        >>> data = TensorDataset(torch.randn(256, 3), torch.randn(256, 1))
        >>> history = fit(nn.Linear(3, 1), data, loss_fn=nn.functional.mse_loss,
        ...               optimizer=lambda p: torch.optim.SGD(p, lr=0.1), epochs=2,
        ...               device="cpu", progress=False)
        >>> len(history.epochs), len(history.steps)
        (2, 8)
    """
    settings = dict(locals())
    check_fit_arguments(settings)
    if len(train) == 0:
        raise ValueError("the training set is empty")
    device = choose_device(device)
    check_amp(amp, device)
    metrics = check_metrics(metrics)
    with deterministic_mode(deterministic):
        checkpoint = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir else None
        resuming = bool(resume and checkpoint is not None and checkpoint.is_file())
        if not resuming:
            seed_everything(seed)
        model.to(device)
        opt = make_optimizer(optimizer, model)
        sched = make_scheduler(scheduler, opt)
        plateau = is_plateau(sched)
        if plateau and val is None:
            raise ValueError("ReduceLROnPlateau is stepped with the validation loss: pass val=")
        scaler = make_grad_scaler(device, amp)
        history, start_epoch, step = History(), 0, 0
        config = {"seed": seed, "batch_size": batch_size, "train_size": len(train)}
        if resuming:
            assert checkpoint is not None
            saved = load_checkpoint(
                checkpoint, model=model, optimizer=opt, scheduler=sched, scaler=scaler
            )
            check_resumable(saved.config, config, checkpoint)
            history, start_epoch, step = saved.history, saved.epoch, saved.step
        keys = ("batch_size", "epochs", "seed", "amp", "clip_grad_norm", "clip_grad_value")
        run_hparams = default_hparams(opt, sched, {k: settings[k] for k in keys})
        run_hparams["amp"] = amp or "none"
        run_hparams.update(hparams or {})
        steps_per_epoch = num_batches(len(train), batch_size)
        total = (
            epochs * steps_per_epoch
            if max_steps is None
            else min(epochs * steps_per_epoch, max_steps)
        )
        # purge_step: hide what a crashed run logged after its checkpoint (step + 1: the
        # checkpoint's own epoch values were logged at `step` and stay).
        logger = (
            TensorBoardLogger(log_dir, purge_step=step + 1 if resuming else None)
            if log_dir is not None
            else None
        )
        bar = tqdm(
            total=total, initial=min(step, total), disable=not progress, leave=False, desc="fit"
        )
        run = Run(
            model=model,
            optimizer=opt,
            scheduler=sched,
            scheduler_interval=scheduler_interval,
            plateau=plateau,
            scaler=scaler,
            loss_fn=loss_fn,
            metrics=metrics,
            device=device,
            amp=amp,
            seed=seed,
            batch_size=batch_size,
            train=train,
            train_tensors=_on_device(train, device),
            val=val,
            val_tensors=None if val is None else _on_device(val, device),
            eval_batch_size=eval_batch_size or batch_size,
            clip_grad_norm=clip_grad_norm,
            clip_grad_value=clip_grad_value,
            logger=logger,
            log_every=log_every,
            histogram_every=histogram_every,
            max_steps=max_steps,
            history=history,
            progress=bar,
            step=step,
            wall_time=history.epochs[-1]["wall_time"] if history.epochs else 0.0,
        )
        try:
            trained = _train_epochs(run, range(start_epoch, epochs), checkpoint, config)
            if logger is not None and trained:
                last = history.epochs[-1]
                final = {k: v for k, v in last.items() if k.startswith(("train_", "val_"))}
                logger.log_hparams(run_hparams, final)
        finally:
            bar.close()
            if logger is not None:
                logger.close()
    return history
