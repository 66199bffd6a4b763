"""ReduceLROnPlateau fed the same metric sequences as torch's: same cuts at the same steps."""

import itertools
import pickle

import numpy as np
import pytest
import torch

from course_lib import schedules as ours
from tests.schedules.compare import compare, make_optimizer

T = torch.optim.lr_scheduler


def _metrics(seed: int) -> list[float]:
    """A loss curve with falls, long plateaus, improvements below 1e-4 relative, and bumps."""
    rng = np.random.default_rng(seed)
    values, v = [], 1.0
    for _ in range(80):
        r = rng.random()
        if r < 0.3:
            v *= 0.9  # a real improvement
        elif r < 0.5:
            v *= 1 - 3e-5  # smaller than the default relative threshold
        elif r < 0.6:
            v -= 0.02  # an absolute improvement that a large abs threshold rejects
        elif r < 0.7:
            v *= 1.5  # worse
        values.append(v)  # else: exactly flat
    return values


SEQUENCES = [
    _metrics(0),
    _metrics(1),
    [1.0, float("nan"), 0.5, 0.5, float("nan")] * 8,
    # zero and negative values: in "rel" mode best * (1 - threshold) is then >= best
    [0.0, 0.0, -1.0, -1.0, -1.00001, -0.5, -2.0, -2.0, -2.0, 0.0] * 4,
]

GRID = list(
    itertools.product(
        ["min", "max"],
        ["rel", "abs"],
        [0.0, 1e-4, 0.05],  # 0: an exactly flat metric must still count as bad
        [0, 3],
        [0, 3],
        [(0.1, 0.0, 1e-8), (0.5, [1e-3, 0.02], 1e-8), (0.7, 0.0, 5e-3)],
    )
)


@pytest.mark.parametrize(
    ("mode", "threshold_mode", "threshold", "patience", "cooldown", "cut"), GRID
)
def test_matches_torch_on_metric_sequences(
    mode, threshold_mode, threshold, patience, cooldown, cut
):
    factor, min_lr, eps = cut
    kwargs = dict(
        mode=mode,
        factor=factor,
        patience=patience,
        threshold=threshold,
        threshold_mode=threshold_mode,
        cooldown=cooldown,
        min_lr=min_lr,
        eps=eps,
    )
    cuts = 0
    for seq in SEQUENCES:
        metrics = [-m for m in seq] if mode == "max" else seq
        history = compare(
            lambda o: T.ReduceLROnPlateau(o, **kwargs),
            lambda o: ours.ReduceLROnPlateau(o, **kwargs),
            steps=len(metrics),
            metrics=metrics,
            reload_at=17,
        )
        cuts += history[0] != history[-1]
    assert cuts >= 2  # the sequences do trigger cuts


def test_a_cut_waits_for_more_than_patience_bad_steps_and_respects_min_lr():
    opt = make_optimizer(lrs=(1.0,))
    sched = ours.ReduceLROnPlateau(opt, patience=2, factor=0.5, min_lr=0.3)
    lrs = []
    for m in [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]:
        sched.step(m)
        lrs.append(sched.get_last_lr()[0])
    # bad steps 1, 2, 3 -> cut at the 4th value; again 3 bad steps later; then min_lr
    assert lrs == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.3, 0.3, 0.3, 0.3]


def test_a_cut_not_larger_than_eps_is_skipped_like_torch():
    # 1.0 -> 0.5 lowers the lr by exactly eps = 0.5: not more than eps, so no cut
    for eps, expected in [(0.5, 1.0), (0.5 - 1e-12, 0.5)]:
        compare(
            lambda o, eps=eps: T.ReduceLROnPlateau(o, factor=0.5, patience=0, eps=eps),
            lambda o, eps=eps: ours.ReduceLROnPlateau(o, factor=0.5, patience=0, eps=eps),
            steps=2,
            lrs=(1.0,),
            metrics=[1.0, 1.0],
        )
        opt = make_optimizer(lrs=(1.0,))
        sched = ours.ReduceLROnPlateau(opt, factor=0.5, patience=0, eps=eps)
        sched.step(1.0)
        sched.step(1.0)
        assert sched.get_last_lr() == [expected]


def test_tensor_metrics_are_accepted():
    opt = make_optimizer()
    sched = ours.ReduceLROnPlateau(opt, patience=0)
    sched.step(torch.tensor(1.0))
    sched.step(torch.tensor(2.0))
    assert sched.get_last_lr() == pytest.approx([0.01, 0.003])


def test_state_dicts_are_interchangeable_with_torch():
    metrics = _metrics(3)
    opt_o = make_optimizer()
    mine = ours.ReduceLROnPlateau(opt_o, patience=1, cooldown=2)
    for m in metrics[:30]:
        mine.step(m)
    opt_r = make_optimizer()
    opt_r.load_state_dict(opt_o.state_dict())
    ref = T.ReduceLROnPlateau(opt_r, patience=1, cooldown=2)
    ref.load_state_dict(pickle.loads(pickle.dumps(mine.state_dict())))
    for m in metrics[30:]:
        mine.step(m)
        ref.step(m)
        assert mine.get_last_lr() == ref.get_last_lr()
        assert (mine.best, mine.num_bad_epochs, mine.cooldown_counter) == (
            ref.best,
            ref.num_bad_epochs,
            ref.cooldown_counter,
        )


def test_min_lr_list_must_have_one_value_per_group():
    with pytest.raises(ValueError, match="min_lr"):
        ours.ReduceLROnPlateau(make_optimizer(), min_lr=[0.0, 0.0, 0.0])
