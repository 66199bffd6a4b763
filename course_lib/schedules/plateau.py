r"""``ReduceLROnPlateau``: cut the lr when a monitored metric stops improving (torch's rules).

Unlike the other schedulers this one is driven by a metric, not by the step count, so it has
no closed form. torch 2.13's class subclasses ``LRScheduler`` but does not call its constructor
(no ``initial_lr``, no constructor step, ``last_epoch`` starts at 0); ours does the same, so it
fits wherever torch's does, and it keeps torch's attribute names so the two classes'
``state_dict()`` are interchangeable.
"""

from __future__ import annotations

import math
from typing import Any, Literal, SupportsFloat

import torch
from torch.optim.lr_scheduler import LRScheduler

from course_lib.schedules._base import check_optimizer, group_values, set_group_value
from course_lib.schedules._validation import check_choice, check_int, check_number, per_group


class ReduceLROnPlateau(LRScheduler):
    r"""Multiply the lrs by ``factor`` after more than ``patience`` steps without improvement.

    A metric value :math:`a` improves on the best so far :math:`b` when (``mode``,
    ``threshold_mode``):

    * ``min``/``rel``: :math:`a < b (1 - \theta)` (relative: the default);
    * ``min``/``abs``: :math:`a < b - \theta`;
    * ``max``/``rel``: :math:`a > b (1 + \theta)`;
    * ``max``/``abs``: :math:`a > b + \theta`.

    Each :meth:`step` either records an improvement (new best, bad count 0) or counts a bad
    step. During ``cooldown`` steps after a reduction bad steps are not counted. When the bad
    count exceeds ``patience`` the lr becomes :math:`\max(\eta\,\text{factor},\ \eta_{\min})`,
    but only if that lowers it by more than ``eps`` (so an lr at ``min_lr`` stays put), and
    the cooldown starts. A NaN metric is never an improvement. (torch's rules, kept exactly;
    note that in ``rel`` mode a best of 0 or of the wrong sign makes the threshold act the
    other way: :math:`b(1-\theta)` is above :math:`b` when :math:`b < 0`.)

    Args:
        optimizer: any ``torch.optim.Optimizer``.
        mode: ``"min"`` (a loss) or ``"max"`` (an accuracy).
        factor: :math:`0 \le \text{factor} < 1`, the cut (default 0.1).
        patience: bad steps tolerated before a cut, ``>= 0`` (default 10).
        threshold: :math:`\theta \ge 0`, the margin an improvement must clear (default 1e-4).
        threshold_mode: ``"rel"`` or ``"abs"``.
        cooldown: steps after a cut during which bad steps are ignored, ``>= 0``.
        min_lr: lower bound on the lr, one number or one per group (default 0).
        eps: a cut smaller than this is skipped, ``>= 0`` (default 1e-8).

    Raises:
        ValueError: on any argument outside the ranges above.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        mode: Literal["min", "max"] = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: Literal["rel", "abs"] = "rel",
        cooldown: int = 0,
        min_lr: list[float] | float = 0,
        eps: float = 1e-8,
    ) -> None:
        check_optimizer(optimizer)
        self.factor = check_number("factor", factor, low=0.0, high=1.0, high_open=True)
        self.optimizer = optimizer
        n = len(optimizer.param_groups)
        floors = [check_number("min_lr", v, low=0.0) for v in per_group("min_lr", min_lr, n)]
        # Remember whether min_lr was one number: then new groups get it too (torch's rule).
        self.default_min_lr = None if isinstance(min_lr, (list, tuple)) else min_lr
        self.min_lrs = floors
        self.patience = check_int("patience", patience, low=0)
        self.cooldown = check_int("cooldown", cooldown, low=0)
        self.eps = check_number("eps", eps, low=0.0)
        self.mode = check_choice("mode", mode, ("min", "max"))
        self.threshold = check_number("threshold", threshold, low=0.0)
        self.threshold_mode = check_choice("threshold_mode", threshold_mode, ("rel", "abs"))
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.last_epoch = 0
        self._last_lr = group_values(optimizer, "lr")
        self._reset()

    def _reset(self) -> None:
        """Forget the best value and the counters."""
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self) -> bool:
        """Whether bad steps are currently ignored after a cut."""
        return self.cooldown_counter > 0

    def is_better(self, a: float, best: float) -> bool:
        """Whether metric value ``a`` is an improvement on ``best`` (see the class docstring)."""
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return a < best * (1.0 - self.threshold)
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics: SupportsFloat, epoch: None = None) -> None:  # type: ignore[override]
        """Record one value of the monitored metric and cut the lr if it has plateaued.

        Args:
            metrics: the metric (a number or a 0-d tensor).
            epoch: unsupported (torch's deprecated argument); must be ``None``.
        """
        if epoch is not None:
            raise ValueError("step(metrics, epoch) is deprecated in torch and unsupported here")
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad steps in the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = group_values(self.optimizer, "lr")

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"The optimizer has {len(groups)} param groups but min_lr was given for "
                    f"{len(self.min_lrs)}; set `min_lrs` to one value per group"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, floor in zip(groups, self.min_lrs, strict=True):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, floor)
            if old_lr - new_lr > self.eps:
                set_group_value(group, "lr", new_lr)

    def get_lr(self) -> list[float]:
        """The groups' current lrs (this scheduler changes them only in :meth:`step`)."""
        return [float(g["lr"]) for g in self.optimizer.param_groups]

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state from :meth:`state_dict` (ours or torch's)."""
        self.__dict__.update(state_dict)
