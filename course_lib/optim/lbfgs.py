r"""L-BFGS: a quasi-Newton method that keeps only the last few curvature pairs.

BFGS maintains an approximation :math:`H_k \approx \nabla^2 f(x_k)^{-1}` and steps along
:math:`d_k = -H_k g_k`. L-BFGS never forms :math:`H_k`: it stores the last :math:`m` pairs

.. math::

    s_i = x_{i+1} - x_i, \qquad y_i = g_{i+1} - g_i, \qquad \rho_i = 1 / (y_i^\top s_i),

and computes :math:`H_k g_k` with the *two-loop recursion* (Nocedal & Wright, Alg. 7.4) from the
initial matrix :math:`H_k^0 = \gamma_k I`, :math:`\gamma_k = s_{k-1}^\top y_{k-1} /
y_{k-1}^\top y_{k-1}` (N&W eq. 7.20), in :math:`O(mn)` time. A pair is stored only if
:math:`y^\top s > 10^{-10}`: the curvature condition that keeps :math:`H_k` positive definite
(with the strong Wolfe line search it holds automatically; with fixed steps it may not).

The functional core is :class:`LBFGSHistory` (typed, immutable), :func:`push_pair` and
:func:`two_loop`. :class:`LBFGS` has the arguments and the ``step(closure)`` contract of
``torch.optim.LBFGS`` and keeps its state under torch's key names; without a line search it
follows torch's trajectory. With ``line_search_fn="strong_wolfe"`` it uses
:func:`course_lib.optim.line_search.strong_wolfe`, whose safeguards differ from torch's, so the
iterates differ in detail while both satisfy the strong Wolfe conditions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor

from course_lib.optim.base import ParamsT
from course_lib.optim.flat import add_to_params, flat_grad, flat_params, set_params
from course_lib.optim.line_search import strong_wolfe
from course_lib.optim.validation import check_non_negative, check_positive_int

__all__ = ["LBFGS", "LBFGSHistory", "initial_scaling", "push_pair", "two_loop"]

LINE_SEARCHES: tuple[str | None, ...] = (None, "strong_wolfe")
# Smallest y^T s for which a pair is stored (the same absolute threshold as torch).
CURVATURE_EPS = 1e-10


class LBFGSHistory(NamedTuple):
    """The last ``m`` curvature pairs, oldest first.

    Attributes:
        s: steps :math:`s_i = x_{i+1} - x_i` (flat tensors).
        y: gradient changes :math:`y_i = g_{i+1} - g_i`.
        rho: :math:`\\rho_i = 1 / (y_i^\\top s_i)`.
    """

    s: tuple[Tensor, ...] = ()
    y: tuple[Tensor, ...] = ()
    rho: tuple[float, ...] = ()


def push_pair(history: LBFGSHistory, s: Tensor, y: Tensor, history_size: int) -> LBFGSHistory:
    """The history with ``(s, y)`` appended (dropping the oldest beyond ``history_size``).

    The pair is skipped, and ``history`` returned unchanged, if :math:`y^\\top s \\le 10^{-10}`.
    """
    ys = float(y.dot(s))
    if ys <= CURVATURE_EPS:
        return history
    first = max(len(history.s) + 1 - history_size, 0)  # the oldest pair that survives
    return LBFGSHistory(
        s=(*history.s[first:], s), y=(*history.y[first:], y), rho=(*history.rho[first:], 1.0 / ys)
    )


def initial_scaling(history: LBFGSHistory) -> float:
    r""":math:`\gamma = s^\top y / y^\top y` of the newest pair (1 with an empty history)."""
    if not history.s:
        return 1.0
    s, y = history.s[-1], history.y[-1]
    return float(s.dot(y)) / float(y.dot(y))


def two_loop(grad: Tensor, history: LBFGSHistory) -> Tensor:
    r""":math:`H_k g` by the two-loop recursion (Nocedal & Wright, Algorithm 7.4).

    .. math::

        &q \leftarrow g;\quad \text{for } i = k-1, \dots, k-m:\;
            a_i = \rho_i s_i^\top q,\; q \leftarrow q - a_i y_i \\
        &r \leftarrow \gamma_k q;\quad \text{for } i = k-m, \dots, k-1:\;
            b = \rho_i y_i^\top r,\; r \leftarrow r + (a_i - b) s_i

    Args:
        grad: the flat gradient :math:`g`.
        history: the stored pairs.

    Returns:
        :math:`r = H_k g` (a new tensor); the L-BFGS direction is its negative.
    """
    q = grad.clone()
    a = [0.0] * len(history.s)
    for i in reversed(range(len(history.s))):  # newest to oldest
        a[i] = history.rho[i] * float(history.s[i].dot(q))
        q.add_(history.y[i], alpha=-a[i])
    r = q.mul_(initial_scaling(history))
    for i in range(len(history.s)):  # oldest to newest
        b = history.rho[i] * float(history.y[i].dot(r))
        r.add_(history.s[i], alpha=a[i] - b)
    return r


class LBFGS(torch.optim.Optimizer):
    """L-BFGS with torch.optim.LBFGS's arguments, own two-loop recursion and line search.

    One call of :meth:`step` runs up to ``max_iter`` iterations (and ``max_eval`` closure calls),
    stopping early when :math:`\\max_i |g_i| \\le` ``tolerance_grad``, when the step
    :math:`\\max_i |t d_i|` or the change in loss falls below ``tolerance_change``, or when the
    direction is no longer a descent direction. The history carries over between calls.

    Args:
        params: the parameters (one group only: the method works on their concatenation).
        lr: step length; without a line search every step is ``lr`` times the L-BFGS direction
            (the very first is scaled by ``min(1, 1/||g||_1)``); with one, the initial trial step.
        max_iter: most iterations per :meth:`step`.
        max_eval: most closure calls per :meth:`step` (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when the largest gradient entry is at most this.
        tolerance_change: stop when the step or the change in loss is below this; the line
            search also stops zooming once its bracket is that narrow (in parameter units).
        history_size: number of curvature pairs kept (``m``).
        line_search_fn: ``None`` (fixed steps) or ``"strong_wolfe"``.

    Raises:
        ValueError: on an invalid argument, several parameter groups or complex parameters.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        check_non_negative("lr", lr)
        check_positive_int("max_iter", max_iter)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        check_positive_int("max_eval", max_eval)
        check_non_negative("tolerance_grad", tolerance_grad)
        check_non_negative("tolerance_change", tolerance_change)
        check_positive_int("history_size", history_size)
        if line_search_fn not in LINE_SEARCHES:
            raise ValueError(
                f"Invalid line_search_fn value: {line_search_fn!r}; choose one of {LINE_SEARCHES}"
            )
        defaults = {
            "lr": lr,
            "max_iter": max_iter,
            "max_eval": max_eval,
            "tolerance_grad": tolerance_grad,
            "tolerance_change": tolerance_change,
            "history_size": history_size,
            "line_search_fn": line_search_fn,
        }
        super().__init__(params, defaults)
        self._params: list[Tensor] = self.param_groups[0]["params"]
        if any(torch.is_complex(p) for p in self._params):
            raise ValueError("LBFGS here supports real parameters only")

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add the (only) group; a second one is an error, as in torch."""
        if self.param_groups:
            raise ValueError(
                "LBFGS supports a single parameter group (no per-parameter options): it works "
                "on all parameters concatenated into one vector"
            )
        super().add_param_group(param_group)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any]) -> Any:  # type: ignore[override]
        """Run up to ``max_iter`` L-BFGS iterations.

        Args:
            closure: clears the gradients, computes the loss, calls ``backward`` and returns the
                loss. Required: every iteration re-evaluates the function.

        Returns:
            The loss the first closure call returned (before any update).

        Raises:
            TypeError: if ``closure`` is missing.
        """
        if closure is None or not callable(closure):
            raise TypeError(
                "LBFGS.step needs a closure that re-evaluates the loss and its gradient, e.g. "
                "def closure(): opt.zero_grad(); loss = f(); loss.backward(); return loss"
            )
        evaluate = torch.enable_grad()(closure)
        group = self.param_groups[0]
        lr = float(group["lr"])
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]

        # Like torch: the state is global, kept under the first parameter so that state_dict
        # and load_state_dict carry it (and cast its tensors) like any per-parameter state.
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        first_loss = evaluate()
        loss = float(first_loss)
        evals = 1
        state["func_evals"] += 1
        g = flat_grad(self._params)
        if g.abs().max() <= tol_grad:
            return first_loss

        history = LBFGSHistory(
            tuple(state.get("old_stps", ())),
            tuple(state.get("old_dirs", ())),
            tuple(float(r) for r in state.get("ro", ())),  # torch keeps 0-d tensors
        )
        d, t = state.get("d"), state.get("t")
        prev_g, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        for it in range(1, max_iter + 1):
            state["n_iter"] += 1
            if state["n_iter"] > 1:  # the last step and gradient change make a new pair
                history = push_pair(history, d.mul(t), g.sub(prev_g), history_size)
            d = two_loop(g, history).neg_()
            prev_g, prev_loss = g, loss
            # The first step of all has no curvature information: keep it short, at most 1/|g|_1.
            t = lr * (min(1.0, 1.0 / float(g.abs().sum())) if state["n_iter"] == 1 else 1.0)
            gtd = float(g.dot(d))
            if gtd > -tol_change:  # not (enough of) a descent direction
                break

            if group["line_search_fn"] == "strong_wolfe":
                x0 = flat_params(self._params)

                def phi(
                    alpha: float, x0: Tensor = x0, d: Tensor = d
                ) -> tuple[float, float, Tensor]:
                    set_params(self._params, x0, alpha, d)
                    value = float(evaluate())
                    grad = flat_grad(self._params)
                    return value, float(grad.dot(d)), grad

                result = strong_wolfe(
                    phi, loss, gtd, g, t,
                    max_evals=max(max_eval - evals, 1),
                    min_width=tol_change / float(d.abs().max()),
                )  # fmt: skip
                t, loss, g, used = result.step, result.value, result.payload, result.evaluations
                set_params(self._params, x0, t, d)  # the accepted point (the last trial may differ)
            else:
                add_to_params(self._params, d, t)
                used = 0
                if it != max_iter:  # torch skips this evaluation on the last iteration
                    loss = float(evaluate())
                    g = flat_grad(self._params)
                    used = 1
            evals += used
            state["func_evals"] += used

            if it == max_iter or evals >= max_eval:
                break
            if g.abs().max() <= tol_grad:
                break
            if float(d.mul(t).abs().max()) <= tol_change or abs(loss - prev_loss) < tol_change:
                break

        state.update(
            d=d, t=t, prev_flat_grad=prev_g, prev_loss=prev_loss,
            old_stps=list(history.s), old_dirs=list(history.y), ro=list(history.rho),
            H_diag=initial_scaling(history),
        )  # fmt: skip
        return first_loss
