"""Tiny data sets, models and a reference loop shared by the training tests."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import Dataset, TensorDataset

from course_lib.train import epoch_permutation


class XYDataset(Dataset):
    """Like ``course_lib.data.Split``: in-memory tensors exposed as ``.x`` and ``.y``."""

    def __init__(self, x: Tensor, y: Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.x[i], self.y[i]


class ItemDataset(Dataset):
    """A dataset with no tensor attributes: fit must fall back to a DataLoader."""

    def __init__(self, x: Tensor, y: Tensor) -> None:
        self._pairs = list(zip(x, y, strict=True))

    def __len__(self) -> int:
        return len(self._pairs)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self._pairs[i]


def regression_data(n: int = 100, d: int = 3, seed: int = 0) -> TensorDataset:
    """y = x w + 0.1 noise, with y of shape (n, 1)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    w = torch.randn(d, 1, generator=g)
    return TensorDataset(x, x @ w + 0.1 * torch.randn(n, 1, generator=g))


def classification_data(n: int = 120, d: int = 4, classes: int = 3, seed: int = 0) -> XYDataset:
    """Gaussian blobs: class c centred at 2 e_c."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    x = torch.randn(n, d, generator=g)
    x[torch.arange(n), y] += 2.0
    return XYDataset(x, y)


def dropout_mlp(d: int = 4, classes: int = 3, seed: int = 0) -> nn.Module:
    """Linear-ReLU-Dropout-Linear: its training consumes random numbers every step."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, classes))


def linear(d: int = 3, seed: int = 0) -> nn.Module:
    """A linear regression model with seeded initial weights."""
    torch.manual_seed(seed)
    return nn.Linear(d, 1)


def reference_loop(
    model: nn.Module,
    data: TensorDataset,
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    batch_size: int,
    seed: int = 0,
    loss_fn=F.mse_loss,
    clip_grad_norm: float | None = None,
) -> None:
    """The hand-written loop fit must match: same batch order, same update."""
    x, y = data.tensors
    for epoch in range(epochs):
        order = epoch_permutation(len(x), seed, epoch)
        for start in range(0, len(x), batch_size):
            index = order[start : start + batch_size]
            loss = loss_fn(model(x[index]), y[index])
            optimizer.zero_grad()
            loss.backward()
            if clip_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
            optimizer.step()


def assert_same_weights(a: nn.Module, b: nn.Module) -> None:
    """Bit-for-bit equality of every parameter and buffer."""
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), f"{key} differs"


def sgd(lr: float = 0.05, momentum: float = 0.9):
    """An optimizer factory."""
    return lambda params: torch.optim.SGD(params, lr=lr, momentum=momentum)
