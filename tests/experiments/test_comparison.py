"""The measured optimizer comparison: lr selection, its memory column against torch.optim's own
state, timing, and the resumable two-stage protocol on a tiny grid."""

from __future__ import annotations

import pytest
import torch

from course_lib.experiments import comparison as C
from course_lib.experiments.runner import config_id


def test_select_lrs_takes_the_lowest_validation_loss_and_skips_diverged_runs():
    rows = [
        {"optimizer": "sgd", "lr": 0.1, "val_loss": 0.5, "status": "done"},
        {"optimizer": "sgd", "lr": 0.3, "val_loss": 0.4, "status": "done"},
        {"optimizer": "sgd", "lr": 1.0, "val_loss": None, "status": "done"},
        {"optimizer": "adam", "lr": 1e-3, "val_loss": 0.4, "status": "done"},
        {"optimizer": "adam", "lr": 3e-3, "val_loss": 0.4, "status": "done"},  # tie: smaller lr
        {"optimizer": "adam", "lr": 1e-2, "val_loss": 0.1, "status": "failed"},
    ]
    assert C.select_lrs(rows) == {"sgd": 0.3, "adam": 1e-3}


@pytest.mark.parametrize("name", sorted(C.OPTIMIZERS))
def test_state_bytes_equal_torch_optims_state(name):
    # The memory column, against the state torch.optim's class of the same name keeps.
    cls_name, kwargs = C.OPTIMIZERS[name]
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(7, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    ours = C.make_optimizer(name, 1e-2)(model.parameters())
    ref = getattr(torch.optim, cls_name)(model.parameters(), lr=1e-2, **kwargs)
    model(torch.randn(4, 7)).sum().backward()
    ours.step()
    ref.step()
    from course_lib.experiments.shootout import state_bytes

    assert state_bytes(ours) == state_bytes(ref)
    copies = {"sgd": 0, "momentum": 1, "nesterov": 1, "adagrad": 1, "rmsprop": 1}.get(name, 2)
    scalars = state_bytes(ours) - copies * C.parameter_bytes(model)
    assert 0 <= scalars <= 8 * len(list(model.parameters()))  # one step counter per tensor


def test_default_out_dir_finds_the_repository_from_a_chapter_folder(tmp_path):
    (tmp_path / "_config.yml").write_text("title: x\n")
    (tmp_path / "course_lib").mkdir()
    chapter = tmp_path / "book" / "optimizers"
    chapter.mkdir(parents=True)
    assert C.default_out_dir("x", start=chapter) == tmp_path / "_build" / "experiments" / "x"
    elsewhere = tmp_path / "book"
    assert C.default_out_dir("y", start=elsewhere).parent == tmp_path / "_build" / "experiments"


def test_grids_are_plain_data_with_a_sweep_then_the_other_seeds():
    setup = C.ComparisonSetup()
    sweep = C.sweep_configs(setup)
    assert len(sweep) == len(setup.optimizers) * len(setup.lr_offsets)
    assert {c["seed"] for c in sweep} == {setup.seeds[0]}
    assert setup.lrs("adam") == [1e-4, 3.16e-4, 1e-3, 3.16e-3, 1e-2]
    tuned = C.tuned_configs(setup, {"adam": 1e-3, "sgd": 0.1})
    assert {(c["optimizer"], c["seed"]) for c in tuned} == {
        (o, s) for o in ("adam", "sgd") for s in setup.seeds[1:]
    }
    # The tuned run of the first seed is a sweep run: same configuration, same id.
    first = {**tuned[0], "seed": setup.seeds[0]}
    assert config_id(first) in {config_id(c) for c in sweep}


def test_time_optimizer_steps_times_every_optimizer():
    torch.manual_seed(0)
    model = torch.nn.Linear(10, 3)
    x, y = torch.randn(8, 10), torch.randint(0, 3, (8,))
    before = [p.detach().clone() for p in model.parameters()]
    times = C.time_optimizer_steps(["sgd", "adam"], model, x, y, steps=2, rounds=2)
    assert set(times) == {"forward_backward", "sgd", "adam"}
    assert all(0 < t < 1 for t in times.values())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


@pytest.mark.needs_data
def test_tiny_comparison_runs_resumes_and_summarizes(tmp_path):
    setup = C.ComparisonSetup(
        optimizers=("sgd", "adam"),
        lr_offsets=(-0.5, 0.0),
        seeds=(0, 1),
        epochs=1,
        train_size=256,
        val_size=128,
        depth=1,
        width=16,
    )
    result = C.run_comparison(setup, tmp_path)
    assert len(result.rows) == 2 * 2 + 2 * 1
    assert all(r["status"] == "done" for r in result.rows)
    assert set(result.lrs) == {"sgd", "adam"}
    adam = result.tuned("adam")[0]
    assert adam["state_bytes"] == pytest.approx(2 * adam["param_bytes"], abs=8 * 4)
    assert len(result.step_losses(adam)) == adam["steps"] == 4  # 256 / 64
    assert adam["gap"] == pytest.approx(adam["train_accuracy"] - adam["test_accuracy"])
    # Rerun: every configuration is read back from disk, none retrained.
    again = C.run_comparison(setup, tmp_path)
    assert [r["wall_time_s"] for r in again.rows] == [r["wall_time_s"] for r in result.rows]
    table = C.summarize(again, threshold=10.0, window=1, tol=0.5)
    assert [r["optimizer"] for r in table] == ["sgd", "adam"]
    assert all(r["seeds"] == 2 and r["reached"] == 2 and r["steps_mean"] == 1 for r in table)
    assert table[0]["state_ratio"] == 0 and table[1]["state_ratio"] == pytest.approx(2, abs=1e-3)
