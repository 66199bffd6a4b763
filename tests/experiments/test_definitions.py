"""The experiments' grids, schedules, losses and scores, without training anything."""

import itertools
import json
import math

import pytest
import torch

from course_lib import schedules as S
from course_lib.experiments import (
    EXPERIMENTS,
    PRESET_NAMES,
    PRESETS,
    Experiment,
    Preset,
    get_preset,
    imbalance,
    losses,
    run_experiment,
    schedules,
    shootout,
)
from course_lib.experiments.runner import config_id


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_grids_are_plain_data_with_unique_ids(name, preset):
    p = get_preset(name, preset)
    grid = EXPERIMENTS[name].configs(p)
    assert len({config_id(c) for c in grid}) == len(grid)
    assert all(json.loads(json.dumps(c)) == c for c in grid)
    assert {c["seed"] for c in grid} == set(p.seeds)
    if preset == "smoke":  # CI runs these: a handful of one-epoch runs
        assert 2 <= len(grid) <= 3 and p.epochs == 1 and len(p.seeds) == 1


def test_every_experiment_has_the_three_presets():
    assert set(PRESETS) == set(EXPERIMENTS)
    assert all(set(p) == set(PRESET_NAMES) for p in PRESETS.values())
    with pytest.raises(KeyError, match="choose from"):
        get_preset("losses", "huge")
    with pytest.raises(KeyError, match="unknown experiment"):
        run_experiment("nope")


def test_with_seeds_replaces_the_seeds_only():
    p = get_preset("losses", "cpu")
    q = p.with_seeds([3, 4, 5])
    assert q.seeds == (3, 4, 5) and q.epochs == p.epochs
    assert len(losses.configs(q)) == len(losses.configs(p)) // len(p.seeds) * 3
    with pytest.raises(ValueError):
        p.with_seeds([])


def test_shootout_sweeps_a_log_grid_around_each_usual_lr():
    grid = get_preset("shootout", "cpu").grid["lrs"]
    assert set(grid) == set(shootout.OPTIMIZERS)
    for lrs in grid.values():
        ratios = [b / a for a, b in itertools.pairwise(lrs)]
        assert all(3.0 < r < 3.4 for r in ratios)  # half-decade steps


def test_shootout_optimizers_are_the_course_classes():
    from course_lib import optim

    w = [torch.nn.Parameter(torch.zeros(3))]
    nesterov = shootout.make_optimizer("nesterov", 0.05)(w)
    assert type(nesterov) is optim.SGD
    assert nesterov.defaults["nesterov"] and nesterov.defaults["momentum"] == 0.9
    assert type(shootout.make_optimizer("adamw", 1e-3)(w)) is optim.AdamW
    rows = [
        {"optimizer": "sgd", "lr": 0.1, "val_accuracy": 0.8, "status": "done"},
        {"optimizer": "sgd", "lr": 1.0, "val_accuracy": 0.9, "status": "done"},
        {"optimizer": "sgd", "lr": 3.0, "val_accuracy": None, "status": "done"},
    ]
    assert shootout.best_lrs(rows) == {"sgd": 1.0}


def test_schedule_multipliers_match_the_library():
    total, warmup = 200, 0.1
    warm_cos = schedules.schedule_multiplier("warmup_cosine", total, warmup)
    reference = S.warmup_cosine_schedule(1.0, warmup_steps=20, total_steps=total)
    assert all(math.isclose(warm_cos(t), reference(t), abs_tol=1e-12) for t in range(total))
    one_cycle = schedules.schedule_multiplier("one_cycle", total, warmup)
    assert max(one_cycle(t) for t in range(total)) == pytest.approx(1.0)
    step = schedules.schedule_multiplier("step", total, warmup)
    assert [step(0), step(67), step(134)] == pytest.approx([1.0, 0.1, 0.01])
    expo = schedules.schedule_multiplier("exponential", total, warmup)
    assert expo(total) == pytest.approx(0.01)
    warm_const = schedules.schedule_multiplier("warmup_constant", total, warmup)
    assert warm_const(0) == 0.0 and warm_const(10) == pytest.approx(0.5) and warm_const(150) == 1
    with pytest.raises(ValueError, match="warmup_cosine"):
        schedules.schedule_multiplier("warmup_one_cycle", total, warmup)


def test_loss_stability_measures_spikes_and_end_noise():
    flat = [1.0] * 40
    assert schedules.loss_stability(flat, flat[-10:]) == {
        "last_epoch_loss_std": 0.0,
        "max_spike": 0.0,
    }
    spiky = [*flat[:30], 3.0, *flat[:9]]
    assert schedules.loss_stability(spiky, spiky[-10:])["max_spike"] == 2.0
    assert schedules.loss_stability([1.0, float("nan")], [])["max_spike"] is None


def test_losses_reshape_the_mlp_output():
    out, y = torch.tensor([[1.0], [5.0]]), torch.tensor([1.0, 1.0])
    assert losses._loss_fn("mse", 1.0)(out, y) == pytest.approx(8.0)
    assert losses._loss_fn("mae", 1.0)(out, y) == pytest.approx(2.0)
    assert losses._loss_fn("huber", 1.0)(out, y) == pytest.approx(3.5 / 2)


def test_imbalance_losses():
    logits, y = torch.randn(50, 2), (torch.rand(50) < 0.2).long()
    w = imbalance.balanced_weights(y)
    assert (w * torch.bincount(y, minlength=2)).tolist() == pytest.approx([25.0, 25.0])
    focal0 = imbalance.make_loss("focal", 0.0, w)(logits, y)
    assert focal0 == pytest.approx(float(imbalance.make_loss("ce", None, w)(logits, y)))
    weighted = imbalance.make_loss("weighted_ce", None, w)(logits, y)
    assert weighted == pytest.approx(float(torch.nn.functional.cross_entropy(logits, y, w)))
    with pytest.raises(ValueError):
        imbalance.make_loss("focal", None, w)


def test_scores_at_prevalence_equal_scores_on_a_resampled_set():
    # 10 positives, 90 negatives: the set is already at prevalence 0.1, so the formula must
    # give the plain precision / recall / F1 of the set.
    y = torch.cat([torch.ones(10), torch.zeros(90)]).long()
    p = torch.cat([torch.linspace(0.3, 0.9, 10), torch.linspace(0.0, 0.7, 90)])
    s = imbalance.scores_at_prevalence(p, y, 0.5, prevalence=0.1)
    pred = p > 0.5
    tp = int((pred & (y == 1)).sum())
    assert s["precision"] == pytest.approx(tp / int(pred.sum()))
    assert s["recall"] == pytest.approx(tp / 10)
    # A rarer positive class at the same rates: lower precision, same recall.
    rare = imbalance.scores_at_prevalence(p, y, 0.5, prevalence=0.01)
    assert rare["precision"] < s["precision"] and rare["recall"] == s["recall"]


def test_best_threshold_separates_the_classes():
    y = torch.tensor([0, 0, 0, 1, 1])
    p = torch.tensor([0.01, 0.02, 0.04, 0.1, 0.3])
    t = imbalance.best_f1_threshold(p, y, prevalence=0.05)
    assert 0.04 < t < 0.1


@pytest.mark.parametrize(("name", "copies"), [("sgd", 0), ("momentum", 1), ("adam", 2)])
def test_optimizer_state_bytes_count_the_buffers(name, copies):
    w = torch.nn.Parameter(torch.ones(10, 10))
    opt = shootout.make_optimizer(name, 0.1)([w])
    w.grad = torch.ones_like(w)
    opt.step()
    # The buffers, plus a scalar step counter where the optimizer keeps one.
    assert 0 <= shootout.state_bytes(opt) - copies * w.numel() * 4 <= 8


def test_run_experiment_applies_the_preset_threads_and_restores_them(tmp_path, monkeypatch):
    seen: list[tuple[int, str | None]] = []

    def train_one(config, run_dir, *, device=None):
        seen.append((torch.get_num_threads(), device))
        return {"x": 1.0}

    fake = Experiment("fake", "a test double", lambda p: [{"seed": s} for s in p.seeds],
                      train_one, lambda rows, out: [], lambda rows: "")  # fmt: skip
    monkeypatch.setitem(EXPERIMENTS, "fake", fake)
    before = torch.get_num_threads()
    preset = Preset("cpu", epochs=1, batch_size=1, seeds=(0, 1), threads=1)
    rows, plots = run_experiment("fake", preset, tmp_path, device="cpu", progress=False)
    assert seen == [(1, "cpu"), (1, "cpu")] and len(rows) == 2 and plots == []
    assert torch.get_num_threads() == before
