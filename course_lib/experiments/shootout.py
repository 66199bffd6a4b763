"""Exercise 2, optimizer shootout: six optimizers x a learning-rate sweep x seeds on Fashion-MNIST.

Each optimizer of ``course_lib.optim`` trains the same model from the same initial weights
(the seed fixes both) at learning rates on a log grid around its usual value. Every run decays
its learning rate to 0 along a cosine (per step; ``schedule="constant"`` switches this off):
with a constant rate the last epoch's accuracy of a short run depends on where the iterate
happens to bounce, and the comparison would measure that noise. Per run the table records the
final and best validation accuracy, the test accuracy, the best validation loss, the
generalisation gap (final train minus validation accuracy), seconds per epoch, the MiB the
optimizer's state takes (exact, any device) and the peak memory (on CUDA the run's peak
allocation; on a CPU only the process's peak resident size so far, not comparable between runs
of one process).

What it shows: each optimizer's good band of learning rates sits at its own scale (about
0.3 for plain SGD, 0.1 with momentum, 1e-3 to 3e-3 for RMSprop, Adam and AdamW on the ``cpu``
preset), plain SGD falls off fastest away from it, and at their best rates the optimizers end
within a point or two of accuracy of each other. So compare optimizers at their *best*
learning rate, never at one shared value; Adam and AdamW coincide here (a weight decay of 0.01
barely acts in a few epochs).

Grid keys (``preset.grid``): ``lrs``, a mapping from optimizer name (:data:`OPTIMIZERS`) to its
learning rates (the peak of the schedule), and ``schedule`` (``"cosine"``, the default, or
``"constant"``). ``preset.model["name"]`` is ``"mlp"``, ``"cnn"`` or ``"resnet18"``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from course_lib.experiments.common import (
    Experiment,
    amp_for,
    finite,
    fit_until_diverged,
    group_mean,
    load_data,
    predict,
    take,
)
from course_lib.experiments.presets import Preset
from course_lib.experiments.runner import save_history

# Name -> (class name in course_lib.optim, fixed keyword arguments). AdamW's weight decay is
# torch's default; Adam has none, so the pair differs only by the decoupled decay.
OPTIMIZERS: dict[str, tuple[str, dict[str, Any]]] = {
    "sgd": ("SGD", {}),
    "momentum": ("SGD", {"momentum": 0.9}),
    "nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "rmsprop": ("RMSprop", {}),
    "adam": ("Adam", {}),
    "adamw": ("AdamW", {"weight_decay": 0.01}),
}


def configs(preset: Preset) -> list[dict[str, Any]]:
    """One configuration per optimizer x learning rate x seed."""
    model = dict(preset.model)
    fixed = {
        "schedule": preset.grid.get("schedule", "cosine"),
        "epochs": preset.epochs,
        "batch_size": preset.batch_size,
        "model": model.pop("name"),
        **model,
        **preset.data,
        "amp": preset.amp,
    }
    return [
        {"optimizer": opt, "lr": lr, "seed": seed, **fixed}
        for opt, lrs in preset.grid["lrs"].items()
        for lr in lrs
        for seed in preset.seeds
    ]


def make_optimizer(name: str, lr: float) -> Callable[[Any], torch.optim.Optimizer]:
    """A factory ``params -> optimizer`` for one of :data:`OPTIMIZERS` (the foreach path)."""
    from course_lib import optim

    cls_name, kwargs = OPTIMIZERS[name]
    cls = getattr(optim, cls_name)
    return lambda params: cls(params, lr=lr, impl="foreach", **kwargs)


def state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes held in the optimizer's state tensors (momentum buffers, moment estimates).

    The memory an optimizer adds on top of the model, exactly and on any device: 0 for plain
    SGD, one copy of the parameters for momentum and RMSprop, two for Adam (step counters are
    scalars).
    """
    return sum(
        t.numel() * t.element_size()
        for state in optimizer.state.values()
        for t in state.values()
        if isinstance(t, torch.Tensor)
    )


def build_model(config: Mapping[str, Any], num_classes: int) -> torch.nn.Module:
    """The configuration's model for 1 x 28 x 28 images."""
    from course_lib.models import MLP, SmallCNN, resnet18

    name = config["model"]
    if name == "mlp":
        return MLP(28 * 28, num_classes, depth=config["depth"], width=config["width"])
    if name == "cnn":
        return SmallCNN(1, num_classes, channels=tuple(config["channels"]), image_size=28)
    if name == "resnet18":
        return resnet18(num_classes, in_channels=1, image_size=28, width=config["width"])
    raise ValueError(f"unknown model {name!r}; use 'mlp', 'cnn' or 'resnet18'")


def train_one(
    config: Mapping[str, Any], run_dir: Path, *, device: str | None = None
) -> dict[str, Any]:
    """Train one model with one optimizer and learning rate; return accuracy, time, memory."""
    from course_lib.schedules import ScheduleLR, constant_schedule, cosine_schedule
    from course_lib.train import choose_device, seed_everything
    from course_lib.train.metrics import accuracy

    options = {k: config[k] for k in ("subset", "val_size") if config.get(k) is not None}
    data = load_data("fashion_mnist", seed=0, **options)
    dev = choose_device(device)
    seed_everything(config["seed"])
    model = build_model(config, data.meta["num_classes"])
    total = config["epochs"] * math.ceil(len(data.train) / config["batch_size"])
    schedules = {"cosine": cosine_schedule(1.0, total), "constant": constant_schedule(1.0)}
    if config["schedule"] not in schedules:
        raise ValueError(f"unknown schedule {config['schedule']!r}; use 'cosine' or 'constant'")
    factory = make_optimizer(config["optimizer"], config["lr"])
    built: list[torch.optim.Optimizer] = []  # the optimizer fit builds, to measure its state

    def optimizer(params: Any) -> torch.optim.Optimizer:
        built.append(factory(params))
        return built[-1]

    history, diverged = fit_until_diverged(
        model,
        data.train,
        val=data.val,
        loss_fn=torch.nn.functional.cross_entropy,
        optimizer=optimizer,
        scheduler=lambda opt: ScheduleLR(opt, schedules[config["schedule"]]),
        scheduler_interval="step",
        epochs=config["epochs"],
        batch_size=config["batch_size"],
        metrics={"accuracy": accuracy},
        device=dev,
        seed=config["seed"],
        amp=amp_for(config["amp"], dev),
        log_dir=run_dir,
        hparams=dict(config),
        progress=False,
    )
    save_history(history, run_dir)
    if diverged:  # the weights are NaN: nothing to evaluate
        return {"diverged": True, "device": dev.type}
    test_x, test_y = take(data.test, config.get("test_subset"), seed=0)
    test_acc = accuracy(predict(model, test_x, dev), test_y)
    last = history.epochs[-1]
    val_losses = [finite(e["val_loss"]) for e in history.epochs]
    memory = [e.get("peak_memory_bytes") for e in history.epochs]
    return {
        "val_accuracy": finite(last["val_accuracy"]),
        "best_val_accuracy": max(finite(e["val_accuracy"]) or 0.0 for e in history.epochs),
        "test_accuracy": finite(test_acc),
        "best_val_loss": min((v for v in val_losses if v is not None), default=None),
        "train_loss": finite(last["train_loss"]),
        "generalization_gap": finite(last["train_accuracy"] - last["val_accuracy"]),
        "time_per_epoch_s": last["wall_time"] / len(history.epochs),
        "optimizer_state_mb": state_bytes(built[-1]) / 2**20,
        # CUDA: the run's peak allocation; CPU: the process's peak RSS so far (see fit).
        "peak_memory_mb": max((m for m in memory if m), default=0) / 2**20 or None,
        "diverged": False,
        "device": dev.type,
    }


def best_lrs(rows: Sequence[Mapping[str, Any]], metric: str = "val_accuracy") -> dict[str, float]:
    """Each optimizer's learning rate with the highest mean ``metric`` over seeds."""
    best: dict[str, tuple[float, float]] = {}
    for (opt, lr), (mean, _, _) in group_mean(rows, ("optimizer", "lr"), metric).items():
        if opt not in best or mean > best[opt][1]:
            best[opt] = (lr, mean)
    return {opt: lr for opt, (lr, _) in best.items()}


def headline(rows: Sequence[Mapping[str, Any]]) -> str:
    """Each optimizer's best learning rate (chosen on validation) and its test accuracy."""
    stats = group_mean(rows, ("optimizer", "lr"), "test_accuracy")
    cells = [
        f"{opt} {stats[(opt, lr)][0]:.3f} @ lr {lr:g}"
        for opt, lr in best_lrs(rows).items()
        if (opt, lr) in stats
    ]
    return "test accuracy at the best lr (by val) -- " + (", ".join(cells) or "no finished runs")


def plots(rows: Sequence[Mapping[str, Any]], out_dir: Path) -> list[Path]:
    """Accuracy vs learning rate per optimizer; loss curves at each one's best rate."""
    from course_lib.experiments import plots as P

    return P.shootout_plots(rows, Path(out_dir), best_lrs(rows))


EXPERIMENT = Experiment(
    name="shootout",
    title="SGD, momentum, Nesterov, RMSprop, Adam, AdamW x learning rates on Fashion-MNIST",
    configs=configs,
    train_one=train_one,
    plots=plots,
    headline=headline,
)
