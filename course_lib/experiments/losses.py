"""Exercise 1, loss functions: MSE, MAE and Huber on California Housing, with and without outliers.

An MLP regresses the median house value (in units of $100,000) from the eight census features.
Each loss trains on the clean training targets and on targets where a fraction was replaced by
gross outliers (``course_lib.data``'s ``outlier_fraction``; validation and test targets stay
clean). The scores are the test MSE and MAE on the *clean* test targets, so they measure how
much the outliers pulled the fit away from the truth.

What it shows: the MSE gradient of a residual ``r`` is ``r`` itself, so a few huge residuals
dominate every step; Huber's gradient is clipped at ``delta`` and MAE's is ``sign(r)``, so their
fits barely move. Without outliers the three end close to each other.

Grid keys (``preset.grid``): ``losses`` (names of :data:`LOSSES`), ``outlier_fractions``,
``lr`` (Adam), and optionally ``huber_delta`` (default 1.0, i.e. $100,000).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from course_lib import losses
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

LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "mse": losses.mse_loss,
    "mae": losses.l1_loss,
    "huber": losses.huber_loss,
}


def configs(preset: Preset) -> list[dict[str, Any]]:
    """One configuration per outlier fraction x loss x seed."""
    grid = preset.grid
    fixed = {
        "lr": grid["lr"],
        "huber_delta": grid.get("huber_delta", 1.0),
        "epochs": preset.epochs,
        "batch_size": preset.batch_size,
        **preset.model,
        **preset.data,
        "amp": preset.amp,
    }
    return [
        {"loss": loss, "outlier_fraction": frac, "seed": seed, **fixed}
        for frac in grid["outlier_fractions"]
        for loss in grid["losses"]
        for seed in preset.seeds
    ]


def _loss_fn(name: str, delta: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    loss = LOSSES[name]
    kwargs = {"delta": delta} if name == "huber" else {}

    def loss_fn(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        # The MLP outputs (N, 1); the targets are (N,).
        return loss(outputs.squeeze(-1), targets.to(outputs.dtype), **kwargs)

    return loss_fn


def _mse(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    return float(((outputs.squeeze(-1).float() - targets) ** 2).mean())


def _mae(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    return float((outputs.squeeze(-1).float() - targets).abs().mean())


def train_one(
    config: Mapping[str, Any], run_dir: Path, *, device: str | None = None
) -> dict[str, Any]:
    """Train one MLP regressor; return its clean test MSE and MAE and its last losses."""
    from course_lib.models import MLP
    from course_lib.optim import Adam
    from course_lib.train import choose_device, seed_everything

    data = load_data("california_housing", seed=0, outlier_fraction=config["outlier_fraction"])
    train_x, train_y = take(data.train, config.get("train_subset"), seed=0)
    dev = choose_device(device)
    seed_everything(config["seed"])
    model = MLP(train_x.shape[1], 1, depth=config["depth"], width=config["width"])
    history, diverged = fit_until_diverged(
        model,
        type(data.train)(train_x, train_y),
        val=data.val,
        loss_fn=_loss_fn(config["loss"], config["huber_delta"]),
        optimizer=lambda params: Adam(params, lr=config["lr"]),
        epochs=config["epochs"],
        batch_size=config["batch_size"],
        metrics={"mse": _mse, "mae": _mae},
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
    pred = predict(model, data.test.x, dev).squeeze(-1)
    last = history.epochs[-1]
    return {
        "test_mse": finite(((pred - data.test.y) ** 2).mean()),
        "test_mae": finite((pred - data.test.y).abs().mean()),
        "val_mae": finite(last["val_mae"]),
        "train_loss": finite(last["train_loss"]),
        "diverged": False,
        "device": dev.type,
    }


def headline(rows: Sequence[Mapping[str, Any]]) -> str:
    """Clean test MAE (and MSE) of each loss per outlier fraction, means over seeds."""
    mae = group_mean(rows, ("outlier_fraction", "loss"), "test_mae")
    mse = group_mean(rows, ("outlier_fraction", "loss"), "test_mse")
    if not mae:
        return "no finished runs"
    parts = []
    for frac in sorted({f for f, _ in mae}, reverse=True):
        cells = [
            f"{loss} {m:.3f} ({mse[(f, loss)][0]:.3f})"
            for (f, loss), (m, _, _) in sorted(mae.items())
            if f == frac
        ]
        parts.append(f"outliers {frac:g}: " + ", ".join(cells))
    return "clean test MAE (MSE), $100k, by training loss -- " + "; ".join(parts)


def plots(rows: Sequence[Mapping[str, Any]], out_dir: Path) -> list[Path]:
    """Bars of clean test MSE and MAE per loss and outlier fraction; validation MAE curves."""
    from course_lib.experiments import plots as P

    return P.losses_plots(rows, Path(out_dir))


EXPERIMENT = Experiment(
    name="losses",
    title="MSE vs MAE vs Huber on California Housing, with and without outliers",
    configs=configs,
    train_one=train_one,
    plots=plots,
    headline=headline,
)
