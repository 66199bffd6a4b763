"""fit: equal to a hand-written loop, and each option doing what it says."""

import math

import pytest
import torch
from torch.nn import functional as F

from course_lib.schedules import ReduceLROnPlateau as CoursePlateau
from course_lib.train import accuracy, evaluate, fit

from .tiny import (
    ItemDataset,
    assert_same_weights,
    classification_data,
    dropout_mlp,
    linear,
    reference_loop,
    regression_data,
    sgd,
)

CPU = {"device": "cpu", "progress": False}


@pytest.mark.parametrize("wrap", ["tensors", "items"])
def test_equals_a_hand_written_loop(wrap: str) -> None:
    data = regression_data(100)  # batch 16: the last batch of each epoch has 4 samples
    train = data if wrap == "tensors" else ItemDataset(*data.tensors)
    model, reference = linear(), linear()
    history = fit(
        model, train, loss_fn=F.mse_loss, optimizer=sgd(), epochs=3, batch_size=16, seed=4, **CPU
    )
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.05, momentum=0.9)
    reference_loop(reference, data, optimizer, epochs=3, batch_size=16, seed=4)
    assert_same_weights(model, reference)
    assert len(history.steps) == 3 * 7 and [r["epoch"] for r in history.epochs] == [0, 1, 2]


def test_optimizer_instance_and_clipping_match_torch() -> None:
    data = regression_data(64)
    model, reference = linear(), linear()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    fit(
        model,
        data,
        loss_fn=F.mse_loss,
        optimizer=optimizer,
        epochs=2,
        batch_size=8,
        clip_grad_norm=0.5,
        **CPU,
    )
    ref_optimizer = torch.optim.Adam(reference.parameters(), lr=0.1)
    reference_loop(reference, data, ref_optimizer, epochs=2, batch_size=8, clip_grad_norm=0.5)
    assert_same_weights(model, reference)


def test_history_contents() -> None:
    data = classification_data(100)
    history = fit(
        dropout_mlp(),
        data,
        val=classification_data(40, seed=1),
        loss_fn=F.cross_entropy,
        optimizer=sgd(),
        metrics={"accuracy": accuracy},
        epochs=2,
        batch_size=32,
        **CPU,
    )
    assert [r["step"] for r in history.steps] == list(range(1, 9))
    assert set(history.steps[0]) == {"step", "epoch", "loss", "lr", "grad_norm"}
    first = history.epochs[0]
    assert set(first) == {
        "epoch",
        "step",
        "train_loss",
        "train_accuracy",
        "val_loss",
        "val_accuracy",
        "wall_time",
        "peak_memory_bytes",
    }
    # The epoch loss is the sample-weighted mean of the step losses (batches 32, 32, 32, 4).
    losses = [r["loss"] for r in history.steps[:4]]
    weighted = (32 * sum(losses[:3]) + 4 * losses[3]) / 100
    assert first["train_loss"] == pytest.approx(weighted, rel=1e-6)
    assert first["peak_memory_bytes"] > 0
    assert history.epochs[1]["wall_time"] > first["wall_time"] > 0


def test_val_metrics_equal_evaluate() -> None:
    model, val = dropout_mlp(), classification_data(50, seed=2)
    history = fit(
        model,
        classification_data(),
        val=val,
        loss_fn=F.cross_entropy,
        optimizer=sgd(),
        metrics={"accuracy": accuracy},
        **CPU,
    )
    model.train()
    result = evaluate(
        model, val, loss_fn=F.cross_entropy, metrics={"accuracy": accuracy}, batch_size=7
    )
    assert model.training  # evaluate restores the mode
    assert result["accuracy"] == history.epochs[-1]["val_accuracy"]
    assert result["loss"] == pytest.approx(history.epochs[-1]["val_loss"], rel=1e-6)
    model.eval()
    assert result["loss"] == pytest.approx(F.cross_entropy(model(val.x), val.y).item(), rel=1e-6)


def test_bf16_autocast_on_cpu() -> None:
    history = fit(
        dropout_mlp(),
        classification_data(),
        loss_fn=F.cross_entropy,
        optimizer=sgd(),
        amp="bf16",
        val=classification_data(30, seed=1),
        metrics={"accuracy": accuracy},
        batch_size=32,
        epochs=2,
        **CPU,
    )
    assert all(math.isfinite(r["loss"]) for r in history.steps)
    assert math.isfinite(history.epochs[-1]["val_loss"])
    assert history.epochs[-1]["train_loss"] < history.epochs[0]["train_loss"] * 1.5


def test_fp16_on_cpu_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="bf16"):
        fit(linear(), regression_data(), loss_fn=F.mse_loss, optimizer=sgd(), amp="fp16", **CPU)
    with pytest.raises(ValueError, match="amp must be"):
        fit(linear(), regression_data(), loss_fn=F.mse_loss, optimizer=sgd(), amp="fp8", **CPU)


def test_clip_grad_norm_records_the_norm_before_clipping() -> None:
    model = linear()
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    history = fit(
        model,
        regression_data(),
        loss_fn=F.mse_loss,
        optimizer=sgd(lr=0.1, momentum=0),
        clip_grad_norm=0.01,
        max_steps=1,
        **CPU,
    )
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert history.steps[0]["grad_norm"] > 1.0  # recorded before clipping
    step = (after - before).norm().item()
    assert step == pytest.approx(0.1 * 0.01, rel=1e-4)  # lr * clipped norm


def test_clip_grad_value_bounds_each_component() -> None:
    model = linear()
    before = [p.detach().clone() for p in model.parameters()]
    fit(
        model,
        regression_data(),
        loss_fn=F.mse_loss,
        optimizer=sgd(lr=0.1, momentum=0),
        clip_grad_value=0.002,
        max_steps=1,
        **CPU,
    )
    for p, p0 in zip(model.parameters(), before, strict=True):
        # lr * c, up to float32 rounding of parameters of size ~1
        assert (p.detach() - p0).abs().max().item() <= 0.1 * 0.002 + 1e-7


@pytest.mark.parametrize("interval", ["step", "epoch"])
def test_scheduler_interval(interval: str) -> None:
    history = fit(
        linear(),
        regression_data(40),
        loss_fn=F.mse_loss,
        optimizer=sgd(lr=1.0, momentum=0),
        scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5),
        scheduler_interval=interval,
        epochs=2,
        batch_size=10,  # 4 steps per epoch
        **CPU,
    )
    lrs = [r["lr"] for r in history.steps]
    if interval == "step":
        assert lrs == [0.5**k for k in range(8)]
    else:
        assert lrs == [1.0] * 4 + [0.5] * 4


@pytest.mark.parametrize("plateau", [torch.optim.lr_scheduler.ReduceLROnPlateau, CoursePlateau])
def test_plateau_scheduler_gets_the_validation_loss(plateau: type) -> None:
    seen: list[float] = []

    def make(opt: torch.optim.Optimizer):
        scheduler = plateau(opt, patience=0, factor=0.5)
        original = scheduler.step
        scheduler.step = lambda metrics: (seen.append(metrics), original(metrics))[1]
        return scheduler

    history = fit(
        linear(),
        regression_data(),
        val=regression_data(30, seed=1),
        loss_fn=F.mse_loss,
        optimizer=sgd(lr=0.5),
        scheduler=make,
        epochs=4,
        batch_size=25,
        **CPU,
    )
    assert seen == history.column("val_loss")
    with pytest.raises(ValueError, match="val="):
        fit(linear(), regression_data(), loss_fn=F.mse_loss, optimizer=sgd(), scheduler=make, **CPU)


def test_non_finite_loss_names_the_step() -> None:
    calls = 0

    def loss_fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        calls += 1
        loss = F.mse_loss(out, y)
        return loss * float("nan") if calls == 13 else loss

    with pytest.raises(FloatingPointError, match=r"nan at step 13 \(epoch 1") as info:
        fit(
            linear(),
            regression_data(100),
            loss_fn=loss_fn,
            optimizer=sgd(),
            epochs=3,
            batch_size=10,
            log_every=5,
            **CPU,
        )
    assert "learning rate" in str(info.value)
    assert len(info.value.history.steps) == 12


def test_max_steps_stops_mid_epoch() -> None:
    history = fit(
        linear(),
        regression_data(100),
        val=regression_data(20, seed=1),
        loss_fn=F.mse_loss,
        optimizer=sgd(),
        epochs=5,
        batch_size=10,
        max_steps=15,
        **CPU,
    )
    assert len(history.steps) == 15
    assert [r["step"] for r in history.epochs] == [10, 15]


def test_progress_bar_runs(capsys: pytest.CaptureFixture[str]) -> None:
    fit(linear(), regression_data(), loss_fn=F.mse_loss, optimizer=sgd(), device="cpu")
    assert "fit" in capsys.readouterr().err


def test_argument_errors() -> None:
    data = regression_data()
    common = {"loss_fn": F.mse_loss, "optimizer": sgd(), **CPU}
    for bad in [
        {"epochs": -1},
        {"batch_size": 0},
        {"log_every": 0},
        {"max_steps": 0},
        {"scheduler_interval": "batch"},
        {"clip_grad_norm": 0.0},
        {"resume": True},
        {"batch_size": 2.5},
    ]:
        with pytest.raises(ValueError):
            fit(linear(), data, **{**common, **bad})
    with pytest.raises(ValueError, match="'loss'"):
        fit(linear(), data, metrics={"loss": accuracy}, **common)
    with pytest.raises(TypeError, match="closure"):
        fit(linear(), data, loss_fn=F.mse_loss, optimizer=lambda p: torch.optim.LBFGS(p), **CPU)
    with pytest.raises(ValueError, match="empty"):
        fit(linear(), regression_data(0), **common)
