r"""Closed-form learning-rate schedules: factories that return a pure function ``step -> lr``.

Each factory checks its arguments once and returns a function of the step alone (no state,
no optimizer), in the style of optax's schedules and nanoGPT's ``get_lr``. Step ``t`` counts
optimizer updates from 0: ``schedule(0)`` is the lr of the first update.

The decays here are the closed forms of torch's schedulers of the same shape; the tests check
every one against the formula and against torch's lr sequence (rtol 1e-12).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Iterable

from course_lib.schedules._validation import (
    check_int,
    check_milestones,
    check_number,
    check_step,
)

Schedule = Callable[[int], float]
"""A learning-rate schedule: maps the step ``t = 0, 1, 2, ...`` to the learning rate."""


def constant_schedule(base_lr: float) -> Schedule:
    r"""The same learning rate at every step: :math:`\eta_t = \eta_0`.

    Args:
        base_lr: the learning rate :math:`\eta_0 \ge 0`.

    Returns:
        A function ``step -> lr``.

    Raises:
        ValueError: if ``base_lr`` is negative or not finite.
    """
    lr = check_number("base_lr", base_lr, low=0.0)

    def schedule(step: int) -> float:
        check_step(step)
        return lr

    return schedule


def step_schedule(base_lr: float, step_size: int, gamma: float = 0.1) -> Schedule:
    r"""Decay by ``gamma`` every ``step_size`` steps (torch's ``StepLR``).

    .. math:: \eta_t = \eta_0 \, \gamma^{\lfloor t / s \rfloor}

    Args:
        base_lr: initial learning rate :math:`\eta_0 \ge 0`.
        step_size: period :math:`s \ge 1` of the decay.
        gamma: multiplicative factor :math:`\gamma > 0`.

    Returns:
        A function ``step -> lr``.

    Raises:
        ValueError: on a negative ``base_lr``, ``step_size < 1`` or ``gamma <= 0``.
    """
    lr = check_number("base_lr", base_lr, low=0.0)
    size = check_int("step_size", step_size, low=1)
    g = check_number("gamma", gamma, low=0.0, low_open=True)

    def schedule(step: int) -> float:
        check_step(step)
        return lr * g ** (step // size)

    return schedule


def multistep_schedule(base_lr: float, milestones: Iterable[int], gamma: float = 0.1) -> Schedule:
    r"""Decay by ``gamma`` at each milestone (torch's ``MultiStepLR``).

    .. math:: \eta_t = \eta_0 \, \gamma^{\#\{m \in M : m \le t\}}

    A milestone listed twice decays twice, as in torch (which counts milestones with a
    ``Counter``); the order of ``milestones`` does not matter.

    Args:
        base_lr: initial learning rate :math:`\eta_0 \ge 0`.
        milestones: steps :math:`M` at which the lr is multiplied by :math:`\gamma`.
        gamma: multiplicative factor :math:`\gamma > 0`.

    Returns:
        A function ``step -> lr``.

    Raises:
        ValueError: on a negative ``base_lr``, a milestone that is not an integer ``>= 0``, or
            ``gamma <= 0``.
    """
    lr = check_number("base_lr", base_lr, low=0.0)
    marks = check_milestones(milestones)
    g = check_number("gamma", gamma, low=0.0, low_open=True)

    def schedule(step: int) -> float:
        check_step(step)
        return lr * g ** bisect_right(marks, step)

    return schedule


def exponential_schedule(base_lr: float, gamma: float) -> Schedule:
    r"""Decay by ``gamma`` every step (torch's ``ExponentialLR``).

    .. math:: \eta_t = \eta_0 \, \gamma^{t}

    Args:
        base_lr: initial learning rate :math:`\eta_0 \ge 0`.
        gamma: per-step factor :math:`\gamma > 0`.

    Returns:
        A function ``step -> lr``.

    Raises:
        ValueError: on a negative ``base_lr`` or ``gamma <= 0``.
    """
    lr = check_number("base_lr", base_lr, low=0.0)
    g = check_number("gamma", gamma, low=0.0, low_open=True)

    def schedule(step: int) -> float:
        check_step(step)
        return lr * g**step

    return schedule


def polynomial_schedule(
    base_lr: float, total_steps: int, power: float = 1.0, end_lr: float = 0.0
) -> Schedule:
    r"""Polynomial decay from ``base_lr`` to ``end_lr`` in ``total_steps``, then constant.

    .. math::
        \eta_t = (\eta_0 - \eta_{\text{end}})
                 \left(1 - \frac{\min(t, T)}{T}\right)^{p} + \eta_{\text{end}}

    With ``end_lr = 0`` this is torch's ``PolynomialLR(total_iters=T, power=p)``; with
    ``end_lr`` it is optax's ``polynomial_schedule``.

    Args:
        base_lr: initial learning rate :math:`\eta_0 \ge 0`.
        total_steps: decay length :math:`T \ge 1`.
        power: exponent :math:`p > 0` (1 is linear decay).
        end_lr: final learning rate :math:`\eta_{\text{end}} \ge 0`.

    Returns:
        A function ``step -> lr``.

    Raises:
        ValueError: on a negative ``base_lr`` or ``end_lr``, ``total_steps < 1`` or
            ``power <= 0``.
    """
    lr = check_number("base_lr", base_lr, low=0.0)
    total = check_int("total_steps", total_steps, low=1)
    p = check_number("power", power, low=0.0, low_open=True)
    end = check_number("end_lr", end_lr, low=0.0)

    def schedule(step: int) -> float:
        check_step(step)
        return (lr - end) * (1.0 - min(step, total) / total) ** p + end

    return schedule


def linear_schedule(
    base_lr: float, total_steps: int, start_factor: float = 1.0 / 3, end_factor: float = 1.0
) -> Schedule:
    r"""Linear change of the lr's factor from ``start_factor`` to ``end_factor``, then constant.

    .. math::
        \eta_t = \eta_0 \left(f_0 + (f_1 - f_0) \frac{\min(t, T)}{T}\right)

    torch's ``LinearLR`` (same argument names and defaults); :func:`linear_warmup_schedule`
    is the case :math:`f_1 = 1`.

    Args:
        base_lr: learning rate :math:`\eta_0 \ge 0` the factors multiply.
        total_steps: length :math:`T \ge 1` of the change.
        start_factor: :math:`f_0 \ge 0`, factor at step 0.
        end_factor: :math:`f_1 \ge 0`, factor from step :math:`T` on.

    Returns:
        A function ``step -> lr``.

    Raises:
        ValueError: on a negative ``base_lr`` or factor, or ``total_steps < 1``.
    """
    lr = check_number("base_lr", base_lr, low=0.0)
    total = check_int("total_steps", total_steps, low=1)
    f0 = check_number("start_factor", start_factor, low=0.0)
    f1 = check_number("end_factor", end_factor, low=0.0)

    def schedule(step: int) -> float:
        check_step(step)
        # torch's closed-form operation order, so the two agree to the last bit or two
        return lr * (f0 + (f1 - f0) * min(step, total) / total)

    return schedule


def cosine_factor(step: float, period: float) -> float:
    r"""The cosine annealing factor :math:`\tfrac12 (1 + \cos(\pi t / T))`, 1 at 0, 0 at ``T``."""
    return (1.0 + math.cos(math.pi * step / period)) / 2.0


def cosine_schedule(base_lr: float, total_steps: int, min_lr: float = 0.0) -> Schedule:
    r"""Cosine annealing from ``base_lr`` to ``min_lr`` in ``total_steps``, then held at ``min_lr``.

    .. math::
        \eta_t = \eta_{\min} + \tfrac12 (\eta_0 - \eta_{\min})
                 \left(1 + \cos\frac{\pi \min(t, T)}{T}\right)

    Source: Loshchilov & Hutter, *SGDR*, ICLR 2017 (eq. 5, one cycle without restart).
    Unlike torch's ``CosineAnnealingLR``, which keeps following the cosine and rises back to
    ``base_lr`` by step :math:`2T`, this schedule is clamped at ``min_lr`` after step :math:`T`;
    the two agree for :math:`t \le T`.

    Args:
        base_lr: initial learning rate :math:`\eta_0 \ge 0`.
        total_steps: annealing length :math:`T \ge 1`.
        min_lr: final learning rate :math:`\eta_{\min} \ge 0`.

    Returns:
        A function ``step -> lr``.

    Raises:
        ValueError: on a negative ``base_lr`` or ``min_lr``, or ``total_steps < 1``.
    """
    lr = check_number("base_lr", base_lr, low=0.0)
    total = check_int("total_steps", total_steps, low=1)
    floor = check_number("min_lr", min_lr, low=0.0)

    def schedule(step: int) -> float:
        check_step(step)
        return floor + (lr - floor) * cosine_factor(min(step, total), total)

    return schedule


def warm_restart_position(epoch: float, T_0: int, T_mult: int) -> tuple[float, int]:
    r"""Where step ``epoch`` falls in SGDR's cycles: ``(T_cur, T_i)``.

    Cycle :math:`i` has length :math:`T_i = T_0 T_{\text{mult}}^i` and starts at
    :math:`\sum_{j<i} T_j`; :math:`T_{cur}` is the distance from that start. The cycle is found
    by adding up integer lengths, so cycle boundaries are exact (a closed form through
    :math:`\log_{T_{\text{mult}}}` can round a boundary step into the wrong cycle).
    """
    if T_mult == 1:
        return epoch % T_0, T_0
    start, length = 0, T_0
    while epoch >= start + length:
        start += length
        length *= T_mult
    return epoch - start, length


def cosine_warm_restarts_schedule(
    base_lr: float, T_0: int, T_mult: int = 1, eta_min: float = 0.0
) -> Schedule:
    r"""Cosine annealing with warm restarts, SGDR (torch's ``CosineAnnealingWarmRestarts``).

    .. math::
        \eta_t = \eta_{\min} + \tfrac12 (\eta_0 - \eta_{\min})
                 \left(1 + \cos\frac{\pi T_{cur}}{T_i}\right)

    where :math:`T_i = T_0 T_{\text{mult}}^i` is the length of the current cycle and
    :math:`T_{cur}` the steps since its start; the lr jumps back to :math:`\eta_0` at each
    restart. Source: Loshchilov & Hutter, *SGDR*, ICLR 2017, eq. 5.

    Args:
        base_lr: learning rate :math:`\eta_0 \ge 0` at the start of every cycle.
        T_0: length of the first cycle, ``>= 1``.
        T_mult: growth factor of the cycle length, an integer ``>= 1``.
        eta_min: learning rate approached at the end of each cycle, ``>= 0``.

    Returns:
        A function ``step -> lr``.

    Raises:
        ValueError: on a negative ``base_lr`` or ``eta_min``, ``T_0 < 1`` or ``T_mult < 1``.
    """
    lr = check_number("base_lr", base_lr, low=0.0)
    t0 = check_int("T_0", T_0, low=1)
    mult = check_int("T_mult", T_mult, low=1)
    floor = check_number("eta_min", eta_min, low=0.0)

    def schedule(step: int) -> float:
        check_step(step)
        t_cur, t_i = warm_restart_position(step, t0, mult)
        return floor + (lr - floor) * cosine_factor(t_cur, t_i)

    return schedule
