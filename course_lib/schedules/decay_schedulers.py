r"""Decay schedulers with torch's names, arguments and lr sequences, computed in closed form.

Each class is a thin shell over a pure schedule of :mod:`course_lib.schedules.functions`:
``get_lr`` evaluates that schedule at ``last_epoch`` for every param group's initial lr. torch
updates these lrs recursively (``lr *= ratio``); the closed form is the same sequence up to
rounding, not chainable, and reproduces torch's resume behaviour by anchoring (see
:class:`~course_lib.schedules._base.ClosedFormLR`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable

import torch

from course_lib.schedules._base import ClosedFormLR
from course_lib.schedules._validation import check_int, check_milestones, check_number
from course_lib.schedules.functions import (
    exponential_schedule,
    linear_schedule,
    multistep_schedule,
    polynomial_schedule,
    step_schedule,
)


class StepLR(ClosedFormLR):
    r"""Decay each group's lr by ``gamma`` every ``step_size`` steps.

    .. math:: \eta_t = \eta_0 \gamma^{\lfloor t / s \rfloor}

    Resume quirk (torch's): with ``last_epoch=k`` the lr found in the optimizer is taken as the
    lr of step ``k`` and decayed if ``k + 1`` is a multiple of ``step_size``.

    Args:
        optimizer: any ``torch.optim.Optimizer``.
        step_size: period of the decay, ``>= 1``.
        gamma: multiplicative factor, ``> 0`` (default 0.1).
        last_epoch: index of the last step taken; ``-1`` starts fresh.

    Raises:
        ValueError: on ``step_size < 1`` or ``gamma <= 0``.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        step_size: int,
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        step_schedule(1.0, step_size, gamma)  # validates the arguments
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, base_lr: float, step: int) -> float:
        return step_schedule(base_lr, self.step_size, self.gamma)(step)

    def _resumed_lr(self, held_lr: float, base_lr: float, anchor: int, step: int) -> float:
        return held_lr * self.gamma ** (step // self.step_size - anchor // self.step_size)


class MultiStepLR(ClosedFormLR):
    r"""Decay each group's lr by ``gamma`` at each milestone.

    .. math:: \eta_t = \eta_0 \gamma^{\#\{m \in M:\ m \le t\}}

    A milestone given twice decays twice, and a milestone 0 decays the very first lr, as in
    torch. Resume quirk as :class:`StepLR`: the held lr is the lr of step ``last_epoch``.

    Args:
        optimizer: any ``torch.optim.Optimizer``.
        milestones: steps at which to decay (integers ``>= 0``, any order).
        gamma: multiplicative factor, ``> 0`` (default 0.1).
        last_epoch: index of the last step taken; ``-1`` starts fresh.

    Raises:
        ValueError: on a negative or non-integer milestone, or ``gamma <= 0``.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        milestones: Iterable[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        self._sorted_milestones = check_milestones(milestones)
        multistep_schedule(1.0, self._sorted_milestones, gamma)
        self.milestones = Counter(self._sorted_milestones)  # torch's attribute
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, base_lr: float, step: int) -> float:
        return multistep_schedule(base_lr, self._sorted_milestones, self.gamma)(step)

    def _resumed_lr(self, held_lr: float, base_lr: float, anchor: int, step: int) -> float:
        marks = self._sorted_milestones
        return held_lr * self.gamma ** (bisect_right(marks, step) - bisect_right(marks, anchor))


class ExponentialLR(ClosedFormLR):
    r"""Decay each group's lr by ``gamma`` every step.

    .. math:: \eta_t = \eta_0 \gamma^t

    Resume quirk (torch's): with ``last_epoch=k`` the optimizer's lr is kept for step
    ``k + 1`` (torch's constructor step leaves it unchanged) and decays from there, so a run
    resumed from a checkpoint taken after ``k`` steps lags the uninterrupted run by one step.

    Args:
        optimizer: any ``torch.optim.Optimizer``.
        gamma: per-step factor, ``> 0``.
        last_epoch: index of the last step taken; ``-1`` starts fresh.

    Raises:
        ValueError: on ``gamma <= 0``.
    """

    _resume_holds_lr = True

    def __init__(
        self, optimizer: torch.optim.Optimizer, gamma: float, last_epoch: int = -1
    ) -> None:
        exponential_schedule(1.0, gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, base_lr: float, step: int) -> float:
        return exponential_schedule(base_lr, self.gamma)(step)

    def _resumed_lr(self, held_lr: float, base_lr: float, anchor: int, step: int) -> float:
        return held_lr * self.gamma ** (step - anchor)


class _FactorLR(ClosedFormLR):
    """Closed form ``base_lr * f(t)`` with ``f`` constant after ``total_iters``."""

    _resume_holds_lr = True
    total_iters: int

    def _resumed_lr(self, held_lr: float, base_lr: float, anchor: int, step: int) -> float:
        # torch multiplies by f(t) / f(t - 1) for anchor < t <= total_iters: the product
        # telescopes to f(min(t, T)) / f(anchor). f(anchor) > 0 whenever anchor < T.
        if anchor >= self.total_iters:
            return held_lr
        return held_lr * self._lr_at(1.0, min(step, self.total_iters)) / self._lr_at(1.0, anchor)


class LinearLR(_FactorLR):
    r"""Scale every group's lr by a factor moving linearly from ``start_factor`` to ``end_factor``.

    .. math:: \eta_t = \eta_0 \left(f_0 + (f_1 - f_0) \min(t, T) / T\right)

    Resume quirk as :class:`ExponentialLR`: the held lr is kept for step ``last_epoch + 1``.
    With ``end_factor=0`` torch's recursion ends on rounding noise (about 1e-19, possibly a
    negative lr) where the closed form gives exactly 0.

    Args:
        optimizer: any ``torch.optim.Optimizer``.
        start_factor: :math:`f_0 \in (0, 1]` (default 1/3; torch forbids 0).
        end_factor: :math:`f_1 \in [0, 1]` (default 1).
        total_iters: :math:`T \ge 1` steps of change (default 5).
        last_epoch: index of the last step taken; ``-1`` starts fresh.

    Raises:
        ValueError: on factors outside those ranges or ``total_iters < 1``.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        check_number("start_factor", start_factor, low=0.0, low_open=True, high=1.0)
        check_number("end_factor", end_factor, low=0.0, high=1.0)
        check_int("total_iters", total_iters, low=1)
        linear_schedule(1.0, total_iters, start_factor, end_factor)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, base_lr: float, step: int) -> float:
        return linear_schedule(base_lr, self.total_iters, self.start_factor, self.end_factor)(step)


class PolynomialLR(_FactorLR):
    r"""Polynomial decay of each group's lr to 0 in ``total_iters`` steps.

    .. math:: \eta_t = \eta_0 \left(1 - \min(t, T) / T\right)^p

    Resume quirk as :class:`ExponentialLR`: the held lr is kept for step ``last_epoch + 1``.

    Args:
        optimizer: any ``torch.optim.Optimizer``.
        total_iters: :math:`T \ge 1` (default 5).
        power: :math:`p > 0` (default 1, linear decay).
        last_epoch: index of the last step taken; ``-1`` starts fresh.

    Raises:
        ValueError: on ``total_iters < 1`` or ``power <= 0``.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        total_iters: int = 5,
        power: float = 1.0,
        last_epoch: int = -1,
    ) -> None:
        check_int("total_iters", total_iters, low=1)
        polynomial_schedule(1.0, total_iters, power)
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, base_lr: float, step: int) -> float:
        return polynomial_schedule(base_lr, self.total_iters, self.power)(step)
