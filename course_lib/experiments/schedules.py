"""Exercise 3, learning-rate schedules: a 2-layer Transformer on IMDB under six schedules.

Every run uses AdamW at the same peak learning rate; only the schedule, stepped after every
optimizer step, differs. The presets' peak rate is deliberately high for this model (1e-2 on
the CPU), where a schedule's effect on stability shows within a few epochs. The schedules are
``course_lib.schedules``' pure functions of the step (multipliers of the peak rate) driven by
:class:`~course_lib.schedules.ScheduleLR`:

* ``constant``; ``step`` (x0.1 at 1/3 and 2/3 of training); ``exponential`` (to 1% at the end);
  ``cosine`` (to 0); ``one_cycle`` (torch's ``OneCycleLR`` policy, learning rate only);
* ``warmup_<name>`` for any of the first four: a linear ramp from 0 over ``warmup`` (a fraction
  of all steps), then the schedule over the remaining steps (``warmup_cosine`` is the Hugging
  Face / nanoGPT schedule).

Per run the table records the final test accuracy and three stability measures of training:
``last_epoch_loss_std``, the standard deviation of the last epoch's step losses (how noisy the
end is; decaying schedules quieten it), ``max_spike``, the largest jump of a step's loss above
the median of the 20 steps before it (in nats; what warm-up is for: large early updates while
Adam's second-moment estimates are still unsettled), and ``max_grad_norm``.

What it shows: without warm-up the first updates at the full rate throw the loss up from
chance level (0.69) to over 1 before it recovers; the warm-up ramp and one-cycle's low start
avoid that spike. Schedules that decay end with a lower training loss; the ones that keep a
high rate longest before decaying (warm-up + cosine, one-cycle) reach the best test accuracy,
and an exponential decay that spends most of the run at a small rate the worst. The ``cpu``
preset has one seed: differences of a point in accuracy are within run-to-run noise.

Grid keys (``preset.grid``): ``schedules`` (names as above), ``lr`` (the peak), ``warmup``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from course_lib import schedules as S
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

BASE_SCHEDULES = ("constant", "step", "exponential", "cosine")
SPIKE_WINDOW = 20


def configs(preset: Preset) -> list[dict[str, Any]]:
    """One configuration per schedule x seed."""
    grid = preset.grid
    fixed = {
        "lr": grid["lr"],
        "warmup": grid["warmup"],
        "epochs": preset.epochs,
        "batch_size": preset.batch_size,
        **preset.model,
        **preset.data,
        "amp": preset.amp,
    }
    for name in grid["schedules"]:
        schedule_multiplier(name, 100, fixed["warmup"])  # fail early on an unknown name
    return [
        {"schedule": name, "seed": seed, **fixed}
        for name in grid["schedules"]
        for seed in preset.seeds
    ]


def schedule_multiplier(name: str, total_steps: int, warmup: float) -> S.Schedule:
    """The schedule ``name`` as a multiplier of the peak rate, for ``total_steps`` steps.

    Raises:
        ValueError: for an unknown name (the message lists the known ones).
    """
    if name == "one_cycle":
        return S.one_cycle_schedule(1.0, total_steps)
    if name.startswith("warmup_") and name[len("warmup_") :] in BASE_SCHEDULES:
        ramp = max(1, round(warmup * total_steps))
        base = schedule_multiplier(name[len("warmup_") :], total_steps - ramp, warmup)
        warm = S.linear_warmup_schedule(1.0, ramp)
        # The base schedule starts where the ramp ends: it runs over the remaining steps.
        return lambda step: warm(step) if step < ramp else base(step - ramp)
    if name == "constant":
        return S.constant_schedule(1.0)
    if name == "step":
        return S.step_schedule(1.0, step_size=max(1, math.ceil(total_steps / 3)), gamma=0.1)
    if name == "exponential":
        return S.exponential_schedule(1.0, gamma=0.01 ** (1 / total_steps))
    if name == "cosine":
        return S.cosine_schedule(1.0, total_steps)
    known = [*BASE_SCHEDULES, "one_cycle", *(f"warmup_{b}" for b in BASE_SCHEDULES)]
    raise ValueError(f"unknown schedule {name!r}; use one of {', '.join(known)}")


def loss_stability(losses: Sequence[float], last_epoch: Sequence[float]) -> dict[str, Any]:
    """The last epoch's step-loss standard deviation and the largest spike of the run.

    A spike at step ``t`` is ``loss[t] - median(loss[t-20:t])`` (fewer steps before step 20),
    in the loss's units (nats): 0 for a flat curve; a step that jumps from 0.3 back to chance
    level (0.69 for two classes) scores about 0.4. A difference rather than a ratio, so that
    the small late losses, whose batch-to-batch noise is large relative to them, do not swamp
    real spikes. Non-finite losses (a diverged run) give ``None``.
    """
    if not losses or not all(math.isfinite(v) for v in losses):
        return {"last_epoch_loss_std": None, "max_spike": None}
    # From step 1 on, against the steps there are so far: the first steps are where an
    # un-warmed-up Adam jumps.
    spikes = [
        losses[t] - statistics.median(losses[max(0, t - SPIKE_WINDOW) : t])
        for t in range(1, len(losses))
    ]
    return {
        "last_epoch_loss_std": statistics.pstdev(last_epoch) if len(last_epoch) > 1 else 0.0,
        "max_spike": max(spikes, default=None),
    }


def train_one(
    config: Mapping[str, Any], run_dir: Path, *, device: str | None = None
) -> dict[str, Any]:
    """Train one Transformer under one schedule; return test accuracy and loss stability."""
    from course_lib.models import TransformerClassifier
    from course_lib.optim import AdamW
    from course_lib.train import choose_device, seed_everything
    from course_lib.train.metrics import accuracy

    keys = ("max_len", "vocab_size", "val_size", "subset")
    options = {k: config[k] for k in keys if config.get(k) is not None}
    data = load_data("imdb", seed=0, **options)
    dev = choose_device(device)
    seed_everything(config["seed"])
    model = TransformerClassifier(
        vocab_size=data.meta["vocab_size"],  # fewer than asked if the subset has fewer words
        num_classes=2,
        d_model=config["d_model"],
        n_heads=config["n_heads"],
        n_layers=config["n_layers"],
        d_ff=config["d_ff"],
        max_len=config["max_len"],
    )
    total = config["epochs"] * math.ceil(len(data.train.y) / config["batch_size"])
    multiplier = schedule_multiplier(config["schedule"], total, config["warmup"])
    history, diverged = fit_until_diverged(
        model,
        data.train,
        val=data.val,
        loss_fn=torch.nn.functional.cross_entropy,
        optimizer=lambda params: AdamW(params, lr=config["lr"], impl="foreach"),
        scheduler=lambda opt: S.ScheduleLR(opt, multiplier),
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


def headline(rows: Sequence[Mapping[str, Any]]) -> str:
    """Test accuracy and largest loss spike of each schedule (means over seeds)."""
    acc = group_mean(rows, ("schedule",), "test_accuracy")
    spike = group_mean(rows, ("schedule",), "max_spike")
    cells = [
        f"{name} {m:.3f}" + (f" (spike {spike[(name,)][0]:.2f})" if (name,) in spike else "")
        for (name,), (m, _, _) in acc.items()
    ]
    return "test accuracy (largest loss spike) -- " + (", ".join(cells) or "no finished runs")


def plots(rows: Sequence[Mapping[str, Any]], out_dir: Path) -> list[Path]:
    """Learning-rate curves, smoothed loss curves and final accuracy per schedule."""
    from course_lib.experiments import plots as P

    return P.schedules_plots(rows, Path(out_dir))


EXPERIMENT = Experiment(
    name="schedules",
    title="Constant, step, exponential, cosine, warm-up and one-cycle schedules on IMDB",
    configs=configs,
    train_one=train_one,
    plots=plots,
    headline=headline,
)
