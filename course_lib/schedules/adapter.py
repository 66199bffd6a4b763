r"""``ScheduleLR``: drive any optimizer's learning rate from pure schedules ``step -> lr``.

The bridge between the book's schedules (functions of the step, easy to plot and test) and a
training loop that expects a torch scheduler::

    from course_lib.schedules import ScheduleLR, warmup_cosine_schedule

    schedule = warmup_cosine_schedule(1.0, warmup_steps=100, total_steps=10_000)
    scheduler = ScheduleLR(optimizer, schedule)  # multiplies each group's own lr
    for batch in loader:
        ...
        optimizer.step()
        scheduler.step()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler

from course_lib.schedules._base import check_optimizer
from course_lib.schedules._validation import check_int
from course_lib.schedules.functions import Schedule


class ScheduleLR(LRScheduler):
    r"""Set each param group's lr from a pure schedule evaluated at the step count.

    Two ways to give the schedule:

    * **one schedule** (a callable): it is a *multiplier* of each group's initial lr,
      :math:`\eta^{(g)}_t = \eta^{(g)}_0 \, s(t)`, like torch's ``LambdaLR``. Build it with
      base value 1.0 (``cosine_schedule(1.0, ...)``); groups keep their lr ratios (e.g. a head
      trained at 10x the backbone's lr).
    * **a list, one schedule per group**: each is the group's *absolute* lr,
      :math:`\eta^{(g)}_t = s_g(t)`; the groups' own lr values are replaced.

    ``relative`` overrides this default (``True``: multiply, ``False``: absolute) for either
    form. The lr at construction is the schedule at step 0; each :meth:`step` moves to the next
    step. Resuming with ``last_epoch=k`` continues at step ``k + 1`` exactly (the schedules are
    closed forms, so nothing depends on the lr the optimizer holds).

    ``state_dict()`` stores the step count and base lrs, not the schedules (functions cannot be
    pickled, and they have no state): rebuild the ``ScheduleLR`` with the same schedules, then
    call ``load_state_dict``.

    Args:
        optimizer: any ``torch.optim.Optimizer``.
        schedule: one schedule, or a list of one schedule per param group.
        relative: multiply the groups' initial lrs (default for one schedule) or not (default
            for a list).
        last_epoch: index of the last step taken; ``-1`` starts fresh.

    Raises:
        ValueError: if a schedule is not callable or the list length differs from the number
            of param groups.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedule: Schedule | Sequence[Schedule],
        relative: bool | None = None,
        last_epoch: int = -1,
    ) -> None:
        check_optimizer(optimizer)
        check_int("last_epoch", last_epoch, low=-1)
        n = len(optimizer.param_groups)
        if callable(schedule):
            schedules = [schedule] * n
            self.relative = True if relative is None else relative
        else:
            schedules = list(schedule)
            if len(schedules) != n or not all(callable(s) for s in schedules):
                raise ValueError(
                    f"Invalid schedule value: {schedule!r}; schedule must be a callable or a "
                    f"list of {n} callables, one per param group"
                )
            self.relative = False if relative is None else relative
        self._schedules = schedules
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """The lr of every group at step ``last_epoch``."""
        t = self.last_epoch
        if self.relative:
            return [
                float(base) * s(t) for base, s in zip(self.base_lrs, self._schedules, strict=True)
            ]
        return [float(s(t)) for s in self._schedules]

    def _get_closed_form_lr(self) -> list[float]:
        return self.get_lr()

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer and the schedules."""
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedules")}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state from :meth:`state_dict`, keeping this object's schedules."""
        self.__dict__.update({k: v for k, v in state_dict.items() if k != "_schedules"})
