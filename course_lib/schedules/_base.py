"""Shared shell of the scheduler classes: closed-form lrs inside torch's ``LRScheduler``.

Subclassing :class:`torch.optim.lr_scheduler.LRScheduler` buys everything torch's tooling
expects (``step()``, ``get_last_lr()``, ``last_epoch``, ``base_lrs``, ``state_dict()``, the
"``scheduler.step()`` before ``optimizer.step()``" warning, use inside ``SequentialLR``).
What we replace is :meth:`get_lr`: torch's classes mostly update ``group["lr"]`` *recursively*
(multiply the current lr by a ratio), ours evaluate a closed form of ``last_epoch`` built from
:mod:`course_lib.schedules.functions`. On a normal run the two are the same numbers up to
rounding (the tests hold them to rtol 1e-12).

They differ in two situations, both documented on the classes:

* **chaining**: torch's recursive classes compose multiplicatively when two of them drive one
  optimizer (``ChainedScheduler``); a closed form overwrites the lr instead, like torch's own
  ``OneCycleLR`` and ``CyclicLR``, which are not chainable either;
* **resuming with** ``last_epoch=k``: torch's recursive classes continue from whatever lr the
  optimizer holds. We reproduce that by *anchoring* the closed form on the optimizer's lr at
  the resume step (see :class:`ClosedFormLR`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch.optim.lr_scheduler import LRScheduler

from course_lib.schedules._validation import check_int


def check_optimizer(optimizer: Any) -> None:
    """Require a torch optimizer (torch raises the same ``TypeError``)."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")


def set_group_value(group: dict[str, Any], key: str, value: float) -> None:
    """Write ``group[key]``; a tensor-valued lr is filled in place so its identity is kept."""
    if isinstance(group[key], torch.Tensor):
        group[key].fill_(value)
    else:
        group[key] = value


def group_values(optimizer: torch.optim.Optimizer, key: str) -> list[Any]:
    """``group[key]`` for every group, tensors copied (``get_last_lr`` must never alias them)."""
    return [
        g[key].clone() if isinstance(g[key], torch.Tensor) else g[key]
        for g in optimizer.param_groups
    ]


def momentum_kind(optimizer: torch.optim.Optimizer) -> bool:
    """Whether an optimizer's momentum lives in ``betas[0]`` (Adam family) or ``momentum``.

    Returns:
        ``True`` for ``betas``, ``False`` for ``momentum``.

    Raises:
        ValueError: if the optimizer has neither (torch's message, for momentum cycling).
    """
    # torch checks ``defaults``, not the groups: an SGD built with momentum=0 still "supports"
    # momentum, so cycling it switches momentum on. We keep that behaviour (see CyclicLR).
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError(
            "optimizer must support momentum or beta1 with `cycle_momentum` option enabled"
        )
    return "betas" in optimizer.defaults


def set_momentum(group: dict[str, Any], use_beta1: bool, value: float) -> None:
    """Set the momentum of a group: ``betas[0]`` for Adam-like optimizers, else ``momentum``."""
    if use_beta1:
        group["betas"] = (value, *group["betas"][1:])
    else:
        group["momentum"] = value


class ClosedFormLR(LRScheduler):
    r"""A scheduler whose lr is a closed form of the step, per param group.

    Subclasses implement :meth:`_lr_at` (the lr at step ``t`` for a group whose initial lr is
    ``base_lr``) and :meth:`_resumed_lr`.

    **Resuming** (``last_epoch=k >= 0``, with ``initial_lr`` already in the param groups, as
    after ``optimizer.load_state_dict``): torch's recursive classes keep multiplying the lr the
    optimizer holds, :math:`\eta_t = \eta_{\text{held}} \prod_{i} r_i`, so their continuation
    depends on that lr, not on ``base_lr``. We reproduce this without the recursion by anchoring
    at step :math:`a` with the held lr :math:`\eta_a`:
    :math:`\eta_t = \eta_a \, f(t) / f(a)`, :math:`f` being the closed-form factor. Which step
    the held lr stands for differs between torch's classes (the quirk is documented per class):
    ``StepLR`` and ``MultiStepLR`` treat it as the lr of step ``k`` and take the step to
    ``k + 1``, while ``ExponentialLR``, ``LinearLR`` and ``PolynomialLR`` keep it as the lr of
    step ``k + 1`` (:attr:`_resume_holds_lr`).

    Args:
        optimizer: any ``torch.optim.Optimizer``.
        last_epoch: index of the last step taken; ``-1`` starts fresh.
    """

    _resume_holds_lr: ClassVar[bool] = False

    def __init__(self, optimizer: torch.optim.Optimizer, last_epoch: int = -1) -> None:
        check_optimizer(optimizer)
        check_int("last_epoch", last_epoch, low=-1)
        self._resume_anchor: tuple[int, list[float]] | None = None
        if last_epoch >= 0:
            anchor = last_epoch + 1 if self._resume_holds_lr else last_epoch
            self._resume_anchor = (anchor, [float(g["lr"]) for g in optimizer.param_groups])
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, base_lr: float, step: int) -> float:
        """The closed-form lr at ``step`` for a group with initial lr ``base_lr``."""
        raise NotImplementedError

    def _resumed_lr(self, held_lr: float, base_lr: float, anchor: int, step: int) -> float:
        """The lr at ``step >= anchor`` after a resume that found ``held_lr`` in the group."""
        raise NotImplementedError

    def get_lr(self) -> list[float]:
        """The lr of every param group at step ``last_epoch`` (no side effects)."""
        step = self.last_epoch
        if self._resume_anchor is None:
            return [self._lr_at(float(base), step) for base in self.base_lrs]
        anchor, held = self._resume_anchor
        return [
            self._resumed_lr(lr, float(base), anchor, step)
            for lr, base in zip(held, self.base_lrs, strict=True)
        ]

    def _get_closed_form_lr(self) -> list[float]:
        # torch calls this when a step number is imposed, e.g. SequentialLR at a milestone
        # (``_update_lr(0)``); it is always the un-anchored closed form there.
        return [self._lr_at(float(base), self.last_epoch) for base in self.base_lrs]
