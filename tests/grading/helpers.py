"""Building submissions for the grading tests: a notebook with some answer cells edited."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat

from course_lib.grading.cells import grade_id

FIXTURES = Path(__file__).parent / "fixtures" / "source"

# The fixture's answer cells done right, and plausible wrong versions.
RIGHT = {
    "answer_mse": "def mse(pred, target):\n    return ((pred - target) ** 2).mean()\n",
    "answer_scale": (
        "def scale(x, factor=None):\n    return x * (FACTOR if factor is None else factor)\n"
    ),
}
WRONG = {
    "loss": ("answer_mse", "def mse(pred, target):\n    return ((pred - target) ** 2).sum()\n"),
    "scale": (
        "answer_scale",
        "def scale(x, factor=None):\n    return x + (FACTOR if factor is None else factor)\n",
    ),
}
# Which parts of the fixture each test needs (its points are earned iff all are right).
NEEDS = {
    "mse_basic": {"loss"},
    "mse_hidden": {"loss"},
    "mse_grad": {"loss"},
    "scale_default": {"scale"},
    "scale_hidden": {"scale"},
    "sgd_steps": {"optim_math"},
    "sgd_rules": {"optim_rules"},
}
POINTS = {
    "mse_basic": 1,
    "mse_hidden": 2,
    "mse_grad": 2,
    "scale_default": 1,
    "scale_hidden": 1,
    "sgd_steps": 3,
    "sgd_rules": 1,
}
ALL_PARTS = {"loss", "scale", "optim_math", "optim_rules"}


def expected_points(broken: set[str]) -> float:
    """Points a submission earns when the parts in ``broken`` are wrong."""
    return float(sum(p for name, p in POINTS.items() if not NEEDS[name] & broken))


def source_notebook() -> nbformat.NotebookNode:
    return nbformat.read(FIXTURES / "tiny" / "tiny.ipynb", as_version=4)


def answer_source(nb: nbformat.NotebookNode, gid: str) -> str:
    return next(c.source for c in nb.cells if grade_id(c) == gid)


def edited(
    base: nbformat.NotebookNode, edits: dict[str, str], *, drop: tuple[str, ...] = ()
) -> nbformat.NotebookNode:
    """``base`` with the cells named in ``edits`` replaced and those in ``drop`` deleted."""
    nb = copy.deepcopy(base)
    nb.cells = [c for c in nb.cells if grade_id(c) not in drop]
    for cell in nb.cells:
        if grade_id(cell) in edits:
            cell.source = edits[grade_id(cell)]
    return nb


def solution_answers() -> dict[str, str]:
    """The fixture's answer cells with the solution markers removed (what a student writes)."""
    nb = source_notebook()
    out = {}
    for gid in ("answer_mse", "answer_scale", "answer_sgd"):
        lines = [ln for ln in answer_source(nb, gid).splitlines() if "SOLUTION" not in ln]
        out[gid] = "\n".join(lines) + "\n"
    return out


def variants(release_nb: nbformat.NotebookNode) -> dict[str, tuple[nbformat.NotebookNode, set]]:
    """The synthetic class: student id -> (notebook, broken parts)."""
    sol = solution_answers()
    sgd_dampened = sol["answer_sgd"].replace(
        '.mul_(group["momentum"]).add_(d)', '.mul_(group["momentum"]).add_(d, alpha=0.1)'
    )
    sgd_torch = (
        "class MySGD(torch.optim.SGD):\n"
        "    def __init__(self, params, lr, momentum=0.0):\n"
        "        super().__init__(params, lr=lr, momentum=momentum)\n"
    )
    out = {
        "full": (edited(release_nb, sol), set()),
        "untouched": (release_nb, set(ALL_PARTS)),
        "wrong_loss": (edited(release_nb, {**sol, WRONG["loss"][0]: WRONG["loss"][1]}), {"loss"}),
        "wrong_scale": (
            edited(release_nb, {**sol, WRONG["scale"][0]: WRONG["scale"][1]}),
            {"scale"},
        ),
        "dampened": (edited(release_nb, {**sol, "answer_sgd": sgd_dampened}), {"optim_math"}),
        "uses_torch_sgd": (
            edited(release_nb, {**sol, "answer_sgd": sgd_torch}),
            {"optim_math", "optim_rules"},
        ),
        "deleted_scale": (edited(release_nb, sol, drop=("answer_scale",)), {"scale"}),
    }
    return out


def write(nb: nbformat.NotebookNode, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path
