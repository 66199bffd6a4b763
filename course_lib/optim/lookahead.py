r"""Lookahead: slow weights that follow the fast weights of any inner optimizer.

Zhang, Lucas, Hinton and Ba, "Lookahead Optimizer: k steps forward, 1 step back", NeurIPS 2019
(arXiv:1907.08610), Algorithm 1. The inner ("fast") optimizer takes ``k`` ordinary steps; then the
slow weights move a fraction ``alpha`` of the way towards where the fast weights ended up, and the
fast weights restart from there.

:class:`Lookahead` wraps an existing optimizer instead of re-implementing one, so it works with
course_lib's optimizers and torch's alike. It *shares* the inner optimizer's ``param_groups`` (and
``state``), which is what lets a ``torch.optim.lr_scheduler`` scheduler drive it: the scheduler
writes ``group["lr"]`` into the very dicts the inner optimizer reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from course_lib.optim.validation import check_positive_int, check_unit_interval

__all__ = ["Lookahead", "lookahead_sync"]


def lookahead_sync(params: list[Tensor], slow: list[Tensor], alpha: float) -> None:
    r"""The synchronisation step, in place: :math:`\phi \leftarrow \phi + \alpha(\theta - \phi)`,
    then :math:`\theta \leftarrow \phi`.

    Args:
        params: the fast weights :math:`\theta` (the model's parameters).
        slow: the slow weights :math:`\phi`, one tensor per parameter, same shapes.
        alpha: the slow-weights step size :math:`\alpha \in [0, 1]`.
    """
    with torch.no_grad():
        for theta, phi in zip(params, slow, strict=True):
            phi.add_(theta - phi, alpha=alpha)
            theta.copy_(phi)


class Lookahead(torch.optim.Optimizer):
    r"""Lookahead wrapper around any optimizer (Zhang et al., 2019, Algorithm 1).

    With fast weights :math:`\theta` updated by the inner optimizer :math:`A` and slow weights
    :math:`\phi_0 = \theta_0` (a copy of the parameters when the wrapper is built):

    .. math::

        \theta_{t,0} &= \phi_{t-1}, \\
        \theta_{t,i} &= \theta_{t,i-1} + A(\theta_{t,i-1}), \qquad i = 1, \dots, k, \\
        \phi_t &= \phi_{t-1} + \alpha\,(\theta_{t,k} - \phi_{t-1}).

    In terms of calls: every call of :meth:`step` is one inner step; every ``k``-th call is followed
    by the synchronisation, after which the parameters equal the new slow weights. The inner
    optimizer's state (momentum, Adam moments) is kept across synchronisations, as in the paper.

    The wrapper shares ``param_groups`` and ``state`` with the inner optimizer (they are
    properties that read and write the inner optimizer's), so learning-rate schedulers, gradient
    scalers and anything that reads ``state[p]`` see the inner optimizer. ``k`` and ``alpha`` are
    global (not per group), as in the paper; the step counter is global too, so a group added
    with :meth:`add_param_group` synchronises on the same steps as the others, its slow weights
    starting at its values when it was added.

    Args:
        optimizer: the inner optimizer (any ``torch.optim.Optimizer``).
        k: number of inner steps between synchronisations, an integer :math:`\ge 1`.
        alpha: slow-weights step size in :math:`[0, 1]`; ``k=1, alpha=1`` is the inner optimizer.

    Raises:
        TypeError: if ``optimizer`` is not a ``torch.optim.Optimizer``.
        ValueError: if ``k`` or ``alpha`` is out of range (the message names the argument).

    Example:
        >>> w = torch.nn.Parameter(torch.ones(3))
        >>> opt = Lookahead(torch.optim.SGD([w], lr=0.1), k=5, alpha=0.5)
        >>> sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10)
    """

    def __init__(self, optimizer: torch.optim.Optimizer, k: int = 5, alpha: float = 0.5) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"Lookahead wraps a torch.optim.Optimizer, got {type(optimizer).__name__}"
            )
        check_positive_int("k", k)
        check_unit_interval("alpha", alpha, closed_right=True)
        self.optimizer = optimizer
        self.k = k
        self.alpha = float(alpha)
        self.inner_steps = 0  # inner steps taken since construction (synchronise when % k == 0)
        # Slow weights phi, keyed by parameter; phi_0 is a copy of the *initial* parameters.
        self.slow_weights: dict[Tensor, Tensor] = {
            p: p.detach().clone() for group in optimizer.param_groups for p in group["params"]
        }
        # Optimizer.__init__ would build param groups of its own; we share the inner optimizer's,
        # so we only set up what it adds besides (hook registries, the profiled step), which is
        # exactly what Optimizer.__setstate__ does for an unpickled optimizer. The defaults are a
        # copy of the inner's so that OneCycleLR finds "momentum"/"betas" in them.
        super().__setstate__({"defaults": {**optimizer.defaults, "k": k, "alpha": self.alpha}})

    # The inner optimizer replaces its param_groups list and state dict in load_state_dict, so
    # they are read through, not copied once.
    @property
    def param_groups(self) -> list[dict[str, Any]]:  # type: ignore[override]
        """The inner optimizer's parameter groups (the same list and dicts)."""
        return self.optimizer.param_groups

    @param_groups.setter
    def param_groups(self, value: list[dict[str, Any]]) -> None:
        self.optimizer.param_groups = value

    @property
    def state(self) -> Any:  # type: ignore[override]
        """The inner optimizer's per-parameter state (slow weights are in ``slow_weights``)."""
        return self.optimizer.state

    @state.setter
    def state(self, value: Any) -> None:
        self.optimizer.state = value

    def __getstate__(self) -> dict[str, Any]:
        # Optimizer.__getstate__ keeps only defaults/state/param_groups; copy.deepcopy and pickle
        # need the wrapper's own attributes too.
        return {
            "defaults": self.defaults,
            "optimizer": self.optimizer,
            "k": self.k,
            "alpha": self.alpha,
            "inner_steps": self.inner_steps,
            "slow_weights": self.slow_weights,
        }

    def __repr__(self) -> str:
        return f"Lookahead(k={self.k}, alpha={self.alpha}, optimizer={self.optimizer!r})"

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One inner step, followed by the synchronisation on every ``k``-th call.

        Args:
            closure: passed to the inner optimizer's ``step`` unchanged.

        Returns:
            Whatever the inner optimizer's ``step`` returns (the closure's loss, or ``None``).
        """
        loss = self.optimizer.step() if closure is None else self.optimizer.step(closure)
        self.inner_steps += 1
        if self.inner_steps % self.k == 0:
            params = [p for group in self.param_groups for p in group["params"]]
            lookahead_sync(params, [self.slow_weights[p] for p in params], self.alpha)
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients through the inner optimizer (it knows its own foreach setting)."""
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group to the inner optimizer; its slow weights start at its current values."""
        self.optimizer.add_param_group(param_group)
        for p in self.param_groups[-1]["params"]:
            self.slow_weights[p] = p.detach().clone()

    def state_dict(self) -> dict[str, Any]:
        """The inner optimizer's state dict plus the slow weights and the step counter.

        Slow weights are listed in parameter order (group by group), like torch's own state dicts
        refer to parameters by position rather than by identity.
        """
        params = [p for group in self.param_groups for p in group["params"]]
        return {
            "inner": self.optimizer.state_dict(),
            "slow_weights": [self.slow_weights[p].clone() for p in params],
            "inner_steps": self.inner_steps,
            "k": self.k,
            "alpha": self.alpha,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved: inner state, slow weights, counter, k, alpha.

        Raises:
            ValueError: if the number of saved slow weights does not match the parameters.
        """
        self.optimizer.load_state_dict(state_dict["inner"])
        params = [p for group in self.param_groups for p in group["params"]]
        saved = state_dict["slow_weights"]
        if len(saved) != len(params):
            raise ValueError(
                f"the state dict has {len(saved)} slow weights but the optimizer has "
                f"{len(params)} parameters"
            )
        # Like torch's load_state_dict: the saved tensors take the parameter's dtype and device.
        self.slow_weights = {
            p: s.detach().to(dtype=p.dtype, device=p.device).clone()
            for p, s in zip(params, saved, strict=True)
        }
        self.inner_steps = int(state_dict["inner_steps"])
        check_positive_int("k", state_dict["k"])
        check_unit_interval("alpha", state_dict["alpha"], closed_right=True)
        self.k = state_dict["k"]
        self.alpha = float(state_dict["alpha"])
