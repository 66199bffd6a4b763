"""The ``optimizer_shootout`` assignment: its tests pass the solution, fail the release, and
fail exactly the tests that depend on an answer cell when only that cell is wrong.

Submissions are built by editing the instructor notebook's answer cells, run in this process
(the setup cells and answer cells, as the grader runs them) and graded with the engine's runner
through :class:`~course_lib.grading.student.LocalStudentCode`.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.grading.assignment_harness import AssignmentUnderTest

ASSIGNMENT = "optimizer_shootout"
SLOW_TESTS = {"training_momentum", "training_adamw"}

HARNESS = AssignmentUnderTest(ASSIGNMENT, slow_tests=SLOW_TESTS)
load_notebook = HARNESS.load_notebook
answer_source = HARNESS.answer_source
edit = HARNESS.edit
submission = HARNESS.submission
student_for = HARNESS.student_for
suites = HARNESS.suites


def failing(sub: Any, *, only: set[str] | None = None, slow: bool = False) -> dict[str, str]:
    """Name -> message of every failing test (the slow training tests only when asked)."""
    return HARNESS.failing(sub, only=only, include_slow=slow)


def test_suites_match_the_notebook() -> None:
    HARNESS.check_suites_match_the_notebook()
    public, _ = suites()
    assert len(public) <= 5
    assert set(public.forbid) >= {"torch.optim.SGD", "torch.optim.Adam", "course_lib.optim.*"}


def test_solution_passes_every_fast_test() -> None:
    assert failing(submission()) == {}


def test_release_fails_every_fast_test() -> None:
    fails = failing(submission(release=True))
    assert set(fails) == {t.name for s in suites() for t in s} - SLOW_TESTS
    assert "NotImplementedError" in fails["adam_first_steps"]


NESTEROV_AS_MOMENTUM = edit(
    "SGD", 'g = g.add(buf, alpha=mu) if group["nesterov"] else buf', "g = buf"
)
RMSPROP_EPS_INSIDE = edit(
    "RMSprop",
    """                    s = v.addcmul(m, m, value=-1).sqrt_()
                else:
                    s = v.sqrt()
                s = s.add_(group["eps"])""",
    """                    s = v.addcmul(m, m, value=-1).add(group["eps"]).sqrt_()
                else:
                    s = v.add(group["eps"]).sqrt()""",
)
ADAM_NO_BIAS_CORRECTION = edit(
    "Adam", "bias1, bias2 = 1 - beta1**t, 1 - beta2**t", "bias1 = bias2 = 1"
)
ADAMW_AS_L2 = edit(
    "AdamW",
    'p.mul_(1 - group["lr"] * group["weight_decay"])  # decoupled decay',
    'g = g.add(p, alpha=group["weight_decay"])',
)
STATE_BYTES_NUMEL = edit("optimizer_state_bytes", "t.numel() * t.element_size()", "t.numel()")
SGD_NO_VALIDATION = edit(
    "SGD",
    """        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
""",
    "",
)
# A step counter on the optimizer object instead of in its state: lost by state_dict().
ADAM_STEP_ON_SELF = {
    "Adam": answer_source("Adam")
    .replace(
        'for group in self.param_groups:\n            beta1, beta2 = group["betas"]',
        'self.t = getattr(self, "t", 0) + 1\n'
        '        for group in self.param_groups:\n            beta1, beta2 = group["betas"]',
    )
    .replace('state["step"] += 1\n                t = state["step"]', 'state["step"] = t = self.t')
}
ADAM_DELEGATES = {
    "Adam": """
_inner = getattr(__import__("torch"), "optim")


class Adam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, maximize=False):
        if lr < 0 or eps < 0 or weight_decay < 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError("invalid argument")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            opts = {k: v for k, v in group.items() if k != "params"}
            inner = getattr(_inner, "Ad" + "am")(group["params"], **opts)
            inner.state = self.state
            inner.step()
"""
}
ADAMW_IMPORTS_TORCH = {
    "AdamW": "from torch.optim import AdamW as _TorchAdamW\n\n\n"
    "class AdamW(_TorchAdamW):\n    pass\n"
}

WRONG_CELLS = {
    "nesterov_as_plain_momentum": (NESTEROV_AS_MOMENTUM, {"nesterov_trajectory"}),
    "rmsprop_eps_inside_sqrt": (
        RMSPROP_EPS_INSIDE,
        {"rmsprop_first_steps", "rmsprop_trajectory", "rmsprop_centered_momentum"},
    ),
    "adam_without_bias_correction": (
        ADAM_NO_BIAS_CORRECTION,
        {"adam_first_steps", "adam_trajectory", "adam_amsgrad_maximize"},
    ),
    "adamw_as_l2_adam": (ADAMW_AS_L2, {"adamw_first_steps", "adamw_trajectory"}),
    "state_bytes_counts_elements": (STATE_BYTES_NUMEL, {"optimizer_state_bytes_values"}),
    "sgd_accepts_nesterov_without_momentum": (SGD_NO_VALIDATION, {"constructor_contract"}),
    "adam_step_count_on_self": (
        ADAM_STEP_ON_SELF,
        {"adam_trajectory", "adam_amsgrad_maximize"},
    ),
    "adam_delegates_to_torch": (
        ADAM_DELEGATES,
        {
            "adam_first_steps",
            "adam_trajectory",
            "adam_amsgrad_maximize",
            "no_ready_made_optimizers",
        },
    ),
    "adamw_subclasses_torch": (
        ADAMW_IMPORTS_TORCH,
        {"adamw_first_steps", "adamw_trajectory", "no_ready_made_optimizers"},
    ),
}


@pytest.mark.parametrize("variant", WRONG_CELLS)
def test_a_wrong_cell_fails_exactly_its_tests(variant: str) -> None:
    edits, expected = WRONG_CELLS[variant]
    fails = failing(submission(edits))
    assert set(fails) == expected, fails


def test_feedback_names_the_first_step_and_state_variable() -> None:
    fails = failing(submission(ADAM_NO_BIAS_CORRECTION), only={"adam_trajectory"})
    message = fails["adam_trajectory"]
    assert message.count("step 1: the value of parameter 0 (W) differs from torch.optim.Adam")
    assert "bias correction" in message and "max abs diff" in message

    fails = failing(submission(ADAMW_AS_L2), only={"adamw_trajectory"})
    assert "step 1: exp_avg of parameter 0 (W) differs" in fails["adamw_trajectory"]

    fails = failing(submission(NESTEROV_AS_MOMENTUM), only={"nesterov_trajectory"})
    assert "step 1: the value of parameter 0 (W)" in fails["nesterov_trajectory"]

    fails = failing(submission(ADAM_STEP_ON_SELF), only={"adam_trajectory"})
    assert "step 4:" in fails["adam_trajectory"]
    assert "load_state_dict()" in fails["adam_trajectory"]


def test_ready_made_optimizers_are_caught_statically_and_at_run_time() -> None:
    fails = failing(submission(ADAMW_IMPORTS_TORCH), only={"no_ready_made_optimizers"})
    assert "from torch.optim import AdamW" in fails["no_ready_made_optimizers"]
    # Dodges the static check (the name is built at run time): the spy on step() catches it.
    fails = failing(
        submission(ADAM_DELEGATES), only={"no_ready_made_optimizers", "adam_trajectory"}
    )
    assert "called torch.optim.adam.Adam.step" in fails["no_ready_made_optimizers"]
    assert "ready-made optimizer" in fails["adam_trajectory"]


@pytest.mark.slow
def test_training_tests_pass_the_solution_and_fail_the_release() -> None:
    assert failing(submission(), only=SLOW_TESTS, slow=True) == {}
    assert set(failing(submission(release=True), only=SLOW_TESTS, slow=True)) == SLOW_TESTS
