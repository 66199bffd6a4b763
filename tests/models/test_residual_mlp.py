"""Plain and residual twins: same weights, skips only, and a block's Jacobian is I + J_f."""

import pytest
import torch

from course_lib.models import ResidualBlock, ResidualMLP


def test_twins_share_every_weight_and_differ_only_in_the_skips():
    torch.manual_seed(0)
    plain = ResidualMLP(10, 3, depth=4, width=16, residual=False)
    torch.manual_seed(0)
    residual = ResidualMLP(10, 3, depth=4, width=16, residual=True)
    for (name_a, a), (name_b, b) in zip(
        plain.state_dict().items(), residual.state_dict().items(), strict=True
    ):
        assert name_a == name_b and torch.equal(a, b)
    x = torch.randn(5, 10)
    # Written out by hand from the weights: h = stem(x), then relu(W h + b) [+ h] per block.
    for model, skip in ((plain, False), (residual, True)):
        h = x @ model.stem.weight.T + model.stem.bias
        for block in model.blocks:
            out = torch.relu(h @ block.linear.weight.T + block.linear.bias)
            h = h + out if skip else out
        expected = h @ model.head.weight.T + model.head.bias
        assert torch.allclose(model(x), expected, atol=1e-6)


def test_parameter_count_matches_the_formula():
    n_in, n_out, depth, width = 7, 4, 5, 12
    model = ResidualMLP(n_in, n_out, depth=depth, width=width)
    expected = (n_in + 1) * width + depth * (width + 1) * width + (width + 1) * n_out
    assert sum(p.numel() for p in model.parameters()) == expected


def test_residual_block_jacobian_is_identity_plus_the_branch_jacobian():
    torch.manual_seed(1)
    block = ResidualBlock(6, "tanh", residual=True).double()
    h = torch.randn(6, dtype=torch.float64)
    full = torch.autograd.functional.jacobian(lambda v: block(v.unsqueeze(0)).squeeze(0), h)
    branch = torch.autograd.functional.jacobian(
        lambda v: torch.tanh(block.linear(v.unsqueeze(0))).squeeze(0), h
    )
    assert torch.allclose(full, torch.eye(6, dtype=torch.float64) + branch, atol=1e-12)


def test_init_schemes_apply_and_bad_sizes_are_refused():
    model = ResidualMLP(8, 2, depth=3, width=32, activation="relu", init="he")
    w = torch.cat([b.linear.weight.flatten() for b in model.blocks])
    assert w.var().item() == pytest.approx(2 / 32, rel=0.15)  # He: Var W = 2 / fan_in
    with pytest.raises(ValueError, match="width"):
        ResidualMLP(8, 2, width=0)
