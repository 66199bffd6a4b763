"""The CNN schedule grid: its lr sequence is torch's scheduler's, and a tiny run finishes."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.experiments import cnn_schedules as C
from course_lib.experiments.runner import load_history, run_grid


def torch_lrs(name: str, total: int, peak: float) -> list[float]:
    """The lr torch's own scheduler gives at steps 0..total-1 for the named schedule."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=peak, momentum=0.9)
    if name == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    elif name == "one_cycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=peak, total_steps=total, cycle_momentum=False
        )
    elif name == "step":
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=math.ceil(total / 3), gamma=0.1)
    else:
        sched = torch.optim.lr_scheduler.ConstantLR(opt, factor=1.0, total_iters=0)
    lrs = []
    for _ in range(total):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def test_configs_grid_and_unknown_name() -> None:
    grid = C.configs(["constant", "cosine"], seeds=[0, 1, 2])
    assert len(grid) == 6
    assert {c["schedule"] for c in grid} == {"constant", "cosine"}
    with pytest.raises(ValueError, match="unknown schedule"):
        C.configs(["nope"])


@pytest.mark.parametrize("name", ["constant", "step", "cosine", "one_cycle"])
def test_training_uses_torchs_lr_sequence(tmp_path, name: str) -> None:
    grid = C.configs(
        [name], seeds=[0], epochs=1, batch_size=32, subset=128, val_size=64,
        test_subset=64, channels=(2, 4), lr=0.05,
    )  # fmt: skip
    rows = run_grid(grid, C.train_one, tmp_path, progress=False)
    assert rows[0]["status"] == "done", rows[0]["error"]
    steps = load_history(tmp_path, rows[0]["id"], "steps")
    ours = [float(s["lr"]) for s in steps]
    assert ours == pytest.approx(torch_lrs(name, len(ours), 0.05), rel=1e-12, abs=1e-15)
    assert 0.0 <= rows[0]["test_accuracy"] <= 1.0
    assert rows[0]["max_grad_norm"] == pytest.approx(max(float(s["grad_norm"]) for s in steps))
