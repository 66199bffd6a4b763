"""The class shell every course_lib optimizer shares.

torch.optim.Optimizer already owns ``param_groups``, ``state``, ``zero_grad`` and the
``state_dict`` machinery. What it leaves to each optimizer is the step itself; here we add the
parts of the step that are the same for all of ours:

* the closure is re-evaluated with gradients enabled (as torch does),
* each group's parameters that have a gradient are collected (a parameter whose ``grad`` is
  ``None`` is skipped, exactly like torch, so it keeps its value and gets no state),
* the group is handed to :meth:`CourseOptimizer._step_group`, which the subclass writes.

The subclass chooses between the two implementations of its functional core with ``self.impl``:

* ``"readable"``: a loop over tensors, one update per tensor, written like the book's equations;
* ``"foreach"``: the same maths on whole lists of tensors with ``torch._foreach_*`` kernels
  (one kernel launch per operation for all tensors), the fast path every optimizer has;
* ``"compiled"``: where a class lists it in :attr:`CourseOptimizer.impls`, each tensor's update
  fused into one loop by ``torch.compile`` (see :mod:`course_lib.optim.compiled`).

State is kept in ``self.state[p]`` under torch's own key names (``step``, ``exp_avg``, ...), so a
state_dict saved by ours loads into torch's class of the same name and the other way round.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Literal

import torch

Impl = Literal["readable", "foreach", "compiled"]
IMPLS: tuple[str, ...] = ("readable", "foreach", "compiled")

ParamsT = Iterable[torch.Tensor] | Iterable[dict[str, Any]]


class CourseOptimizer(torch.optim.Optimizer):
    """Base class: closure handling, parameter collection and implementation choice.

    Args:
        params: parameters or parameter groups, as for any ``torch.optim.Optimizer``.
        defaults: hyperparameter defaults, already validated by the subclass.
        impl: ``"readable"`` (per-tensor loop), ``"foreach"`` (multi-tensor kernels) or, where
            the class offers it, ``"compiled"``.

    Raises:
        ValueError: if the class does not offer ``impl``.
    """

    #: The implementations this class offers.
    impls: ClassVar[tuple[str, ...]] = ("readable", "foreach")

    def __init__(self, params: ParamsT, defaults: dict[str, Any], impl: Impl = "readable") -> None:
        if impl not in self.impls:
            raise ValueError(
                f"impl={impl!r} is not available for {type(self).__name__}; "
                f"choose one of {self.impls}"
            )
        self.impl: Impl = impl
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        """Perform one optimisation step.

        Args:
            closure: re-evaluates the model and returns the loss (optional for every optimizer
                here; it is evaluated once, before the update, with gradients enabled).

        Returns:
            The closure's loss, or ``None`` without a closure.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            for p in params:
                if p.grad.is_sparse:
                    raise RuntimeError(
                        f"{type(self).__name__} does not support sparse gradients; "
                        "use a dense embedding (sparse=False) or torch.optim.SparseAdam"
                    )
            self._step_group(group, params)
        return loss

    def _step_group(self, group: dict[str, Any], params: list[torch.Tensor]) -> None:
        """Update ``params`` (all of which have a gradient) using ``group``'s hyperparameters."""
        raise NotImplementedError


def use_foreach(impl: str, params: list[torch.Tensor]) -> bool:
    """Whether the foreach kernels may run: they need every tensor on one device and dtype.

    Mixed groups fall back to the readable path, which gives the same numbers. The compiled
    path uses the foreach kernels for steps its kernels do not cover (state being created).
    """
    if impl not in ("foreach", "compiled"):
        return False
    first = params[0]
    return all(p.device == first.device and p.dtype == first.dtype for p in params)
