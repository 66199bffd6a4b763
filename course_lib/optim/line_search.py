r"""A line search for the strong Wolfe conditions (Nocedal & Wright, Algorithms 3.5 and 3.6).

Along a descent direction :math:`d` from :math:`x`, write :math:`\phi(\alpha) = f(x + \alpha d)`,
so :math:`\phi'(0) = \nabla f(x)^\top d < 0`. A step :math:`\alpha` satisfies the strong Wolfe
conditions when

.. math::

    \phi(\alpha) \le \phi(0) + c_1 \alpha \phi'(0) \quad\text{(sufficient decrease)}, \qquad
    |\phi'(\alpha)| \le c_2 |\phi'(0)| \quad\text{(curvature)},

with :math:`0 < c_1 < c_2 < 1` (here :math:`c_1 = 10^{-4}`, :math:`c_2 = 0.9`, the usual values for
quasi-Newton methods). The search has two phases:

* **bracketing** (Alg. 3.5): try growing steps until one is acceptable, or until an interval is
  known to contain acceptable steps (the function went up, or the slope turned non-negative);
* **zoom** (Alg. 3.6): shrink that interval, each trial being the minimiser of the cubic that
  matches :math:`\phi` and :math:`\phi'` at both ends (N&W eq. 3.59), kept away from the ends.

The function is generic: ``phi(alpha)`` returns the value, the slope and a *payload* (for
L-BFGS, the full gradient at the trial point), and the payload of the accepted point comes back
with it, so no point is evaluated twice.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["LineSearchResult", "cubic_minimiser", "strong_wolfe"]

T = TypeVar("T")

# How far from an end of the bracket a zoom trial must stay, as a fraction of its width. It also
# guarantees that the bracket shrinks by at least this fraction per trial.
_ZOOM_MARGIN = 0.1
# While bracketing, the next trial step lies in [a + LOW (a - a_prev), a + HIGH (a - a_prev)]:
# at least a bit beyond the last one, at most a few times its increment.
_EXTRAPOLATE_LOW, _EXTRAPOLATE_HIGH = 1.1, 4.0


@dataclass(frozen=True)
class _Point(Generic[T]):
    step: float
    value: float
    slope: float
    payload: T


@dataclass(frozen=True)
class LineSearchResult(Generic[T]):
    """What :func:`strong_wolfe` returns.

    Attributes:
        step: the step length :math:`\\alpha` (``0.0`` if no point decreased the function).
        value: :math:`\\phi(\\alpha)`.
        slope: :math:`\\phi'(\\alpha)`.
        payload: what ``phi`` returned with that point.
        evaluations: how many times ``phi`` was called.
        success: whether the strong Wolfe conditions hold at ``step``; otherwise ``step`` is the
            lowest point found that satisfies sufficient decrease.
    """

    step: float
    value: float
    slope: float
    payload: T
    evaluations: int
    success: bool


def cubic_minimiser(a: float, fa: float, ga: float, b: float, fb: float, gb: float) -> float | None:
    r"""Minimiser of the cubic through :math:`(a, f_a, f'_a)` and :math:`(b, f_b, f'_b)`.

    Nocedal & Wright eq. (3.59):

    .. math::

        d_1 = f'_a + f'_b - 3\frac{f_a - f_b}{a - b},\quad
        d_2 = \operatorname{sign}(b - a)\sqrt{d_1^2 - f'_a f'_b},\quad
        x = b - (b - a)\frac{f'_b + d_2 - d_1}{f'_b - f'_a + 2 d_2}.

    Returns:
        The minimiser, or ``None`` when the cubic has no local minimum (negative discriminant),
        the points coincide, or the numbers are not finite; the caller then bisects.
    """
    if a == b:
        return None
    d1 = ga + gb - 3.0 * (fa - fb) / (a - b)
    disc = d1 * d1 - ga * gb
    if not math.isfinite(disc) or disc < 0.0:
        return None
    d2 = math.copysign(math.sqrt(disc), b - a)
    denom = gb - ga + 2.0 * d2
    if denom == 0.0:
        return None
    x = b - (b - a) * (gb + d2 - d1) / denom
    return x if math.isfinite(x) else None


def strong_wolfe(
    phi: Callable[[float], tuple[float, float, T]],
    value0: float,
    slope0: float,
    payload0: T,
    step: float,
    *,
    c1: float = 1e-4,
    c2: float = 0.9,
    max_evals: int = 25,
    min_width: float = 0.0,
) -> LineSearchResult[T]:
    r"""Find a step satisfying the strong Wolfe conditions along a descent direction.

    Args:
        phi: ``alpha -> (value, slope, payload)``: :math:`\phi(\alpha)`, :math:`\phi'(\alpha)` and
            anything the caller wants back for the accepted point.
        value0: :math:`\phi(0)`.
        slope0: :math:`\phi'(0)`, which must be negative.
        payload0: the payload at :math:`\alpha = 0` (returned if no step decreases :math:`\phi`).
        step: the first trial step, :math:`> 0`.
        c1: sufficient-decrease constant.
        c2: curvature constant, ``c1 < c2 < 1``.
        max_evals: most calls of ``phi`` (at least one is made).
        min_width: stop zooming once the bracket is narrower than this (in :math:`\alpha`).

    Returns:
        A :class:`LineSearchResult`.

    Raises:
        ValueError: if ``slope0`` is not negative, or ``step`` is not positive.
    """
    if not slope0 < 0.0:
        raise ValueError(f"slope0 must be negative (a descent direction), got {slope0}")
    if not step > 0.0:
        raise ValueError(f"step must be positive, got {step}")
    evals = 0

    def armijo_fails(p: _Point[T]) -> bool:
        # A non-finite value is treated as "went too far": the step will shrink.
        return not math.isfinite(p.value) or p.value > value0 + c1 * p.step * slope0

    def curvature_holds(p: _Point[T]) -> bool:
        return abs(p.slope) <= -c2 * slope0

    def evaluate(alpha: float) -> _Point[T]:
        nonlocal evals
        evals += 1
        value, slope, payload = phi(alpha)
        return _Point(alpha, value, slope, payload)

    def done(p: _Point[T], success: bool) -> LineSearchResult[T]:
        return LineSearchResult(p.step, p.value, p.slope, p.payload, evals, success)

    # Phase 1, bracketing (Alg. 3.5).
    prev = _Point(0.0, value0, slope0, payload0)
    cur = evaluate(step)
    while True:
        if armijo_fails(cur) or (evals > 1 and cur.value >= prev.value):
            lo, hi = prev, cur
            break
        if curvature_holds(cur):
            return done(cur, True)
        if cur.slope >= 0.0:  # walked past a minimiser: it lies between cur and prev
            lo, hi = cur, prev
            break
        if evals >= max_evals:
            return done(cur, False)
        grow = cur.step - prev.step
        low, high = cur.step + _EXTRAPOLATE_LOW * grow, cur.step + _EXTRAPOLATE_HIGH * grow
        trial = cubic_minimiser(prev.step, prev.value, prev.slope, cur.step, cur.value, cur.slope)
        trial = high if trial is None else min(max(trial, low), high)
        prev, cur = cur, evaluate(trial)

    # Phase 2, zoom (Alg. 3.6). Invariants: lo is the lowest point found that satisfies sufficient
    # decrease, and lo.slope * (hi.step - lo.step) < 0, so an acceptable step lies between them.
    while evals < max_evals and abs(hi.step - lo.step) > min_width:
        left, right = min(lo.step, hi.step), max(lo.step, hi.step)
        margin = _ZOOM_MARGIN * (right - left)
        trial = cubic_minimiser(lo.step, lo.value, lo.slope, hi.step, hi.value, hi.slope)
        if trial is None or not math.isfinite(hi.slope):
            trial = 0.5 * (left + right)
        trial = min(max(trial, left + margin), right - margin)
        new = evaluate(trial)
        if armijo_fails(new) or new.value >= lo.value:
            hi = new
            continue
        if curvature_holds(new):
            return done(new, True)
        if new.slope * (hi.step - lo.step) >= 0.0:
            hi = lo
        lo = new
    return done(lo, False)
