r"""Warm-up schedules: a linear ramp, alone or joined to a cosine or linear decay.

Warm-up keeps the first updates small while Adam's second-moment estimate (or a large batch's
statistics) settle. Two conventions are common and differ at step 0:

* Hugging Face ``get_*_schedule_with_warmup``: the ramp starts at **lr 0**
  (``start_factor=0``, the default here), so the very first update does nothing;
* torch's ``LinearLR`` starts at ``start_factor * base_lr`` with ``start_factor > 0``
  (default 1/3).

(nanoGPT's ``get_lr`` ramps as :math:`(t + 1)/(W + 1)`, a third variant that never gives 0.)

``start_factor`` selects between them. Step ``t`` counts updates from 0 and the decay length
``total_steps`` includes the warm-up, as in Hugging Face and nanoGPT.
"""

from __future__ import annotations

from course_lib.schedules._validation import check_int, check_number, check_step
from course_lib.schedules.functions import Schedule, cosine_factor


def _check_warmup(
    base_lr: float, warmup_steps: int, start_factor: float
) -> tuple[float, int, float]:
    lr = check_number("base_lr", base_lr, low=0.0)
    warm = check_int("warmup_steps", warmup_steps, low=0)
    start = check_number("start_factor", start_factor, low=0.0, high=1.0)
    return lr, warm, start


def _ramp(lr: float, warm: int, start: float, step: int) -> float:
    # Same operation order as torch's LinearLR closed form, so the two agree to rounding.
    return lr * (start + (1.0 - start) * min(step, warm) / warm)


def linear_warmup_schedule(
    base_lr: float, warmup_steps: int, start_factor: float = 0.0
) -> Schedule:
    r"""Linear warm-up from ``start_factor * base_lr`` to ``base_lr``, then constant.

    .. math::
        \eta_t = \eta_0 \left(f_0 + (1 - f_0) \frac{\min(t, W)}{W}\right)

    With :math:`f_0 > 0` this is torch's ``LinearLR(start_factor=f_0, end_factor=1,
    total_iters=W)``; with :math:`f_0 = 0` it is the Hugging Face warm-up (lr 0 at step 0).
    Source: Goyal et al., *Accurate, Large Minibatch SGD*, 2017 (gradual warm-up).

    Args:
        base_lr: learning rate :math:`\eta_0 \ge 0` reached at step :math:`W`.
        warmup_steps: ramp length :math:`W \ge 0` (0: no warm-up, constant ``base_lr``).
        start_factor: :math:`f_0 \in [0, 1]`, the fraction of ``base_lr`` at step 0.

    Returns:
        A function ``step -> lr``.

    Raises:
        ValueError: on a negative ``base_lr`` or ``warmup_steps``, or ``start_factor``
            outside ``[0, 1]``.
    """
    lr, warm, start = _check_warmup(base_lr, warmup_steps, start_factor)

    def schedule(step: int) -> float:
        check_step(step)
        return lr if step >= warm else _ramp(lr, warm, start, step)

    return schedule


def _check_total(total_steps: int, warm: int) -> int:
    total = check_int("total_steps", total_steps, low=1)
    if total <= warm:
        raise ValueError(
            f"Invalid total_steps value: {total_steps!r}; total_steps includes the warm-up and "
            f"must be greater than warmup_steps ({warm})"
        )
    return total


def warmup_cosine_schedule(
    base_lr: float,
    warmup_steps: int,
    total_steps: int,
    min_lr: float = 0.0,
    start_factor: float = 0.0,
) -> Schedule:
    r"""Linear warm-up to ``base_lr``, cosine decay to ``min_lr`` at ``total_steps``, then hold.

    .. math::
        \eta_t = \begin{cases}
            \eta_0 \left(f_0 + (1 - f_0)\, t / W\right) & t < W \\
            \eta_{\min} + \tfrac12 (\eta_0 - \eta_{\min})
              \left(1 + \cos\dfrac{\pi (t - W)}{T - W}\right) & W \le t \le T \\
            \eta_{\min} & t > T
        \end{cases}

    The recipe of GPT-style training (nanoGPT's ``get_lr``, Hugging Face's
    ``get_cosine_schedule_with_warmup`` with ``min_lr = 0``, up to step :math:`T`: past it the
    Hugging Face cosine keeps going and rises again, ours holds ``min_lr``). With
    :math:`f_0 > 0` it equals torch's
    ``SequentialLR([LinearLR(f_0, 1, W), CosineAnnealingLR(T - W, min_lr)], [W])`` for
    :math:`t \le T`.

    Args:
        base_lr: peak learning rate :math:`\eta_0 \ge 0`, reached at step :math:`W`.
        warmup_steps: warm-up length :math:`W \ge 0`.
        total_steps: step :math:`T > W` at which the decay reaches ``min_lr``.
        min_lr: final learning rate :math:`\eta_{\min} \ge 0`.
        start_factor: :math:`f_0 \in [0, 1]`, fraction of ``base_lr`` at step 0.

    Returns:
        A function ``step -> lr``.

    Raises:
        ValueError: on negative rates or lengths, ``total_steps <= warmup_steps``, or
            ``start_factor`` outside ``[0, 1]``.
    """
    lr, warm, start = _check_warmup(base_lr, warmup_steps, start_factor)
    total = _check_total(total_steps, warm)
    floor = check_number("min_lr", min_lr, low=0.0)
    decay = total - warm

    def schedule(step: int) -> float:
        check_step(step)
        if step < warm:
            return _ramp(lr, warm, start, step)
        return floor + (lr - floor) * cosine_factor(min(step - warm, decay), decay)

    return schedule


def warmup_linear_schedule(
    base_lr: float,
    warmup_steps: int,
    total_steps: int,
    end_lr: float = 0.0,
    start_factor: float = 0.0,
) -> Schedule:
    r"""Linear warm-up to ``base_lr``, linear decay to ``end_lr`` at ``total_steps``, then hold.

    .. math::
        \eta_t = \begin{cases}
            \eta_0 \left(f_0 + (1 - f_0)\, t / W\right) & t < W \\
            \eta_0 + (\eta_{\text{end}} - \eta_0) \dfrac{t - W}{T - W} & W \le t \le T \\
            \eta_{\text{end}} & t > T
        \end{cases}

    Hugging Face's ``get_linear_schedule_with_warmup`` (BERT's recipe) is the case
    ``end_lr = 0``, ``start_factor = 0``.

    Args:
        base_lr: peak learning rate :math:`\eta_0 \ge 0`, reached at step :math:`W`.
        warmup_steps: warm-up length :math:`W \ge 0`.
        total_steps: step :math:`T > W` at which the decay reaches ``end_lr``.
        end_lr: final learning rate :math:`\eta_{\text{end}} \ge 0`.
        start_factor: :math:`f_0 \in [0, 1]`, fraction of ``base_lr`` at step 0.

    Returns:
        A function ``step -> lr``.

    Raises:
        ValueError: on negative rates or lengths, ``total_steps <= warmup_steps``, or
            ``start_factor`` outside ``[0, 1]``.
    """
    lr, warm, start = _check_warmup(base_lr, warmup_steps, start_factor)
    total = _check_total(total_steps, warm)
    end = check_number("end_lr", end_lr, low=0.0)
    decay = total - warm

    def schedule(step: int) -> float:
        check_step(step)
        if step < warm:
            return _ramp(lr, warm, start, step)
        return lr + (end - lr) * min(step - warm, decay) / decay

    return schedule
