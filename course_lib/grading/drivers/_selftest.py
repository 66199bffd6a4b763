"""Drivers of the grading engine's own fixture assignment (tests/grading/fixtures)."""

from __future__ import annotations

from typing import Any

import torch


def loss_gradient(namespace: dict[str, Any], *, fn: str, pred: torch.Tensor, target: torch.Tensor):
    """d fn(pred, target) / d pred."""
    x = pred.clone().requires_grad_(True)
    namespace[fn](x, target).backward()
    return x.grad


def run_optimizer(
    namespace: dict[str, Any], *, cls: str, grads: torch.Tensor, lr: float, momentum: float
) -> list[dict[str, Any]]:
    """Feed fixed gradients to the student's optimizer; params and state after each step."""
    p = torch.nn.Parameter(torch.zeros(grads.shape[1], dtype=torch.float64))
    opt = namespace[cls]([p], lr=lr, momentum=momentum)
    out = []
    for g in grads:
        p.grad = g.clone()
        opt.step()
        buf = opt.state[p].get("momentum_buffer")
        buf = None if buf is None else buf.detach().clone()
        out.append({"param": p.detach().clone(), "momentum_buffer": buf})
    return out
