r"""The learning-rate range test ("LR finder") of Smith (2017) and fastai.

Train for a few steps while the lr grows geometrically from tiny to huge, record the loss, and
read off the lr where the loss falls fastest, before it blows up. The recorded loss is noisy, so
it is smoothed by an exponential moving average with bias correction (Adam's trick), and the
sweep stops once the smoothed loss is ``diverge_factor`` times its best value.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from course_lib.schedules._base import check_optimizer, set_group_value
from course_lib.schedules._validation import check_choice, check_int, check_number

Suggestion = Literal["steepest", "min_loss"]
SKIP_START, SKIP_END = 10, 5  # points the "steepest" rule ignores at each end (fastai's)


@dataclass(frozen=True)
class LRFinderResult:
    """What a range test measured.

    Attributes:
        lrs: the lr of each recorded step (a geometric sequence).
        losses: the raw training loss of each recorded step's batch, computed before that
            step's update.
        smoothed_losses: the bias-corrected moving average of ``losses``.
        suggested_lr: the lr picked by the rule (see :func:`lr_finder`).
        stopped_early: ``True`` if the sweep stopped on divergence or a non-finite loss.
    """

    lrs: list[float]
    losses: list[float]
    smoothed_losses: list[float]
    suggested_lr: float
    stopped_early: bool


def geometric_lrs(start_lr: float, end_lr: float, num_steps: int) -> list[float]:
    r"""The geometric sweep of a range test, ``num_steps`` lrs from ``start_lr`` to ``end_lr``.

    .. math:: \eta_i = \eta_{\text{start}} (\eta_{\text{end}}/\eta_{\text{start}})^{i/(n-1)}

    Equal ratios between neighbours, so every decade gets the same number of steps.
    """
    ratio = end_lr / start_lr
    return [start_lr * ratio ** (i / (num_steps - 1)) for i in range(num_steps)]


def suggest_lr(lrs: list[float], smoothed: list[float], rule: Suggestion = "min_loss") -> float:
    r"""Pick an lr from a range test's smoothed curve.

    * ``"min_loss"`` (default): one tenth of the lr with the lowest smoothed loss (fastai v1's
      rule). The moving average lags the raw loss, so with ``smooth=0.98`` its minimum sits a
      few times past the lr where training diverges; a tenth of it lands below that edge.
      On least squares with largest Hessian eigenvalue :math:`L` (divergence at
      :math:`2/L`) the tests find it between :math:`0.3/L` and :math:`1.5/L`.
    * ``"steepest"``: the lr where the smoothed loss falls fastest per unit of
      :math:`\log \eta` (minimum of ``np.gradient``), ignoring the first 10 and the last 5
      recorded points as fastai's ``plot(skip_start=10, skip_end=5)`` does: at the start the
      bias-corrected average is still an average of a few noisy batches and its slope is
      mostly noise; at the end it is the blow-up. With fewer than 3 points left it falls back
      to ``"min_loss"``. Reliable on smooth (full-batch) curves; with small noisy batches the
      slope of the early, flat part can win, which is why it is not the default.

    Args:
        lrs: the swept lrs.
        smoothed: the smoothed losses, one per lr.
        rule: ``"steepest"`` or ``"min_loss"``.

    Returns:
        The suggested learning rate.
    """
    check_choice("rule", rule, ("steepest", "min_loss"))
    if not lrs:
        raise ValueError("suggest_lr needs at least one recorded step")
    start, stop = SKIP_START, len(lrs) - SKIP_END
    if rule == "steepest" and stop - start >= 3:
        slope = np.gradient(np.asarray(smoothed[start:stop]), np.log(np.asarray(lrs[start:stop])))
        return float(lrs[start + int(np.argmin(slope))])
    return float(lrs[int(np.argmin(smoothed))]) / 10.0


def _batches(data: Iterable[Any]) -> Iterator[Any]:
    """Yield batches forever by re-iterating ``data``; stop if a pass yields nothing."""
    while True:
        empty = True
        for batch in data:
            empty = False
            yield batch
        if empty:  # an empty iterable, or a one-shot iterator already used up
            return


def _to(value: Any, device: torch.device) -> Any:
    return value.to(device) if isinstance(value, torch.Tensor) else value


def _train_step(
    model: torch.nn.Module,
    loss_fn: Callable[[Any, Any], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    inputs: Any,
    targets: Any,
) -> float:
    """One optimizer step through a closure (so LBFGS works too); return the first loss."""
    recorded: list[float] = []

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        recorded.append(float(loss.detach()))  # LBFGS may evaluate it several times
        return loss

    optimizer.step(closure)
    return recorded[0]


def lr_finder(
    model: torch.nn.Module,
    loss_fn: Callable[[Any, Any], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    data: Iterable[Any],
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    smooth: float = 0.98,
    diverge_factor: float = 4.0,
    restore: bool = True,
    suggestion: Suggestion = "min_loss",
) -> LRFinderResult:
    r"""Run an lr range test and suggest a learning rate.

    Step :math:`i` sets every param group's lr to
    :math:`\eta_i = \eta_{\text{start}} (\eta_{\text{end}}/\eta_{\text{start}})^{i/(n-1)}`,
    computes the loss :math:`\ell_i` of the next batch, and takes an optimizer step. The
    smoothed loss is the bias-corrected moving average

    .. math::
        m_i = \beta m_{i-1} + (1 - \beta) \ell_i, \quad m_{-1} = 0, \qquad
        \hat\ell_i = m_i / (1 - \beta^{i+1}).

    The sweep stops after step :math:`i` if :math:`\hat\ell_i > \text{diverge\_factor}
    \cdot \min_{j \le i} \hat\ell_j` (that step is kept, so the blow-up shows in a plot), or
    before recording a non-finite loss. ``data`` is re-iterated if it runs out (a one-shot
    iterator just ends the sweep). The suggestion rule is :func:`suggest_lr`'s: by default a
    tenth of the lr at the smoothed curve's minimum; ``"steepest"`` takes its steepest descent.

    Args:
        model: the model; trained in ``train()`` mode during the sweep.
        loss_fn: ``loss_fn(model(inputs), targets)`` gives a scalar loss.
        optimizer: any ``torch.optim.Optimizer`` over the model's parameters.
        data: iterable of ``(inputs, targets)`` batches (a DataLoader, a list, ...); tensors
            are moved to the device of the model's first parameter.
        start_lr: first lr, ``> 0``.
        end_lr: last lr, ``> start_lr``.
        num_steps: steps in the sweep, ``>= 2``.
        smooth: :math:`\beta \in [0, 1)`, the moving average's weight (0: no smoothing).
        diverge_factor: stop once the smoothed loss exceeds this multiple of its best, ``> 1``.
        restore: put the model's and optimizer's state (parameters, buffers, lrs, momentum
            buffers, train/eval mode) back as they were before the sweep.
        suggestion: ``"min_loss"`` or ``"steepest"`` (see :func:`suggest_lr`).

    Returns:
        An :class:`LRFinderResult`.

    Raises:
        ValueError: on invalid arguments or if ``data`` yields no batch.
    """
    check_optimizer(optimizer)
    start = check_number("start_lr", start_lr, low=0.0, low_open=True)
    end = check_number("end_lr", end_lr, low=start, low_open=True)
    n = check_int("num_steps", num_steps, low=2)
    beta = check_number("smooth", smooth, low=0.0, high=1.0, high_open=True)
    factor = check_number("diverge_factor", diverge_factor, low=1.0, low_open=True)
    check_choice("suggestion", suggestion, ("steepest", "min_loss"))

    first = next(iter(model.parameters()), None)
    device = first.device if first is not None else torch.device("cpu")
    was_training = model.training
    saved = (copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict()))

    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    avg, best, stopped = 0.0, math.inf, False
    model.train()
    try:
        # strict=False: the batches never run out first unless data is a spent iterator
        sweep = zip(geometric_lrs(start, end, n), _batches(data), strict=False)
        for i, (lr, batch) in enumerate(sweep):
            inputs, targets = (_to(v, device) for v in batch)
            for group in optimizer.param_groups:
                set_group_value(group, "lr", lr)
            loss = _train_step(model, loss_fn, optimizer, inputs, targets)
            if not math.isfinite(loss):
                stopped = True
                break
            avg = beta * avg + (1 - beta) * loss
            value = avg / (1 - beta ** (i + 1))
            lrs.append(lr)
            losses.append(loss)
            smoothed.append(value)
            best = min(best, value)
            if value > factor * best:
                stopped = True
                break
    finally:
        if restore:
            model.load_state_dict(saved[0])
            optimizer.load_state_dict(saved[1])
            model.train(was_training)
    if not lrs:
        raise ValueError("data yielded no batch with a finite loss; nothing to suggest from")
    return LRFinderResult(lrs, losses, smoothed, suggest_lr(lrs, smoothed, suggestion), stopped)
