"""Learning-rate schedules for a small CNN on Fashion-MNIST, as a grid for the runner.

The companion of :mod:`course_lib.experiments.schedules` (a Transformer on IMDB) for a
convolutional network trained with SGD and momentum: the same named schedules
(:func:`~course_lib.experiments.schedules.schedule_multiplier`: ``constant``, ``step``,
``cosine``, ``warmup_cosine``, ``one_cycle``, ...), each a multiplier of one peak learning rate,
stepped after every optimizer step through :class:`~course_lib.schedules.ScheduleLR`.

Run it with :func:`~course_lib.experiments.runner.run_grid`::

    from course_lib.experiments import run_grid
    from course_lib.experiments import cnn_schedules as C

    rows = run_grid(C.configs(["constant", "cosine"], seeds=[0, 1]), C.train_one, out_dir)

Per run the table records the final test accuracy, validation accuracy, final training loss,
the largest gradient norm and the largest loss spike (see
:func:`~course_lib.experiments.schedules.loss_stability`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from course_lib.experiments.common import finite, fit_until_diverged, load_data, predict, take
from course_lib.experiments.runner import save_history
from course_lib.experiments.schedules import loss_stability, schedule_multiplier


def configs(
    schedules: Sequence[str],
    *,
    seeds: Sequence[int] = (0, 1),
    lr: float = 0.05,
    momentum: float = 0.9,
    warmup: float = 0.1,
    epochs: int = 3,
    batch_size: int = 64,
    subset: int = 3000,
    val_size: int = 1000,
    test_subset: int = 2000,
    channels: Sequence[int] = (8, 16),
) -> list[dict[str, Any]]:
    """One plain configuration per schedule x seed (every size a column of the table).

    Args:
        schedules: names understood by ``schedule_multiplier``.
        seeds: one run per seed (initial weights and batch order).
        lr: the peak learning rate every schedule multiplies.
        momentum: SGD's momentum (heavy ball, torch's convention).
        warmup: warm-up length as a fraction of all steps (``warmup_*`` schedules).
        epochs: passes over the training subset.
        batch_size: examples per step.
        subset: training examples drawn from Fashion-MNIST's training set.
        val_size: held-out validation examples.
        test_subset: test examples the final accuracy is measured on.
        channels: the SmallCNN's channels per convolution block.

    Returns:
        The grid, for :func:`~course_lib.experiments.runner.run_grid`.

    Raises:
        ValueError: for an unknown schedule name.
    """
    for name in schedules:
        schedule_multiplier(name, 100, warmup)  # fail early on an unknown name
    fixed = {
        "lr": lr,
        "momentum": momentum,
        "warmup": warmup,
        "epochs": epochs,
        "batch_size": batch_size,
        "subset": subset,
        "val_size": val_size,
        "test_subset": test_subset,
        "channels": list(channels),
    }
    return [{"schedule": s, "seed": seed, **fixed} for s in schedules for seed in seeds]


def train_one(
    config: Mapping[str, Any], run_dir: Path, *, device: str | None = None
) -> dict[str, Any]:
    """Train one SmallCNN with SGD + momentum under one schedule; return accuracy and stability.

    Args:
        config: one configuration of :func:`configs`.
        run_dir: the run's folder (TensorBoard events, ``steps.csv``, ``epochs.csv``).
        device: ``"cpu"``, ``"cuda"``, ... (``None``: ``course_lib.train``'s choice).

    Returns:
        ``test_accuracy``, ``val_accuracy``, ``train_loss``, ``last_epoch_loss_std``,
        ``max_spike``, ``max_grad_norm``, ``diverged`` and ``device`` (``None`` for a value
        that is not finite).
    """
    from course_lib.models import SmallCNN
    from course_lib.optim import SGD
    from course_lib.schedules import ScheduleLR
    from course_lib.train import choose_device, seed_everything
    from course_lib.train.metrics import accuracy

    data = load_data("fashion_mnist", seed=0, subset=config["subset"], val_size=config["val_size"])
    dev = choose_device(device)
    seed_everything(config["seed"])
    model = SmallCNN(1, 10, channels=tuple(config["channels"]), image_size=28)
    total = config["epochs"] * math.ceil(len(data.train.y) / config["batch_size"])
    multiplier = schedule_multiplier(config["schedule"], total, config["warmup"])
    history, diverged = fit_until_diverged(
        model,
        data.train,
        val=data.val,
        loss_fn=torch.nn.functional.cross_entropy,
        optimizer=lambda params: SGD(params, lr=config["lr"], momentum=config["momentum"]),
        scheduler=lambda opt: ScheduleLR(opt, multiplier),
        scheduler_interval="step",
        epochs=config["epochs"],
        batch_size=config["batch_size"],
        metrics={"accuracy": accuracy},
        device=dev,
        seed=config["seed"],
        log_dir=run_dir,
        hparams=dict(config),
        progress=False,
    )
    save_history(history, run_dir)
    if diverged:
        return {"diverged": True, "device": dev.type}
    test_x, test_y = take(data.test, config["test_subset"], seed=0)
    steps = history.steps
    last_epoch = steps[-1]["epoch"]
    stability = loss_stability(
        [float(s["loss"]) for s in steps],
        [float(s["loss"]) for s in steps if s["epoch"] == last_epoch],
    )
    return {
        "test_accuracy": finite(accuracy(predict(model, test_x, dev), test_y)),
        "val_accuracy": finite(history.epochs[-1]["val_accuracy"]),
        "train_loss": finite(history.epochs[-1]["train_loss"]),
        **stability,
        "max_grad_norm": finite(max(float(s["grad_norm"]) for s in steps)),
        "diverged": False,
        "device": dev.type,
    }
