"""Measures for comparing optimizers: speed to a loss, learning-rate sensitivity, claims vs data.

Pure functions on plain numbers, used by :mod:`course_lib.experiments.comparison` and usable on
any training history:

* :func:`smoothed_losses` and :func:`steps_to_threshold`: when a run's (smoothed) training loss
  first reaches a threshold, the "training speed" of an optimizer;
* :func:`lr_band_decades`: how wide, in decades, the band of learning rates that train nearly as
  well as the best one is, its "learning-rate sensitivity";
* :func:`check_claim`: a qualitative ranking ("Adam is fastest") tested pair by pair against
  measured means and their seed-to-seed spread.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

__all__ = ["check_claim", "lr_band_decades", "smoothed_losses", "steps_to_threshold"]


def smoothed_losses(losses: Sequence[float], window: int) -> list[float]:
    """Trailing means: entry ``i`` is the mean of ``losses[max(0, i - window + 1) : i + 1]``."""
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    out, total = [], 0.0
    for i, value in enumerate(losses):
        total += value
        if i >= window:
            total -= losses[i - window]
        out.append(total / min(i + 1, window))
    return out


def steps_to_threshold(losses: Sequence[float], threshold: float, window: int = 20) -> int | None:
    """The first step (counting from 1) whose trailing ``window``-step mean loss is <= threshold.

    Only full windows count (the first candidate is step ``window``), so one lucky minibatch
    does not end the race. ``None`` if the run never gets there (a NaN loss never does).

    Args:
        losses: the minibatch losses, one per step.
        threshold: the training loss to reach.
        window: how many steps to average.
    """
    means = smoothed_losses(losses, window)
    for i in range(window - 1, len(means)):
        if means[i] <= threshold:
            return i + 1
    return None


def lr_band_decades(lrs: Sequence[float], losses: Sequence[float | None], tol: float) -> float:
    """Width in decades of the learning rates whose loss is within ``(1 + tol)`` of the best.

    The loss is interpolated linearly in ``log10(lr)`` between the swept rates; a missing or
    non-finite loss (a diverged run) counts as infinitely bad. A flat loss curve gives the
    whole sweep's width; a sharp minimum gives a narrow band. The band is clipped to the sweep:
    compare optimizers on sweeps of the same width.

    Args:
        lrs: the swept learning rates (any order).
        losses: the final loss at each.
        tol: relative tolerance, e.g. ``0.25`` for "within 25% of the best".

    Raises:
        ValueError: on fewer than two rates, mismatched lengths or no finite loss.
    """
    if len(lrs) != len(losses) or len(lrs) < 2:
        raise ValueError("need at least two learning rates, each with a loss")
    pairs = sorted(
        (math.log10(lr), math.inf if v is None or not math.isfinite(v) else float(v))
        for lr, v in zip(lrs, losses, strict=True)
    )
    best = min(v for _, v in pairs)
    if not math.isfinite(best):
        raise ValueError("no finite loss in the sweep")
    cut = best * (1 + tol) if best >= 0 else best * (1 - tol)
    width = 0.0
    for (x0, v0), (x1, v1) in itertools.pairwise(pairs):
        inside0, inside1 = v0 <= cut, v1 <= cut
        if inside0 and inside1:
            width += x1 - x0
        elif inside0 or inside1:
            lo, hi = (v0, v1) if inside0 else (v1, v0)
            # The crossing of the straight segment through the cut (none if hi is infinite).
            part = 0.0 if math.isinf(hi) else (cut - lo) / (hi - lo)
            width += part * (x1 - x0)
    return width


def check_claim(
    claimed: Mapping[str, float],
    measured: Mapping[str, tuple[float, float]],
    *,
    higher_is_better: bool,
    noise: float | None = None,
) -> list[tuple[str, str, str]]:
    """Test a ranking claim pair by pair against measurements with their seed-to-seed spread.

    For every pair of optimizers the claim ranks differently (a larger ``claimed`` score is a
    better rating), the measured difference of means is compared with the noise
    :math:`\\sqrt{s_a^2 + s_b^2}` of the two standard deviations: it *agrees* when it has the
    claim's sign and exceeds the noise, is *within noise* when it does not exceed it, and is
    *reversed* when it exceeds it with the opposite sign. Pairs the claim rates equal are
    *equal as claimed* when within noise, else *not equal*.

    Args:
        claimed: a score per optimizer (e.g. ``{"sgd": 0, "adam": 3}`` for slow .. fastest).
        measured: ``(mean, std)`` per optimizer of the measured quantity.
        higher_is_better: whether a larger measured value is better (accuracy: yes; steps
            to a threshold, bytes: no).
        noise: a fixed noise level for every pair instead of the one from the standard
            deviations (for a quantity measured once, say to the resolution of a grid).

    Returns:
        ``(better, worse, verdict)`` per pair, ``better`` being the one the claim favours
        (for equal claims, the order of ``claimed``); only optimizers in both mappings.
    """
    names = [n for n in claimed if n in measured]
    sign = 1.0 if higher_is_better else -1.0
    out = []
    for a, b in itertools.combinations(names, 2):
        if claimed[a] < claimed[b]:
            a, b = b, a
        (ma, sa), (mb, sb) = measured[a], measured[b]
        diff = sign * (ma - mb)
        level = math.hypot(sa, sb) if noise is None else noise
        if claimed[a] == claimed[b]:
            verdict = "equal as claimed" if abs(diff) <= level else "not equal"
        elif abs(diff) <= level:
            verdict = "within noise"
        else:
            verdict = "agrees" if diff > 0 else "reversed"
        out.append((a, b, verdict))
    return out
