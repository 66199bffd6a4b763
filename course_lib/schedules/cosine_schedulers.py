r"""Cosine schedulers with torch's names, arguments and lr sequences.

Unlike the decay schedulers these two keep torch's *incremental* form, for reasons given on each
class: ``CosineAnnealingLR``'s recursion does not stay within 1e-12 of its closed form after
``T_max``, and ``CosineAnnealingWarmRestarts`` tracks its position in the cycle as state.
The cosine itself is :func:`course_lib.schedules.functions.cosine_factor`.
"""

from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import LRScheduler

from course_lib.schedules._base import check_optimizer, group_values, set_group_value
from course_lib.schedules._validation import check_int, check_number
from course_lib.schedules.functions import (
    cosine_factor,
    cosine_warm_restarts_schedule,
    warm_restart_position,
)


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing from each group's initial lr towards ``eta_min``, by torch's recursion.

    torch defines this scheduler by a recursion on the optimizer's current lr,

    .. math::
        \eta_{t} = \eta_{\min} + (\eta_{t-1} - \eta_{\min})
            \frac{1 + \cos(\pi t / T_{\max})}{1 + \cos(\pi (t-1) / T_{\max})},

    with an additive step where the denominator vanishes (:math:`t - 1 \equiv T_{\max}
    \bmod 2T_{\max}`). Mathematically it equals the SGDR closed form
    :math:`\eta_{\min} + \tfrac12(\eta_0 - \eta_{\min})(1 + \cos(\pi t / T_{\max}))` **for every**
    :math:`t`, so the lr does not stop at ``eta_min``: it rises again to :math:`\eta_0` at
    :math:`2T_{\max}`, then falls, and so on (a quirk; :func:`cosine_schedule` clamps instead).

    Why we keep the recursion rather than the closed form: past :math:`T_{\max}` the
    recursion's rounding drifts from the closed form by more than 1e-12 (measured on torch
    2.13: up to 4e-12 relative for :math:`T_{\max} \le 1000`, 3e-9 when ``eta_min`` exceeds
    the initial lr), and we promise torch's numbers. As in torch, this makes the class chainable (it
    multiplies whatever lr the optimizer holds) and makes a resume with ``last_epoch=k`` keep
    the optimizer's lr for step ``k + 1`` and continue the recursion from it.

    Args:
        optimizer: any ``torch.optim.Optimizer``.
        T_max: half-period :math:`T_{\max} \ge 1` of the cosine.
        eta_min: lr :math:`\eta_{\min} \ge 0` reached at :math:`T_{\max}` (default 0).
        last_epoch: index of the last step taken; ``-1`` starts fresh.

    Raises:
        ValueError: on ``T_max < 1`` or a negative ``eta_min``.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        T_max: int,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        check_optimizer(optimizer)
        self.T_max = check_int("T_max", T_max, low=1)
        self.eta_min = check_number("eta_min", eta_min, low=0.0)
        check_int("last_epoch", last_epoch, low=-1)
        # torch's constructor step leaves the lr alone (fresh: it is the initial lr; resumed:
        # it is the checkpoint's lr); we mark that step ourselves, not via torch's private flag.
        self._constructing = True
        super().__init__(optimizer, last_epoch)
        self._constructing = False

    def get_lr(self) -> list[float]:
        """The lr of every group at step ``last_epoch``, from the lr the group holds now."""
        groups = self.optimizer.param_groups
        if self._constructing:
            return [float(g["lr"]) for g in groups]
        t, T, eta = self.last_epoch, self.T_max, self.eta_min
        if (t - 1 - T) % (2 * T) == 0:
            # Step t - 1 sat exactly on eta_min (cos = -1), where the ratio below is 0 / 0:
            # add the first rise of the next half-period instead, as torch does.
            return [
                float(g["lr"]) + (float(base) - eta) * (1 - math.cos(math.pi / T)) / 2
                for base, g in zip(self.base_lrs, groups, strict=True)
            ]
        ratio = cosine_factor(t, T) / cosine_factor(t - 1, T)
        return [ratio * (float(g["lr"]) - eta) + eta for g in groups]

    def _get_closed_form_lr(self) -> list[float]:
        # Used by torch when a step is imposed (SequentialLR's milestones): the closed form.
        return [
            self.eta_min + (float(base) - self.eta_min) * cosine_factor(self.last_epoch, self.T_max)
            for base in self.base_lrs
        ]


class CosineAnnealingWarmRestarts(LRScheduler):
    r"""SGDR: cosine annealing that restarts at each group's initial lr every :math:`T_i` steps.

    .. math::
        \eta_t = \eta_{\min} + \tfrac12 (\eta_0 - \eta_{\min})
                 \left(1 + \cos\frac{\pi T_{cur}}{T_i}\right), \qquad T_i = T_0 T_{\text{mult}}^i

    Like torch, the position in the cycle is kept as state (``T_cur``, ``T_i``) and advanced by
    one per :meth:`step`; a fresh run equals :func:`cosine_warm_restarts_schedule`. Also like
    torch, ``step(epoch)`` accepts a (fractional) epoch, e.g. ``epoch + i / iters_per_epoch``,
    and jumps to that position (found by summing the integer cycle lengths, so exact at cycle
    boundaries where torch's logarithm may round).

    Resume quirk (torch's): with ``last_epoch=k`` the constructor sets ``T_cur = k + 1`` and
    wraps it at most once, as if at most one restart had happened; with ``T_mult > 1`` and
    ``k + 1 >= T_0 (1 + T_mult)`` the resumed cycle is not SGDR's. Prefer ``state_dict()``.

    Args:
        optimizer: any ``torch.optim.Optimizer``.
        T_0: length of the first cycle, ``>= 1``.
        T_mult: growth factor of the cycle length, an integer ``>= 1`` (default 1).
        eta_min: lr approached at the end of each cycle, ``>= 0`` (default 0).
        last_epoch: index of the last step taken; ``-1`` starts fresh.

    Raises:
        ValueError: on ``T_0 < 1``, ``T_mult < 1``, a negative ``eta_min``, or ``step`` with a
            negative ``epoch``.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        T_0: int,
        T_mult: int = 1,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        check_optimizer(optimizer)
        cosine_warm_restarts_schedule(1.0, T_0, T_mult, eta_min)  # validates the arguments
        check_int("last_epoch", last_epoch, low=-1)
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur: float = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """The lr of every group at the current position ``(T_cur, T_i)``."""
        return [
            self.eta_min + (float(base) - self.eta_min) * cosine_factor(self.T_cur, self.T_i)
            for base in self.base_lrs
        ]

    def step(self, epoch: float | None = None) -> None:  # type: ignore[override]
        """Advance one step, or jump to ``epoch`` (a non-negative, possibly fractional, epoch).

        Raises:
            ValueError: if ``epoch`` is negative.
        """
        if epoch is None and self.last_epoch < 0:
            epoch = 0  # the constructor's step on a fresh run: start of the first cycle
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                # modulo, not subtraction: reproduces torch's single wrap on resume
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            if epoch < 0:
                raise ValueError(f"Invalid epoch value: {epoch!r}; epoch must be >= 0")
            self.T_cur, self.T_i = warm_restart_position(epoch, self.T_0, self.T_mult)
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            set_group_value(group, "lr", lr)
        self._last_lr = group_values(self.optimizer, "lr")
