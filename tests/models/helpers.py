"""Small helpers shared by the model tests."""

import torch
from torch import nn


def assert_trains(model: nn.Module, x: torch.Tensor, num_classes: int) -> torch.Tensor:
    """One forward and backward pass: logits ``(N, num_classes)``, finite, and every parameter
    that took part gets a finite gradient. Returns the logits."""
    model.train()
    logits = model(x)
    assert logits.shape == (x.shape[0], num_classes)
    assert torch.isfinite(logits).all()
    target = torch.arange(x.shape[0]) % num_classes
    nn.functional.cross_entropy(logits, target).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{name} has a non-finite gradient"
    return logits


def same_state(a: nn.Module, b: nn.Module) -> bool:
    """True when two models have identical state dicts (keys and values)."""
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
