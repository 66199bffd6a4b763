"""Exact resume: an interrupted and resumed run ends with the same bits as an uninterrupted one."""

import pytest
import torch
from torch.nn import functional as F

from course_lib.train import History, accuracy, fit, load_checkpoint, save_checkpoint
from course_lib.train.checkpoint import CHECKPOINT_NAME

from .tiny import assert_same_weights, classification_data, dropout_mlp, linear, regression_data

TRAIN, VAL = classification_data(90), classification_data(30, seed=1)


def _run(model: torch.nn.Module, epochs: int, scheduler: str = "cosine", **kwargs) -> History:
    schedulers = {
        # per-step schedule whose lr depends on the position in the whole run
        "cosine": lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=20),
        # metric-driven, stepped per epoch with the validation loss
        "plateau": lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0),
    }
    return fit(
        model,
        TRAIN,
        val=VAL,
        loss_fn=F.cross_entropy,
        optimizer=lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
        scheduler=schedulers[scheduler],
        metrics={"accuracy": accuracy},
        epochs=epochs,
        batch_size=16,  # 6 steps per epoch, the last with 10 samples
        seed=3,
        device="cpu",
        progress=False,
        **kwargs,
    )


def _without_timing(history: History) -> list[dict]:
    return [
        {k: v for k, v in r.items() if k not in ("wall_time", "peak_memory_bytes")}
        for r in history.epochs
    ]


@pytest.mark.parametrize("scheduler", ["cosine", "plateau"])
def test_resume_after_an_epoch_equals_the_uninterrupted_run(tmp_path, scheduler: str) -> None:
    reference = dropout_mlp(seed=0)
    expected = _run(reference, 4, scheduler)

    first = dropout_mlp(seed=0)
    _run(first, 2, scheduler, checkpoint_dir=tmp_path)  # "interrupted" after epoch 2
    torch.manual_seed(999)  # the resumed process's generators start elsewhere
    resumed = dropout_mlp(seed=1)  # and its model from other weights
    history = _run(
        resumed, 4, scheduler, checkpoint_dir=tmp_path, resume=True, log_dir=tmp_path / "tb"
    )

    assert_same_weights(resumed, reference)
    assert history.steps == expected.steps
    assert _without_timing(history) == _without_timing(expected)


def test_resume_after_a_crash_mid_epoch(tmp_path) -> None:
    reference = dropout_mlp()
    _run(reference, 3)

    class CrashError(Exception):
        pass

    calls = 0

    def crashing_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        calls += 1
        if calls == 9:  # step 3 of epoch 1 (no validation here: every call is a step)
            raise CrashError
        return F.cross_entropy(out, y)

    model = dropout_mlp()
    with pytest.raises(CrashError):
        fit(
            model,
            TRAIN,
            loss_fn=crashing_loss,
            epochs=3,
            batch_size=16,
            seed=3,
            device="cpu",
            optimizer=lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
            scheduler=lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=20),
            progress=False,
            checkpoint_dir=tmp_path,
        )
    assert (
        load_checkpoint(tmp_path / CHECKPOINT_NAME, model=dropout_mlp(), restore_rng=False).epoch
        == 1
    )

    # The validation set and metrics do not touch the random generators, so a rerun of the
    # same call (here without them, as before the crash) resumes exactly.
    resumed = dropout_mlp(seed=5)
    fit(
        resumed,
        TRAIN,
        loss_fn=F.cross_entropy,
        epochs=3,
        batch_size=16,
        seed=3,
        device="cpu",
        optimizer=lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
        scheduler=lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=20),
        progress=False,
        checkpoint_dir=tmp_path,
        resume=True,
    )
    assert_same_weights(resumed, reference)


def test_resume_without_a_checkpoint_starts_afresh_and_a_finished_run_stays(tmp_path) -> None:
    a, b = dropout_mlp(), dropout_mlp()
    ha = _run(a, 2)
    hb = _run(b, 2, checkpoint_dir=tmp_path / "new", resume=True)
    assert_same_weights(a, b)
    again = dropout_mlp(seed=7)
    hc = _run(again, 2, checkpoint_dir=tmp_path / "new", resume=True)  # nothing left to do
    assert_same_weights(again, b)
    assert hc.steps == hb.steps == ha.steps


def test_resume_with_other_settings_is_refused(tmp_path) -> None:
    _run(dropout_mlp(), 1, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="batch_size: 16 then, 8 now"):
        fit(
            dropout_mlp(),
            TRAIN,
            loss_fn=F.cross_entropy,
            optimizer=lambda p: torch.optim.SGD(p, lr=0.1),
            epochs=2,
            batch_size=8,
            seed=3,
            device="cpu",
            progress=False,
            checkpoint_dir=tmp_path,
            resume=True,
        )


def test_save_and_load_restore_everything(tmp_path) -> None:
    model = linear()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    fit(
        model,
        regression_data(),
        loss_fn=F.mse_loss,
        optimizer=optimizer,
        scheduler=scheduler,
        epochs=1,
        device="cpu",
        progress=False,
    )
    history = History(steps=[{"step": 1, "loss": 0.5}])
    path = save_checkpoint(
        tmp_path / "c.pt",
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        history=history,
        epoch=1,
        step=2,
        config={"seed": 0},
    )
    draw = torch.rand(3)

    other = linear(seed=1)
    other_opt = torch.optim.Adam(other.parameters(), lr=0.1)
    other_sched = torch.optim.lr_scheduler.StepLR(other_opt, step_size=1, gamma=0.5)
    saved = load_checkpoint(path, model=other, optimizer=other_opt, scheduler=other_sched)
    assert torch.equal(torch.rand(3), draw)  # generators restored to the moment of saving
    assert_same_weights(other, model)
    assert other_opt.state_dict()["state"][0]["exp_avg"].equal(
        optimizer.state[model.weight]["exp_avg"]
    )
    assert other_sched.state_dict() == scheduler.state_dict()
    assert (saved.epoch, saved.step, saved.config, saved.history.steps) == (
        1,
        2,
        {"seed": 0},
        history.steps,
    )
    with pytest.raises(ValueError, match="no scaler"):
        load_checkpoint(path, model=other, scaler=torch.amp.GradScaler("cpu"))
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt", model=other)
