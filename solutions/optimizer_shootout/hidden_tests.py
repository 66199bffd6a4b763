"""Hidden tests of the ``optimizer_shootout`` assignment (never released to students).

Trajectory tests run the student's class in the sandboxed worker (driver
``optimizer_shootout:trajectory``) and ``torch.optim``'s class of the same name here, on the
same float64 problem with several param groups, weight decay, a zero gradient, a ``None``
gradient and a ``state_dict()`` round trip after step 3; the feedback names the first step and
state variable that diverged. The use of ready-made optimizers is checked statically on the
answer cells' source (:func:`forbidden_uses`) and at run time in the driver (subclassing, and a
spy on every ready-made optimizer's ``step``).
"""

from __future__ import annotations

import ast

import numpy as np
import torch

from course_lib.grading.drivers.optimizer_shootout import expect_same_trajectory
from course_lib.grading.testing import StudentCode, TestFailure, TestSuite, expect

suite = TestSuite("optimizer_shootout", hidden=True)

CLASSES = ("SGD", "RMSprop", "Adam", "AdamW")
ALLOWED = {"Optimizer", "optimizer"}  # torch.optim.Optimizer, torch.optim.optimizer.Optimizer
TORCH_ARGS = {
    "SGD": ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"),
    "RMSprop": ("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize"),
    "Adam": ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"),
    "AdamW": ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"),
}


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(aliases.get(node.id, node.id))
    return ".".join(reversed(parts))


def _banned_module(module: str) -> bool:
    if module.startswith("course_lib.optim"):
        return True
    if module.startswith("torch.optim."):
        return module.split(".")[2] not in ALLOWED
    return False


def forbidden_uses(source: str) -> list[tuple[int, str]]:
    """Uses of ready-made optimizers in ``source``: ``(line, what)`` pairs.

    Flags ``torch.optim.<Name>`` (under any alias of ``torch`` or ``torch.optim``, and any
    ``optim.<Name>``) for every name but ``Optimizer``; ``from torch.optim import <Name>``;
    imports of ``torch.optim``'s submodules other than ``optimizer``; any import of
    ``course_lib.optim``. Source that does not parse yields nothing (the run-time check still
    applies).
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    aliases: dict[str, str] = {}
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if _banned_module(a.name):
                    found.append((node.lineno, f"import {a.name}"))
                if a.asname:
                    aliases[a.asname] = a.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                full = f"{node.module}.{a.name}"
                if _banned_module(node.module) or _banned_module(full):
                    found.append((node.lineno, f"from {node.module} import {a.name}"))
                aliases[a.asname or a.name] = full
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            name = _dotted(node, aliases)
            if name is None:
                continue
            parts = name.split(".")
            lib_class = parts[:2] == ["course_lib", "optim"] and len(parts) == 3
            torch_class = parts[:2] == ["torch", "optim"] and len(parts) == 3
            if lib_class or (torch_class and parts[2] not in ALLOWED):
                found.append((node.lineno, name))
            elif (
                isinstance(node.value, ast.Name)
                and node.value.id == "optim"
                and node.attr not in ALLOWED
                and parts[:2] != ["torch", "optim"]
            ):
                found.append((node.lineno, f"optim.{node.attr}"))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and node.args
            and _dotted(node.args[0], aliases) in ("torch.optim", "course_lib.optim")
        ):
            found.append((node.lineno, f"getattr({_dotted(node.args[0], aliases)}, ...)"))
    return sorted(set(found))


def _class_lines(source: str, cls_name: str) -> range | None:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == cls_name:
            return range(node.lineno, (node.end_lineno or node.lineno) + 1)
    return None


def _static_check(student: StudentCode, cls_name: str) -> None:
    lines = _class_lines(student.source, cls_name)
    if lines is None:
        return
    inside = [(n, what) for n, what in forbidden_uses(student.source) if n in lines]
    if inside:
        uses = ", ".join(f"{what} (line {n} of your answer cells)" for n, what in inside)
        raise TestFailure(f"{cls_name} may not use a ready-made optimizer; found {uses}")


def _check(student: StudentCode, cls_name: str, groups: list, **options: object) -> None:
    expect(student.defines(cls_name), f"your answer cells do not define {cls_name}")
    _static_check(student, cls_name)
    expect_same_trajectory(student, cls_name, groups, **options)  # type: ignore[arg-type]


@suite.test(
    "sgd_momentum_trajectory",
    points=3,
    description="SGD with momentum and weight decay, two param groups, state_dict round trip",
)
def _(student: StudentCode) -> None:
    groups = [{"params": [0, 1], "lr": 0.05}, {"params": [2, 3, 4], "weight_decay": 0.1}]
    _check(student, "SGD", groups, kwargs={"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01})


@suite.test(
    "sgd_dampening_maximize",
    points=2,
    description="SGD with dampening, a group without momentum, and maximize=True",
)
def _(student: StudentCode) -> None:
    groups = [{"params": [0, 1, 4], "momentum": 0.0}, {"params": [2, 3], "dampening": 0.3}]
    _check(student, "SGD", groups, kwargs={"lr": 0.05, "momentum": 0.8, "maximize": True})


@suite.test(
    "nesterov_trajectory",
    points=3,
    description="SGD with Nesterov momentum and weight decay, two param groups, round trip",
)
def _(student: StudentCode) -> None:
    groups = [{"params": [0, 1, 2]}, {"params": [3, 4], "lr": 0.02, "weight_decay": 0.05}]
    kwargs = {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}
    _check(student, "SGD", groups, kwargs=kwargs)


@suite.test(
    "rmsprop_trajectory",
    points=3,
    description="RMSprop with weight decay, two param groups (lr, alpha), round trip",
)
def _(student: StudentCode) -> None:
    groups = [{"params": [0, 1]}, {"params": [2, 3, 4], "lr": 0.003, "alpha": 0.9}]
    _check(student, "RMSprop", groups, kwargs={"lr": 0.01, "weight_decay": 0.01})


@suite.test(
    "rmsprop_centered_momentum",
    points=2,
    description="RMSprop centered, with momentum in one group, eps=1e-6, round trip",
)
def _(student: StudentCode) -> None:
    groups = [{"params": [0, 1, 4], "centered": True}, {"params": [2, 3], "momentum": 0.5}]
    _check(student, "RMSprop", groups, kwargs={"lr": 0.01, "momentum": 0.9, "eps": 1e-6})


@suite.test(
    "adam_trajectory",
    points=3,
    description="Adam with L2 weight decay, two param groups (lr, betas), eps=1e-6, round trip",
)
def _(student: StudentCode) -> None:
    groups = [{"params": [0, 1]}, {"params": [2, 3, 4], "betas": (0.8, 0.99), "lr": 0.003}]
    _check(student, "Adam", groups, kwargs={"lr": 0.01, "weight_decay": 0.05, "eps": 1e-6})


@suite.test(
    "adam_amsgrad_maximize",
    points=2,
    description="Adam with amsgrad=True and maximize=True, round trip",
)
def _(student: StudentCode) -> None:
    kwargs = {"lr": 0.01, "betas": (0.5, 0.9), "amsgrad": True, "maximize": True}
    _check(student, "Adam", [{"params": [0, 1, 2, 3, 4]}], kwargs=kwargs, steps=8)


@suite.test(
    "adamw_trajectory",
    points=3,
    description="AdamW's decoupled weight decay, two param groups (one with amsgrad), round trip",
)
def _(student: StudentCode) -> None:
    groups = [
        {"params": [0, 1]},
        {"params": [2, 3, 4], "weight_decay": 0.5, "amsgrad": True, "betas": (0.5, 0.9)},
    ]
    _check(student, "AdamW", groups, kwargs={"lr": 0.02, "weight_decay": 0.1})


@suite.test(
    "optimizer_state_bytes_values",
    points=2,
    description="optimizer_state_bytes counts the bytes of every state tensor",
)
def _(student: StudentCode) -> None:
    expect(student.defines("optimizer_state_bytes"), "optimizer_state_bytes is not defined")
    cases = [
        ("SGD", {"lr": 0.1}, "float32"),
        ("SGD", {"lr": 0.1, "momentum": 0.9}, "float32"),
        ("RMSprop", {"momentum": 0.9, "centered": True}, "float32"),
        ("Adam", {"amsgrad": True}, "float64"),
    ]
    for cls_name, kwargs, dtype in cases:
        out = student.run_driver(
            "optimizer_shootout:state_bytes", cls_name=cls_name, kwargs=kwargs, dtype=dtype
        )
        what = f"optimizer_state_bytes of a {cls_name}({kwargs}) over a {dtype} MLP after 2 steps"
        expect(out["error"] is None, f"{what}: {out['error']}")
        expect(
            out["value"] == out["expected"],
            f"{what} returned {out['value']:g}; expected {out['expected']} bytes "
            "(numel() * element_size() of every tensor in optimizer.state, steps included)",
        )


@suite.test(
    "constructor_contract",
    points=2,
    description="torch's constructor defaults, and ValueError on invalid arguments",
)
def _(student: StudentCode) -> None:
    for cls_name in CLASSES:
        out = student.run_driver("optimizer_shootout:construct", cls_name=cls_name, kwargs={})
        expect(
            out["error"] is None,
            f"{cls_name}(params) with torch's defaults raised {out['error']}: {out['message']}",
        )
        reference = getattr(torch.optim, cls_name)([torch.nn.Parameter(torch.zeros(1))]).defaults
        for arg in TORCH_ARGS[cls_name]:
            want = reference[arg]
            want = [float(v) for v in want] if isinstance(want, tuple) else want
            have = out["defaults"].get(arg, "missing")
            expect(
                have == want,
                f"{cls_name}'s default {arg} is {have!r} in self.defaults; torch's is {want!r}",
            )
    invalid = [(name, {"lr": -0.01}) for name in CLASSES] + [
        ("SGD", {"lr": 0.1, "nesterov": True}),  # Nesterov without momentum
        ("RMSprop", {"alpha": -0.1}),
        ("Adam", {"betas": (1.0, 0.999)}),
        ("AdamW", {"betas": (0.9, 1.0)}),
        ("Adam", {"eps": -1e-8}),
    ]
    for cls_name, kwargs in invalid:
        out = student.run_driver("optimizer_shootout:construct", cls_name=cls_name, kwargs=kwargs)
        args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        got = "no error" if out["error"] is None else out["error"]
        expect(
            out["error"] == "ValueError",
            f"{cls_name}(params, {args}) should raise ValueError; it gave {got}",
        )


@suite.test(
    "no_ready_made_optimizers",
    points=2,
    description="no torch.optim or course_lib.optim optimizer is used (static and run-time)",
)
def _(student: StudentCode) -> None:
    uses = forbidden_uses(student.source)
    if uses:
        listed = ", ".join(f"{what} (line {n})" for n, what in uses)
        raise TestFailure(
            "your answer cells use ready-made optimizers, which this assignment forbids: "
            f"{listed}. Only torch.optim.Optimizer itself may be used."
        )
    for cls_name in CLASSES:
        expect(student.defines(cls_name), f"your answer cells do not define {cls_name}")
        record = student.run_driver(
            "optimizer_shootout:trajectory",
            cls_name=cls_name,
            groups=[{"params": [0, 1, 2, 3, 4]}],
            kwargs={"lr": 0.01},
            steps=2,
            roundtrip_at=None,
        )
        if record["forbidden"]:
            raise TestFailure(
                f"{cls_name} may not use a ready-made optimizer: " + "; ".join(record["forbidden"])
            )
        expect(
            record["error"] is None,
            f"this check runs each class for two steps, but {record['error']}",
        )


def _training(student: StudentCode, cls_name: str, kwargs: dict) -> None:
    expect(student.defines(cls_name), f"your answer cells do not define {cls_name}")
    _static_check(student, cls_name)
    out = student.run_driver(
        "optimizer_shootout:train",
        timeout=150.0,
        cls_name=cls_name,
        reference=cls_name,
        kwargs=kwargs,
    )
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    what = f"one epoch of the cpu preset's MLP on Fashion-MNIST with your {cls_name}({args})"
    if out.get("error"):
        raise TestFailure(f"{what}: {out['error']}")
    if out["forbidden"]:
        raise TestFailure(f"{cls_name} may not use a ready-made optimizer: {out['forbidden']}")
    mine, ref = out["student"], out["reference"]
    expect("error" not in mine, f"{what}: {mine.get('error')}")
    expect("error" not in ref, f"the reference run failed: {ref.get('error')}")
    acc_diff = abs(mine["val_accuracy"] - ref["val_accuracy"])
    loss_diff = abs(mine["train_loss"] - ref["train_loss"])
    expect(
        acc_diff <= 0.01 and loss_diff <= 0.02 * max(1.0, ref["train_loss"]),
        f"{what} ended with training loss {mine['train_loss']:.4f} and validation accuracy "
        f"{mine['val_accuracy']:.4f}; the reference optimizer, trained the same way on the same "
        f"device ({out['device']}), reached {ref['train_loss']:.4f} and "
        f"{ref['val_accuracy']:.4f} (allowed: 0.01 in accuracy, 2% in loss)",
    )
    expect(bool(np.isfinite(mine["train_loss"])), f"{what}: the loss is not finite")


@suite.test(
    "training_momentum",
    points=3,
    description="one epoch on Fashion-MNIST with SGD(momentum=0.9) matches the reference",
    timeout=180.0,
)
def _(student: StudentCode) -> None:
    _training(student, "SGD", {"lr": 0.03, "momentum": 0.9})


@suite.test(
    "training_adamw",
    points=3,
    description="one epoch on Fashion-MNIST with AdamW matches the reference",
    timeout=180.0,
)
def _(student: StudentCode) -> None:
    _training(student, "AdamW", {"lr": 1e-3, "weight_decay": 0.01})
