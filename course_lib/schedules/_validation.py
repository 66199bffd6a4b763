"""Argument checks shared by the schedules and schedulers.

Every check raises ``ValueError`` naming the argument, the value it got and what is allowed, so
that a typo in a notebook fails when the schedule is built, not a thousand steps later.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


def _is_number(value: Any) -> bool:
    # bool is an int subclass; True as a learning rate is always a mistake.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    low_open: bool = False,
    high: float | None = None,
    high_open: bool = False,
) -> float:
    """Require a finite real number in a (half-)open or closed interval; return it as a float.

    Args:
        name: argument name used in the message.
        value: the value to check.
        low: lower bound (``None``: unbounded below).
        low_open: exclude ``low`` itself.
        high: upper bound (``None``: unbounded above).
        high_open: exclude ``high`` itself.

    Raises:
        ValueError: if ``value`` is not a finite number inside the interval.
    """
    lo = "(-inf" if low is None else ("(" if low_open else "[") + f"{low:g}"
    hi = "inf)" if high is None else f"{high:g}" + (")" if high_open else "]")
    allowed = f"a finite number in {lo}, {hi}"
    if not _is_number(value) or not math.isfinite(value):
        raise ValueError(f"Invalid {name} value: {value!r}; {name} must be {allowed}")
    ok_low = low is None or (value > low if low_open else value >= low)
    ok_high = high is None or (value < high if high_open else value <= high)
    if not (ok_low and ok_high):
        raise ValueError(f"Invalid {name} value: {value!r}; {name} must be {allowed}")
    return float(value)


def check_int(name: str, value: Any, *, low: int = 0) -> int:
    """Require an integer (not a bool) ``>= low``; return it.

    Raises:
        ValueError: if ``value`` is not an integer or is below ``low``.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"Invalid {name} value: {value!r}; {name} must be an integer >= {low}")
    return value


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Require ``value`` to be one of ``choices``; return it.

    Raises:
        ValueError: if ``value`` is not one of ``choices``.
    """
    options = tuple(choices)
    if value not in options:
        raise ValueError(f"Invalid {name} value: {value!r}; {name} must be one of {options}")
    return value


def check_milestones(milestones: Iterable[int]) -> list[int]:
    """Require non-negative integer milestones; return them sorted (repeats kept, as torch).

    Raises:
        ValueError: if a milestone is not an integer >= 0.
    """
    values = list(milestones)
    for m in values:
        if isinstance(m, bool) or not isinstance(m, int) or m < 0:
            raise ValueError(
                f"Invalid milestones value: {values!r}; every milestone must be an integer >= 0"
            )
    return sorted(values)


def check_step(step: Any) -> None:
    """Schedules are defined for steps 0, 1, 2, ...; a negative step is a caller's bug.

    Raises:
        ValueError: if ``step`` is negative.
    """
    if step < 0:
        raise ValueError(f"Invalid step value: {step!r}; a schedule is defined for step >= 0")


def per_group(name: str, value: Any, n_groups: int) -> list[Any]:
    """Expand a scalar to one value per param group, or check a list has one per group.

    Raises:
        ValueError: if a list or tuple has the wrong length.
    """
    if isinstance(value, (list, tuple)):
        if len(value) != n_groups:
            raise ValueError(
                f"Invalid {name} value: {value!r}; {name} must be a number or a list with one "
                f"value per param group ({n_groups} groups, got {len(value)} values)"
            )
        return list(value)
    return [value] * n_groups
