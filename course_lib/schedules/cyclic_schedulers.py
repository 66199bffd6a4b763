r"""``CyclicLR`` and ``OneCycleLR``: torch's arguments and sequences, momentum cycling included.

Both are closed forms of the step in torch too (and not chainable there either); ours evaluate
the helpers of :mod:`course_lib.schedules.cyclical`. Like torch, ``get_lr`` also writes the
cycled momentum (``momentum``, or ``betas[0]`` for Adam-like optimizers) into the groups: it is
called once per ``step()``, and torch's ``SequentialLR`` reaches it without ``step()``.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any, Literal

import torch
from torch.optim.lr_scheduler import LRScheduler

from course_lib.schedules._base import (
    check_optimizer,
    momentum_kind,
    set_group_value,
    set_momentum,
)
from course_lib.schedules._validation import check_choice, check_int, check_number, per_group
from course_lib.schedules.cyclical import (
    ANNEAL,
    cycle_position,
    cyclical_scale,
    one_cycle_phase,
    one_cycle_schedule,
)


def _init_momentum(
    optimizer: torch.optim.Optimizer, base: Any, high: Any, fresh: bool
) -> tuple[bool, list[float], list[float]]:
    """Check the optimizer has momentum and record the bounds in each group (fresh runs).

    Returns:
        ``(use_beta1, base_momentums, max_momentums)``, one bound per group.
    """
    use_beta1 = momentum_kind(optimizer)
    n = len(optimizer.param_groups)
    lows, highs = per_group("base_momentum", base, n), per_group("max_momentum", high, n)
    for name, values in (("base_momentum", lows), ("max_momentum", highs)):
        for v in values:
            check_number(name, v, low=0.0, high=1.0)
    if fresh:  # a resumed run finds these in the loaded param groups, as in torch
        for group, lo, hi in zip(optimizer.param_groups, lows, highs, strict=True):
            set_momentum(group, use_beta1, hi)  # a cycle starts at the highest momentum
            group["max_momentum"] = hi
            group["base_momentum"] = lo
    return use_beta1, lows, highs


class CyclicLR(LRScheduler):
    r"""Cyclical learning rate (Smith 2017) between ``base_lr`` and ``max_lr``, per group.

    .. math::
        \eta_t = \eta_{\text{base}} + (\eta_{\max} - \eta_{\text{base}})\, h(t)\, \sigma,
        \qquad m_t = m_{\max} - (m_{\max} - m_{\text{base}})\, h(t)\, \sigma

    with the triangle :math:`h` of :func:`~course_lib.schedules.cyclical.cycle_position` and the
    amplitude scale :math:`\sigma` of ``mode`` (or ``scale_fn`` of the cycle number or of the
    step, per ``scale_mode``). Momentum moves opposite to the lr.

    Quirks kept from torch: ``cycle_momentum`` is **on by default**, so an optimizer without
    ``momentum`` or ``betas`` in its defaults (e.g. Adagrad) raises ``ValueError`` unless
    ``cycle_momentum=False``, and an SGD built with ``momentum=0`` silently gets momentum
    between 0.8 and 0.9; on a fresh run the groups' lr is overwritten with ``base_lr``; the
    constructor's lr is computed from the groups' ``initial_lr`` (set by an earlier scheduler,
    if any), later ones from ``base_lr``.

    Args:
        optimizer: any ``torch.optim.Optimizer``.
        base_lr: lower lr bound, a number or one per group.
        max_lr: upper lr bound, a number or one per group.
        step_size_up: steps in the rising half, ``>= 1`` (default 2000).
        step_size_down: steps in the falling half (default ``step_size_up``).
        mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"`` (ignored with ``scale_fn``).
        gamma: ``exp_range``'s per-step factor, in ``(0, 1]``.
        scale_fn: custom amplitude scale, ``0 <= scale_fn(x) <= 1``.
        scale_mode: ``"cycle"`` or ``"iterations"``: what ``scale_fn`` is applied to.
        cycle_momentum: cycle momentum (or ``betas[0]``) inversely to the lr.
        base_momentum: momentum at the lr's peak, a number or one per group (default 0.8).
        max_momentum: momentum at the cycle's start, a number or one per group (default 0.9).
        last_epoch: index of the last step taken; ``-1`` starts fresh.

    Raises:
        ValueError: on invalid bounds or lengths, an unknown ``mode`` without ``scale_fn``, or
            ``cycle_momentum`` with an optimizer that has no momentum.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        base_lr: float | list[float],
        max_lr: float | list[float],
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: Literal["triangular", "triangular2", "exp_range"] = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[float], float] | None = None,
        scale_mode: Literal["cycle", "iterations"] = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.8,
        max_momentum: float | list[float] = 0.9,
        last_epoch: int = -1,
    ) -> None:
        check_optimizer(optimizer)
        check_int("last_epoch", last_epoch, low=-1)
        n = len(optimizer.param_groups)
        base_lrs = [check_number("base_lr", v, low=0.0) for v in per_group("base_lr", base_lr, n)]
        self.max_lrs = [check_number("max_lr", v, low=0.0) for v in per_group("max_lr", max_lr, n)]
        up = check_int("step_size_up", step_size_up, low=1)
        down = up if step_size_down is None else check_int("step_size_down", step_size_down, low=1)
        check_choice("scale_mode", scale_mode, ("cycle", "iterations"))
        if scale_fn is None:
            check_choice("mode", mode, ("triangular", "triangular2", "exp_range"))
            # The built-in policies fix what they scale by, whatever scale_mode says.
            scale_mode = "iterations" if mode == "exp_range" else "cycle"
        elif not callable(scale_fn):
            raise ValueError(f"Invalid scale_fn value: {scale_fn!r}; scale_fn must be callable")
        self.gamma = check_number("gamma", gamma, low=0.0, low_open=True, high=1.0)
        self.mode = mode
        self.scale_mode = scale_mode
        self._scale_fn_custom = scale_fn
        self._half_cycles = (float(up), float(down))
        self.total_size = float(up + down)  # torch's attribute names, for tools that read them
        self.step_ratio = up / self.total_size
        if last_epoch == -1:
            for group, lr in zip(optimizer.param_groups, base_lrs, strict=True):
                set_group_value(group, "lr", lr)
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            # From the arguments, also on a resume (as torch): the groups' copies are for tools.
            self.use_beta1, self.base_momentums, self.max_momentums = _init_momentum(
                optimizer, base_momentum, max_momentum, last_epoch == -1
            )
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def scale_fn(self, x: float) -> float:
        """The amplitude scale at ``x`` (a cycle number or a step, per ``scale_mode``)."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        return cyclical_scale(self.mode, self.gamma, int(x), x)

    def get_lr(self) -> list[float]:
        """The lr of every group at ``last_epoch``; also writes the cycled momentum."""
        t = self.last_epoch
        cycle, height = cycle_position(t, *self._half_cycles)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else t)
        lrs = [
            float(base) + (high - float(base)) * height * scale
            for base, high in zip(self.base_lrs, self.max_lrs, strict=True)
        ]
        if self.cycle_momentum:
            pairs = zip(
                self.base_momentums, self.max_momentums, self.optimizer.param_groups, strict=True
            )
            for low_m, high_m, group in pairs:
                set_momentum(group, self.use_beta1, high_m - (high_m - low_m) * height * scale)
        return lrs

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state; a custom ``scale_fn`` is kept only as a callable object's
        ``__dict__`` (functions and lambdas cannot be pickled), as torch does."""
        state = super().state_dict()
        fn = state.pop("_scale_fn_custom")
        keep = fn is not None and not isinstance(fn, types.FunctionType)
        state["_scale_fn_custom"] = fn.__dict__.copy() if keep else None
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state from :meth:`state_dict`; the custom ``scale_fn`` object is kept."""
        state = dict(state_dict)
        fn_state = state.pop("_scale_fn_custom")
        super().load_state_dict(state)
        if fn_state is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom.__dict__.update(fn_state)


# Which group keys each one-cycle phase interpolates between (torch's names and layout).
_PHASES_2 = (
    ("initial_lr", "max_lr", "max_momentum", "base_momentum"),
    ("max_lr", "min_lr", "base_momentum", "max_momentum"),
)
_PHASES_3 = (
    ("initial_lr", "max_lr", "max_momentum", "base_momentum"),
    ("max_lr", "initial_lr", "base_momentum", "max_momentum"),
    ("initial_lr", "min_lr", "max_momentum", "max_momentum"),
)


class OneCycleLR(LRScheduler):
    r"""The one-cycle policy (Smith, *Super-Convergence*), per group, momentum cycled inversely.

    Per group: initial lr ``max_lr / div_factor``, final lr ``initial / final_div_factor``,
    annealed as in :func:`~course_lib.schedules.cyclical.one_cycle_schedule`; momentum (or
    ``betas[0]``) goes ``max_momentum -> base_momentum -> max_momentum``. The group keys
    ``initial_lr``, ``max_lr``, ``min_lr``, ``max_momentum``, ``base_momentum`` are written as
    in torch, so a resume (``last_epoch=k``) reads them from the loaded optimizer state.

    Quirks kept from torch: the constructor's lr is step 0 and ``total_steps`` further
    ``step()`` calls are allowed, the last one **extrapolating** the final phase past the
    final lr; one more ``step()`` raises ``ValueError``. ``cycle_momentum=True`` (default)
    needs an optimizer with ``momentum`` or ``betas``. ``max_lr`` replaces the groups' lr.

    Args:
        optimizer: any ``torch.optim.Optimizer``.
        max_lr: peak lr, a number or one per group.
        total_steps: steps in the cycle; else ``epochs * steps_per_epoch``.
        epochs: number of epochs (with ``steps_per_epoch``).
        steps_per_epoch: steps per epoch (with ``epochs``).
        pct_start: fraction of the cycle spent raising the lr (default 0.3).
        anneal_strategy: ``"cos"`` or ``"linear"``.
        cycle_momentum: cycle momentum inversely to the lr.
        base_momentum: momentum at the peak lr (default 0.85).
        max_momentum: momentum at the start and end (default 0.95).
        div_factor: initial lr is ``max_lr / div_factor`` (default 25).
        final_div_factor: final lr is ``initial / final_div_factor`` (default 1e4).
        three_phase: Smith's three phases instead of fastai's two.
        last_epoch: index of the last step taken; ``-1`` starts fresh.

    Raises:
        ValueError: on invalid arguments, a missing cycle length, or a step past the end.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: Literal["cos", "linear"] = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        check_optimizer(optimizer)
        check_int("last_epoch", last_epoch, low=-1)
        if total_steps is not None:
            self.total_steps = check_int("total_steps", total_steps, low=1)
        elif epochs is not None and steps_per_epoch is not None:
            steps = check_int("steps_per_epoch", steps_per_epoch, low=1)
            self.total_steps = check_int("epochs", epochs, low=1) * steps
        else:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        one_cycle_schedule(
            1.0,
            self.total_steps,
            pct_start,
            anneal_strategy,
            div_factor,
            final_div_factor,
            three_phase,
        )  # validates the rest
        self.pct_start = pct_start
        self.anneal_strategy = anneal_strategy
        self.three_phase = three_phase
        n = len(optimizer.param_groups)
        max_lrs = [check_number("max_lr", v, low=0.0) for v in per_group("max_lr", max_lr, n)]
        if last_epoch == -1:
            for group, peak in zip(optimizer.param_groups, max_lrs, strict=True):
                group["initial_lr"] = peak / div_factor
                group["max_lr"] = peak
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1, _, _ = _init_momentum(
                optimizer, base_momentum, max_momentum, last_epoch == -1
            )
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """The lr of every group at ``last_epoch``; also writes the cycled momentum.

        Raises:
            ValueError: past ``total_steps`` (torch's message).
        """
        t = self.last_epoch
        if t > self.total_steps:
            raise ValueError(
                f"Tried to step {t} times. The specified number of total steps is "
                f"{self.total_steps}"
            )
        phase, frac = one_cycle_phase(t, self.total_steps, self.pct_start, self.three_phase)
        lr_from, lr_to, m_from, m_to = (_PHASES_3 if self.three_phase else _PHASES_2)[phase]
        anneal = ANNEAL[self.anneal_strategy]
        lrs = []
        for group in self.optimizer.param_groups:
            lrs.append(anneal(float(group[lr_from]), float(group[lr_to]), frac))
            if self.cycle_momentum:
                set_momentum(group, self.use_beta1, anneal(group[m_from], group[m_to], frac))
        return lrs
