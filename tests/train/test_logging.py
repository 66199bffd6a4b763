"""TensorBoard logs, read back with TensorBoard's own reader and compared with the history."""

import math

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2
from torch.nn import functional as F

from course_lib.train import History, accuracy, fit

from .tiny import classification_data, dropout_mlp

LOG_EVERY, HIST_EVERY = 2, 3


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> tuple[EventAccumulator, History]:
    log_dir = tmp_path_factory.mktemp("tb")
    history = fit(
        dropout_mlp(),
        classification_data(90),
        val=classification_data(30, seed=1),
        loss_fn=F.cross_entropy,
        optimizer=lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
        scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5),
        metrics={"accuracy": accuracy},
        epochs=2,
        batch_size=16,  # 6 steps per epoch
        log_dir=log_dir,
        log_every=LOG_EVERY,
        histogram_every=HIST_EVERY,
        hparams={"model": "dropout_mlp", "width": 16},
        device="cpu",
        progress=False,
    )
    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "histograms": 0})
    events.Reload()
    return events, history


def _f32(x: float) -> float:
    return float(np.float32(x))  # TensorBoard stores scalars as float32


def test_scalar_tags(logged: tuple[EventAccumulator, History]) -> None:
    events, _ = logged
    tags = set(events.Tags()["scalars"])
    expected = {
        "train/loss",
        "train/lr",
        "train/grad_norm",
        "grad_norm/0",
        "grad_norm/3",
        "train/epoch_loss",
        "train/accuracy",
        "val/loss",
        "val/accuracy",
        "time/wall_time",
        "memory/peak_bytes",
        "hparam/val_loss",
    }
    assert expected <= tags


def test_step_scalars_equal_the_history(logged: tuple[EventAccumulator, History]) -> None:
    events, history = logged
    for tag, key in [("train/loss", "loss"), ("train/lr", "lr"), ("train/grad_norm", "grad_norm")]:
        scalars = events.Scalars(tag)
        assert [s.step for s in scalars] == list(range(LOG_EVERY, 13, LOG_EVERY))
        for s in scalars:
            assert s.value == _f32(history.steps[s.step - 1][key])
    # The layers' norms make up the global norm.
    for total, first, last in zip(
        events.Scalars("train/grad_norm"),
        events.Scalars("grad_norm/0"),
        events.Scalars("grad_norm/3"),
        strict=True,
    ):
        assert math.hypot(first.value, last.value) == pytest.approx(total.value, rel=1e-5)


def test_epoch_scalars_equal_the_history(logged: tuple[EventAccumulator, History]) -> None:
    events, history = logged
    for tag, key in [
        ("val/loss", "val_loss"),
        ("val/accuracy", "val_accuracy"),
        ("train/epoch_loss", "train_loss"),
        ("train/accuracy", "train_accuracy"),
    ]:
        got = [(s.step, s.value) for s in events.Scalars(tag)]
        assert got == [(r["step"], _f32(r[key])) for r in history.epochs]


def test_histograms(logged: tuple[EventAccumulator, History]) -> None:
    events, _ = logged
    tags = set(events.Tags()["histograms"])
    assert {"weights/0.weight", "weights/3.bias", "gradients/0.weight"} <= tags
    histograms = events.Histograms("weights/0.weight")
    assert [h.step for h in histograms] == [3, 6, 9, 12]
    assert histograms[0].histogram_value.num == 16 * 4


def test_hparams(logged: tuple[EventAccumulator, History]) -> None:
    events, history = logged
    content = events.PluginTagToContent("hparams")
    assert {"_hparams_/experiment", "_hparams_/session_start_info"} <= set(content)
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hparams = start.session_start_info.hparams
    assert hparams["optimizer"].string_value == "SGD"
    assert hparams["lr"].number_value == 0.1
    assert hparams["model"].string_value == "dropout_mlp"
    assert hparams["width"].number_value == 16
    assert hparams["scheduler"].string_value == "StepLR"
    final = events.Scalars("hparam/val_accuracy")[-1].value
    assert final == _f32(history.epochs[-1]["val_accuracy"])


@pytest.mark.parametrize("every", [None, 0])
def test_histograms_default_to_each_epoch_end(tmp_path, every: int | None) -> None:
    history = fit(
        dropout_mlp(),
        classification_data(90),
        loss_fn=F.cross_entropy,
        optimizer=lambda p: torch.optim.SGD(p, lr=0.1),
        epochs=2,
        batch_size=16,
        log_dir=tmp_path,
        histogram_every=every,
        device="cpu",
        progress=False,
    )
    events = EventAccumulator(str(tmp_path), size_guidance={"histograms": 0})
    events.Reload()
    if every is None:
        steps = [h.step for h in events.Histograms("gradients/3.weight")]
        assert steps == history.column("step")
    else:
        assert not events.Tags()["histograms"]
