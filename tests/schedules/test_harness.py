"""The comparison harness must be able to fail: a wrong scheduler is caught, with the step."""

import pytest
import torch

from course_lib.schedules import CyclicLR, StepLR
from tests.schedules.compare import compare, compare_resume


def test_identical_schedulers_agree():
    compare(
        lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5),
        lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5),
        steps=10,
        reload_at=4,
    )


def test_a_different_gamma_is_caught_at_the_first_decay():
    with pytest.raises(AssertionError, match="lr\\(\\) differs at step 3"):
        compare(
            lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5),
            lambda o: StepLR(o, 3, 0.5 + 1e-9),
            steps=10,
        )


def test_a_different_momentum_is_caught():
    with pytest.raises(AssertionError, match="momentum differs"):
        compare(
            lambda o: torch.optim.lr_scheduler.CyclicLR(o, 0.01, 0.1, step_size_up=4),
            lambda o: CyclicLR(o, 0.01, 0.1, step_size_up=4, max_momentum=0.91),
            steps=10,
        )


def test_a_lost_state_is_caught_after_reloading():
    class Forgetful(StepLR):
        def load_state_dict(self, state_dict):
            pass  # keeps last_epoch = 0

    with pytest.raises(AssertionError, match="differs"):
        compare(
            lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5),
            lambda o: Forgetful(o, 3, 0.5),
            steps=10,
            reload_at=4,
        )


def test_a_wrong_resume_is_caught():
    class FreshOnResume(torch.optim.lr_scheduler.StepLR):
        def __init__(self, optimizer, step_size, gamma, last_epoch):
            super().__init__(optimizer, step_size, gamma, last_epoch)
            self.last_epoch = 0  # forgets where it was

    with pytest.raises(AssertionError, match="differs"):
        compare_resume(
            lambda o, e: torch.optim.lr_scheduler.StepLR(o, 3, 0.5, e),
            lambda o, e: FreshOnResume(o, 3, 0.5, e),
            last_epoch=4,
            steps=6,
        )
