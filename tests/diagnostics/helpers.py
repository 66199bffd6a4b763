"""Small float64 networks and losses shared by the diagnostics tests."""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.diagnostics import functional_loss


def small_mlp(seed: int = 0, sizes: tuple[int, ...] = (6, 16, 8, 3)) -> nn.Sequential:
    """A tanh MLP in float64 (275 parameters with the default sizes)."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers).double()


def regression_problem(seed: int = 0, n: int = 32):
    """A small MLP, an MSE loss on a fixed batch, and ``(loss_fn, params)`` for the Hessian."""
    model = small_mlp(seed)
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(n, 6, generator=gen, dtype=torch.float64)
    y = torch.randn(n, 3, generator=gen, dtype=torch.float64)

    def loss_of(m: nn.Module) -> torch.Tensor:
        return F.mse_loss(m(x), y)

    loss_fn, params = functional_loss(model, loss_of)
    return model, loss_of, loss_fn, params


def assembled_hessian(loss_fn, params) -> torch.Tensor:
    """The dense Hessian from torch.autograd.functional.hessian's blocks (the reference)."""
    blocks = torch.autograd.functional.hessian(loss_fn, tuple(params), vectorize=True)
    sizes = [p.numel() for p in params]
    rows = [
        torch.cat([blocks[i][j].reshape(sizes[i], sizes[j]) for j in range(len(params))], dim=1)
        for i in range(len(params))
    ]
    return torch.cat(rows, dim=0)
