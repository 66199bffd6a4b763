r"""Cyclical schedules: Smith's cyclical learning rates (CLR) and the one-cycle policy.

The helpers :func:`cycle_position`, :func:`one_cycle_phase` and the two anneal functions are
shared with the scheduler classes, so the pure schedules and ``CyclicLR`` / ``OneCycleLR`` cannot
drift apart.
"""

from __future__ import annotations

import math
from typing import Literal

from course_lib.schedules._validation import check_choice, check_int, check_number, check_step
from course_lib.schedules.functions import Schedule

CyclicMode = Literal["triangular", "triangular2", "exp_range"]
AnnealStrategy = Literal["cos", "linear"]


def cycle_position(step: float, step_size_up: float, step_size_down: float) -> tuple[int, float]:
    r"""The cycle number (from 1) and the triangle's height in ``[0, 1]`` at ``step``.

    A cycle is ``step_size_up`` steps rising then ``step_size_down`` falling. With
    :math:`L = s_{up} + s_{down}` and :math:`r = s_{up}/L`:

    .. math::
        c = \left\lfloor 1 + \frac{t}{L} \right\rfloor, \quad
        x = 1 + \frac{t}{L} - c, \quad
        h = \begin{cases} x / r & x \le r \\ (x - 1)/(r - 1) & x > r \end{cases}

    For :math:`s_{up} = s_{down} = s` this is Smith's
    :math:`h = \max(0, 1 - |t/s - 2c + 1|)`; the form above (torch's) also covers unequal halves.
    """
    total = step_size_up + step_size_down
    ratio = step_size_up / total
    cycle = math.floor(1 + step / total)
    x = 1.0 + step / total - cycle
    height = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
    return cycle, height


def cyclical_scale(mode: str, gamma: float, cycle: int, step: float) -> float:
    r"""Amplitude scale of a CLR policy: 1, :math:`2^{-(c-1)}`, or :math:`\gamma^t`."""
    if mode == "triangular":
        return 1.0
    if mode == "triangular2":
        return 1 / (2.0 ** (cycle - 1))
    return gamma**step


def cyclical_schedule(
    base_lr: float,
    max_lr: float,
    step_size_up: int = 2000,
    step_size_down: int | None = None,
    mode: CyclicMode = "triangular",
    gamma: float = 1.0,
) -> Schedule:
    r"""Cyclical learning rate between ``base_lr`` and ``max_lr`` (torch's ``CyclicLR``).

    .. math::
        \eta_t = \eta_{\text{base}} + (\eta_{\max} - \eta_{\text{base}})\, h(t)\, \sigma(t)

    with :math:`h` the triangle of :func:`cycle_position` and the amplitude scale
    :math:`\sigma` = 1 (``triangular``), :math:`1 / 2^{c-1}` in cycle :math:`c`
    (``triangular2``: halved every cycle) or :math:`\gamma^t` (``exp_range``).
    Source: L. N. Smith, *Cyclical Learning Rates for Training Neural Networks*, WACV 2017.

    Args:
        base_lr: lower bound :math:`\eta_{\text{base}} \ge 0` (the lr at step 0).
        max_lr: upper bound :math:`\eta_{\max} \ge 0` (reached only while :math:`\sigma = 1`).
        step_size_up: steps in the rising half of a cycle, ``>= 1``.
        step_size_down: steps in the falling half (default ``step_size_up``), ``>= 1``.
        mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
        gamma: :math:`\gamma \in (0, 1]` for ``exp_range``.

    Returns:
        A function ``step -> lr``.

    Raises:
        ValueError: on negative rates, half-cycle lengths below 1, an unknown ``mode`` or
            ``gamma`` outside ``(0, 1]``.
    """
    low = check_number("base_lr", base_lr, low=0.0)
    high = check_number("max_lr", max_lr, low=0.0)
    up = check_int("step_size_up", step_size_up, low=1)
    down = up if step_size_down is None else check_int("step_size_down", step_size_down, low=1)
    check_choice("mode", mode, ("triangular", "triangular2", "exp_range"))
    g = check_number("gamma", gamma, low=0.0, low_open=True, high=1.0)

    def schedule(step: int) -> float:
        check_step(step)
        cycle, height = cycle_position(step, float(up), float(down))
        return low + (high - low) * height * cyclical_scale(mode, g, cycle, step)

    return schedule


def anneal_cos(start: float, end: float, pct: float) -> float:
    r"""Cosine interpolation :math:`e + \tfrac12 (s - e)(1 + \cos \pi p)`: ``s`` at 0, ``e`` at 1.

    (The operation order is torch's, so the two agree to the last bit.)
    """
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def anneal_linear(start: float, end: float, pct: float) -> float:
    r"""Linear interpolation: :math:`s + (e - s)\, p`, ``s`` at 0, ``e`` at 1."""
    return (end - start) * pct + start


ANNEAL = {"cos": anneal_cos, "linear": anneal_linear}


def one_cycle_phase(
    step: float, total_steps: int, pct_start: float, three_phase: bool
) -> tuple[int, float]:
    r"""The phase index and the fraction of it done at ``step``, with torch's boundaries.

    Phases end at steps :math:`pT - 1` (warm-up), then :math:`T - 1` (two phases) or
    :math:`2pT - 2` and :math:`T - 1` (three phases). The boundaries are real numbers, so
    ``max_lr`` is hit exactly only when :math:`pT` is an integer. A step past the last
    boundary stays in the last phase with a fraction above 1 (torch extrapolates there).
    """
    ends = [pct_start * total_steps - 1]
    if three_phase:
        ends.append(2 * pct_start * total_steps - 2)
    ends.append(total_steps - 1)
    start = 0.0
    for i, end in enumerate(ends):
        if step <= end or i == len(ends) - 1:
            if end == start:
                raise ValueError(
                    f"one-cycle phase {i} has zero length (total_steps={total_steps}, "
                    f"pct_start={pct_start}, three_phase={three_phase}); change pct_start"
                )
            return i, (step - start) / (end - start)
        start = end
    raise AssertionError("unreachable: the last phase always matches")


def one_cycle_schedule(
    max_lr: float,
    total_steps: int,
    pct_start: float = 0.3,
    anneal_strategy: AnnealStrategy = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
) -> Schedule:
    r"""The one-cycle policy (torch's ``OneCycleLR``), held at its final lr after the end.

    With :math:`\eta_{\text{init}} = \eta_{\max} / d` and
    :math:`\eta_{\text{final}} = \eta_{\text{init}} / d_f`, the lr anneals (cosine or linear)

    * two phases (fastai's default): :math:`\eta_{\text{init}} \to \eta_{\max}` over the first
      :math:`pT` steps, then :math:`\eta_{\max} \to \eta_{\text{final}}`;
    * three phases (Smith's paper): :math:`\eta_{\text{init}} \to \eta_{\max} \to
      \eta_{\text{init}}` symmetrically over :math:`2pT` steps, then
      :math:`\eta_{\text{init}} \to \eta_{\text{final}}`.

    Within a phase from :math:`a` to :math:`b` with fraction :math:`q` done, ``cos`` gives
    :math:`b + \tfrac12 (a - b)(1 + \cos \pi q)` and ``linear`` :math:`a + (b - a) q`.
    Sources: L. N. Smith, *Super-Convergence*, 2017; fastai's ``fit_one_cycle``.
    torch computes one extra, extrapolated lr at step ``total_steps`` and raises after it;
    this schedule returns :math:`\eta_{\text{final}}` for every step ``>= total_steps - 1``.

    Args:
        max_lr: peak learning rate :math:`\eta_{\max} \ge 0`.
        total_steps: number of updates :math:`T \ge 1` in the cycle.
        pct_start: fraction :math:`p \in [0, 1]` of the cycle spent warming up.
        anneal_strategy: ``"cos"`` or ``"linear"``.
        div_factor: :math:`d > 0`, initial lr is ``max_lr / div_factor`` (default 25).
        final_div_factor: :math:`d_f > 0`, final lr is ``initial / final_div_factor`` (1e4).
        three_phase: use Smith's three phases instead of fastai's two.

    Returns:
        A function ``step -> lr``.

    Raises:
        ValueError: on invalid numbers, an unknown ``anneal_strategy``, or a phase of zero
            length (e.g. ``pct_start * total_steps == 1``, where torch divides by zero).
    """
    peak = check_number("max_lr", max_lr, low=0.0)
    total = check_int("total_steps", total_steps, low=1)
    pct = check_number("pct_start", pct_start, low=0.0, high=1.0)
    anneal = ANNEAL[check_choice("anneal_strategy", anneal_strategy, ("cos", "linear"))]
    div = check_number("div_factor", div_factor, low=0.0, low_open=True)
    final_div = check_number("final_div_factor", final_div_factor, low=0.0, low_open=True)
    # Same arithmetic as torch's constructor, so the phase end points agree bit for bit.
    initial = peak / div
    final = initial / final_div
    if three_phase:
        phases = [(initial, peak), (peak, initial), (initial, final)]
    else:
        phases = [(initial, peak), (peak, final)]
    # Only the warm-up can be empty (pct * total == 1) among the steps served; fail now.
    one_cycle_phase(0, total, pct, three_phase)

    def schedule(step: int) -> float:
        check_step(step)
        i, frac = one_cycle_phase(min(step, total - 1), total, pct, three_phase)
        return anneal(*phases[i], frac)

    return schedule
