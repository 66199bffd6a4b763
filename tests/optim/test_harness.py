"""The comparison harness itself must be able to fail: a wrong optimizer is caught."""

import pytest
import torch

from tests.optim.trajectory import assert_same_trajectory, make_params, param_groups


def test_identical_optimizers_agree():
    groups = param_groups(make_params(), "two", [{}, {"lr": 1e-3}])
    assert_same_trajectory(
        lambda g: torch.optim.SGD(g, lr=0.1, momentum=0.9),
        lambda g: torch.optim.SGD(g, lr=0.1, momentum=0.9),
        groups,
        reload_at=4,
        use_closure=True,
    )


def test_a_different_hyperparameter_is_caught():
    groups = param_groups(make_params(), "one")
    with pytest.raises(AssertionError, match="differs"):
        assert_same_trajectory(
            lambda g: torch.optim.SGD(g, lr=0.1, momentum=0.9),
            lambda g: torch.optim.SGD(g, lr=0.1, momentum=0.9, dampening=0.1),
            groups,
        )


def test_frozen_parameter_has_no_gradient_and_zero_parameter_has_zero_gradient():
    params = make_params()
    from tests.optim.trajectory import objective

    objective(params, 0).backward()
    assert params["frozen"].grad is None
    assert torch.equal(params["zero"].grad, torch.zeros(4, dtype=torch.float64))
    assert params["weight"].grad.abs().sum() > 0
