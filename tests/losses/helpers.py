"""Comparison harness for the loss tests: same value, same gradient, float64, rtol 1e-10.

Gradients are compared as vector-Jacobian products with a random upstream gradient ``v`` (not
just the gradient of ``.sum()``), so a ``'none'`` reduction is checked element by element.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

RTOL = 1e-10
# Values and gradients are O(1); an absolute floor only matters for entries that are 0 in one
# computation and a rounding residue (~1e-17) in the other.
ATOL = 1e-12


def leaf(t: torch.Tensor) -> torch.Tensor:
    """A float64 leaf tensor that requires grad."""
    return t.detach().to(torch.float64).clone().requires_grad_(True)


def assert_same_value_and_grad(
    ours: Callable[[], torch.Tensor],
    reference: Callable[[], torch.Tensor],
    wrt: Sequence[torch.Tensor],
    *,
    rtol: float = RTOL,
    atol: float = ATOL,
    seed: int = 0,
) -> None:
    """Assert equal values (shape, dtype, numbers, NaN where NaN) and equal VJPs w.r.t. ``wrt``."""
    out, expected = ours(), reference()
    assert out.shape == expected.shape, f"value shape {out.shape} differs from {expected.shape}"
    assert out.dtype == expected.dtype, f"value dtype {out.dtype} differs from {expected.dtype}"
    torch.testing.assert_close(
        out, expected, rtol=rtol, atol=atol, equal_nan=True, msg=_msg("value")
    )
    if not wrt:
        return
    assert out.requires_grad == expected.requires_grad, "one side is detached from the inputs"
    if not expected.requires_grad:
        return
    gen = torch.Generator().manual_seed(seed)
    v = torch.randn(expected.shape, generator=gen, dtype=expected.dtype)
    g_ours = torch.autograd.grad(out, wrt, v, allow_unused=True)
    g_ref = torch.autograd.grad(expected, wrt, v, allow_unused=True)
    for i, (a, b, x) in enumerate(zip(g_ours, g_ref, wrt, strict=True)):
        a = torch.zeros_like(x) if a is None else a
        b = torch.zeros_like(x) if b is None else b
        torch.testing.assert_close(
            a, b, rtol=rtol, atol=atol, equal_nan=True, msg=_msg(f"gradient w.r.t. input {i}")
        )


def _msg(what: str) -> Callable[[str], str]:
    return lambda detail: f"{what} differs from the reference:\n{detail}"


def assert_finite_value_and_grad(loss: torch.Tensor, wrt: Sequence[torch.Tensor]) -> None:
    """Assert that ``loss`` and its gradient w.r.t. every tensor in ``wrt`` are finite."""
    assert torch.isfinite(loss).all(), f"loss is not finite: {loss}"
    grads = torch.autograd.grad(loss.sum(), wrt, allow_unused=True)
    for i, g in enumerate(grads):
        assert g is None or torch.isfinite(g).all(), f"gradient w.r.t. input {i} not finite: {g}"
