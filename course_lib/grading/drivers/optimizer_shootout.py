"""Drivers of the ``optimizer_shootout`` assignment: run a student's optimizer class beside it.

Public code: students may read it. Each driver is called as ``fn(namespace, **kwargs)`` in the
sandboxed worker, where ``namespace`` holds the student's answer cells, and returns plain data.
The hidden tests call the same :func:`run_trajectory` in the trusted process with
``torch.optim``'s class of the same name, so student and reference meet the same problem.

The fixed problem (float64): five parameters, ``W (4, 3)``, ``b (3,)``, ``v (5,)``, ``z (2,)``
whose gradient is always exactly zero (it is still updated: weight decay, state), and ``u (2,)``
that never gets a gradient (``grad is None``: the optimizer must skip it and keep no state). The
loss is a smooth function of them on fixed random data (``seed``). Every step is the textbook
one: ``zero_grad()``, loss, ``backward()``, ``step()``; after step ``roundtrip_at`` the optimizer
is replaced by a new instance that loads a deep copy of the old one's ``state_dict()``.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

# Imported now, before the worker blocks the assignment's forbidden names (``FORBID`` in the
# tests: torch.optim's optimizers and course_lib.optim): the drivers keep these references.
import course_lib.optim as _lib
from course_lib.data import load as _load
from course_lib.models import MLP as _MLP
from course_lib.train import choose_device as _choose_device
from course_lib.train import fit as _fit
from course_lib.train.metrics import accuracy as _accuracy

__all__ = [
    "HINTS",
    "PARAM_NAMES",
    "construct",
    "expect_same_trajectory",
    "first_divergence",
    "forbidden_classes",
    "make_problem",
    "run_trajectory",
    "runtime_check",
    "state_bytes",
    "train",
    "trajectory",
]

PARAM_NAMES = ("W", "b", "v", "z", "u")
_TORCH_NAMES = (
    "SGD",
    "Adam",
    "AdamW",
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "Adamax",
    "ASGD",
    "NAdam",
    "RAdam",
    "Rprop",
    "SparseAdam",
    "LBFGS",
    "Adafactor",
    "Muon",
)


def _ready_made() -> list[type]:
    classes = [getattr(torch.optim, n) for n in _TORCH_NAMES if hasattr(torch.optim, n)]
    classes += [
        c
        for c in vars(_lib).values()
        if isinstance(c, type)
        and issubclass(c, torch.optim.Optimizer)
        and c is not torch.optim.Optimizer
    ]
    return list(dict.fromkeys(classes))


# The real classes, captured when this module is imported (before any blocking).
_READY_MADE = _ready_made()


def forbidden_classes() -> list[type]:
    """Every ready-made optimizer class a student may not use: torch.optim's and course_lib's."""
    return list(_READY_MADE)


@contextmanager
def _watch_steps(calls: list[str]) -> Iterator[None]:
    """Record every call of a forbidden optimizer's ``step`` while the block runs."""
    originals = {}
    for cls in forbidden_classes():
        if "step" not in vars(cls):
            continue
        original = vars(cls)["step"]
        originals[cls] = original

        def spy(self: Any, *args: Any, _cls: type = cls, _orig: Any = original, **kw: Any) -> Any:
            calls.append(f"{_cls.__module__}.{_cls.__qualname__}.step")
            return _orig(self, *args, **kw)

        cls.step = spy
    try:
        yield
    finally:
        for cls, original in originals.items():
            cls.step = original


def runtime_check(cls: Any, calls: Sequence[str] = ()) -> list[str]:
    """Problems with a student's optimizer class, in plain words (empty: none).

    It must be a class derived from ``torch.optim.Optimizer`` but from no ready-made optimizer,
    and running it must not have called a ready-made optimizer's ``step`` (``calls``).
    """
    if not isinstance(cls, type):
        return [f"it is a {type(cls).__name__}, not a class"]
    problems = []
    if not issubclass(cls, torch.optim.Optimizer):
        problems.append("it does not derive from torch.optim.Optimizer")
    banned = set(forbidden_classes())
    for base in cls.__mro__:
        if base in banned:
            problems.append(
                f"it derives from {base.__module__}.{base.__qualname__}, a ready-made optimizer"
            )
    for call in dict.fromkeys(calls):
        problems.append(f"running it called {call}, a ready-made optimizer")
    return problems


def make_problem(seed: int = 0) -> tuple[list[torch.nn.Parameter], Callable[[], torch.Tensor]]:
    """The fixed float64 problem: its parameters (:data:`PARAM_NAMES`) and its loss closure."""
    g = torch.Generator().manual_seed(seed)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    params = [
        torch.nn.Parameter(rand(4, 3) * 0.5),
        torch.nn.Parameter(rand(3) * 0.1),
        torch.nn.Parameter(rand(5)),
        torch.nn.Parameter(rand(2)),
        torch.nn.Parameter(rand(2)),
    ]
    x, y, a = rand(16, 4), rand(16, 3), rand(5)
    W, b, v, z, _u = params

    def loss() -> torch.Tensor:
        fit = ((torch.tanh(x @ W + b) - y) ** 2).mean()
        quartic = 0.25 * ((v - a) ** 4).sum() + 0.5 * (v**2).sum()
        return fit + 0.1 * quartic + 0.0 * z.sum()  # z: a gradient of exact zeros

    return params, loss


def _plain_state(state: Mapping[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in state.items():
        if isinstance(value, torch.Tensor):
            out[str(key)] = value.detach().to("cpu", torch.float64).numpy().copy()
        elif isinstance(value, bool):
            continue
        elif isinstance(value, (int, float)):
            out[str(key)] = float(value)
    return out


def _groups(params: Sequence[torch.nn.Parameter], spec: Sequence[Mapping[str, Any]]) -> list:
    groups = []
    for group in spec:
        options = {k: (tuple(v) if k == "betas" else v) for k, v in group.items() if k != "params"}
        groups.append({"params": [params[int(i)] for i in group["params"]], **options})
    return groups


def run_trajectory(
    cls: Any,
    groups: Sequence[Mapping[str, Any]],
    *,
    kwargs: Mapping[str, Any] | None = None,
    steps: int = 6,
    roundtrip_at: int | None = 3,
    seed: int = 0,
) -> dict[str, Any]:
    """Run ``cls`` on the fixed problem; its parameters and state after every step.

    Args:
        cls: the optimizer class (the student's, or torch's as the reference).
        groups: param groups as plain data: ``{"params": [indices], **options}``.
        kwargs: the constructor's keyword arguments (defaults for every group).
        steps: optimizer steps to take.
        roundtrip_at: after this step, continue with a new instance loaded from a deep copy
            of ``state_dict()``; ``None``: never.
        seed: the problem's data and initial parameters.

    Returns:
        ``params``: per step (0 = initial) the list of parameter arrays; ``state``: per step
        (from 1) a list with, per parameter, ``{name: array or number}`` of its state;
        ``error``: ``None`` or what went wrong, in plain words, naming the step.
    """
    params, loss_fn = make_problem(seed)
    kwargs = {k: (tuple(v) if k == "betas" else v) for k, v in dict(kwargs or {}).items()}
    name = getattr(cls, "__name__", repr(cls))
    record: dict[str, Any] = {
        "params": [[p.detach().numpy().copy() for p in params]],
        "state": [],
        "error": None,
    }
    stage = "constructing it"
    try:
        opt = cls(_groups(params, groups), **kwargs)
        for step in range(1, steps + 1):
            stage = f"step {step}: zero_grad()"
            opt.zero_grad()
            stage = f"step {step}: computing the loss"
            loss_fn().backward()
            stage = f"step {step}: step()"
            opt.step()
            record["params"].append([p.detach().numpy().copy() for p in params])
            record["state"].append([_plain_state(opt.state.get(p, {})) for p in params])
            if roundtrip_at is not None and step == roundtrip_at:
                stage = f"after step {step}: state_dict() and load_state_dict() into a new {name}"
                saved = copy.deepcopy(opt.state_dict())
                opt = cls(_groups(params, groups), **kwargs)
                opt.load_state_dict(saved)
    except Exception as err:  # the student's code failed: say where, in plain words
        record["error"] = f"{name} raised {type(err).__name__} while {stage}: {err}"
    return record


def trajectory(namespace: dict[str, Any], *, cls_name: str, **options: Any) -> dict[str, Any]:
    """Driver: :func:`run_trajectory` with the student's class ``cls_name``.

    Also checks at run time that the class is not, and does not call, a ready-made optimizer:
    ``forbidden`` lists the problems found (see :func:`runtime_check`).
    """
    if cls_name not in namespace:
        return {"params": [], "state": [], "error": f"{cls_name} is not defined", "forbidden": []}
    cls = namespace[cls_name]
    calls: list[str] = []
    with _watch_steps(calls):
        record = run_trajectory(cls, **options)
    record["forbidden"] = runtime_check(cls, calls)
    return record


def construct(
    namespace: dict[str, Any], *, cls_name: str, kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """Driver: build ``cls_name`` over one parameter with ``kwargs``; the defaults or the error.

    Returns:
        ``error``: ``None`` or the exception's type name; ``message``: its text;
        ``defaults``: the optimizer's ``defaults`` dict (plain values only).
    """
    cls = namespace.get(cls_name)
    if cls is None:
        return {"error": "NameError", "message": f"{cls_name} is not defined", "defaults": {}}
    kwargs = {k: (tuple(v) if k == "betas" else v) for k, v in kwargs.items()}
    try:
        opt = cls([torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))], **kwargs)
    except Exception as err:
        return {"error": type(err).__name__, "message": str(err), "defaults": {}}
    defaults = {}
    for key, value in getattr(opt, "defaults", {}).items():
        if isinstance(value, (bool, int, float, str)) or value is None:
            defaults[str(key)] = value
        elif isinstance(value, (tuple, list)) and all(isinstance(v, (int, float)) for v in value):
            defaults[str(key)] = [float(v) for v in value]
    return {"error": None, "message": "", "defaults": defaults}


def state_bytes(
    namespace: dict[str, Any], *, cls_name: str, kwargs: Mapping[str, Any], dtype: str
) -> dict[str, Any]:
    """Driver: the student's ``optimizer_state_bytes`` on a real optimizer after two steps.

    The optimizer is the reference ``course_lib.optim`` class of the same name (trusted code),
    over a small MLP in ``dtype``; returns the student's answer and the exact count.
    """
    lib = _lib
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    model.to(getattr(torch, dtype))
    kwargs = {k: (tuple(v) if k == "betas" else v) for k, v in kwargs.items()}
    opt = getattr(lib, cls_name)(model.parameters(), **kwargs)
    x = torch.randn(8, 6, dtype=getattr(torch, dtype))
    for _ in range(2):
        opt.zero_grad()
        model(x).square().mean().backward()
        opt.step()
    expected = sum(
        t.numel() * t.element_size()
        for st in opt.state.values()
        for t in st.values()
        if isinstance(t, torch.Tensor)
    )
    fn = namespace.get("optimizer_state_bytes")
    if fn is None:
        return {
            "error": "optimizer_state_bytes is not defined",
            "value": None,
            "expected": expected,
        }
    try:
        value = fn(opt)
    except Exception as err:
        msg = f"optimizer_state_bytes raised {type(err).__name__}: {err}"
        return {"error": msg, "value": None, "expected": expected}
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    return {
        "error": None if ok else f"optimizer_state_bytes returned a {type(value).__name__}",
        "value": float(value) if ok else None,
        "expected": expected,
    }


def train(
    namespace: dict[str, Any],
    *,
    cls_name: str,
    reference: str,
    kwargs: Mapping[str, Any],
    epochs: int = 1,
    subset: int = 10_000,
    val_size: int = 5_000,
    batch_size: int = 128,
    depth: int = 2,
    width: int = 256,
    seed: int = 0,
) -> dict[str, Any]:
    """Driver: train the ``cpu`` preset's MLP on Fashion-MNIST with the student's class.

    The same run is repeated with ``course_lib.optim.<reference>`` (same seed, data order and
    initial weights, same device) so that the test compares like with like on any device.

    Returns:
        ``student`` and ``reference``: ``{"train_loss", "val_accuracy", "val_loss"}`` of the
        last epoch, or ``{"error": ...}``; ``device``; ``forbidden`` (see
        :func:`runtime_check`).
    """
    lib, MLP, fit, accuracy = _lib, _MLP, _fit, _accuracy
    data = _load("fashion_mnist", seed=0, subset=subset, val_size=val_size)
    device = _choose_device()
    kwargs = {k: (tuple(v) if k == "betas" else v) for k, v in kwargs.items()}
    cls = namespace.get(cls_name)
    if cls is None:
        return {"error": f"{cls_name} is not defined", "forbidden": []}

    def run(opt_cls: Any) -> dict[str, Any]:
        torch.manual_seed(seed)
        model = MLP(28 * 28, data.meta["num_classes"], depth=depth, width=width)
        start = time.perf_counter()
        try:
            history = fit(
                model,
                data.train,
                val=data.val,
                loss_fn=torch.nn.functional.cross_entropy,
                optimizer=lambda params: opt_cls(params, **kwargs),
                epochs=epochs,
                batch_size=batch_size,
                metrics={"accuracy": accuracy},
                device=device,
                seed=seed,
                progress=False,
            )
        except Exception as err:
            return {"error": f"training raised {type(err).__name__}: {err}"}
        last = history.epochs[-1]
        result = {k: float(last[k]) for k in ("train_loss", "val_loss", "val_accuracy")}
        result["seconds"] = time.perf_counter() - start
        if not all(math.isfinite(v) for v in result.values()):
            result["error"] = "the training loss or accuracy is not finite"
        return result

    calls: list[str] = []
    with _watch_steps(calls):
        student = run(cls)
    return {
        "student": student,
        # No reference run when the student's failed: there is nothing to compare.
        "reference": {} if "error" in student else run(getattr(lib, reference)),
        "device": device.type,
        "forbidden": runtime_check(cls, calls),
    }


# What to check when a state variable (or the parameter itself) is the first to differ.
HINTS: dict[str, dict[str, str]] = {
    "SGD": {
        "momentum_buffer": "the first buffer is the raw gradient (no dampening at the first "
        "step), then buf = momentum * buf + (1 - dampening) * grad, where grad already "
        "includes weight_decay * param and is negated when maximize=True",
        "param": "the update is param -= lr * d, with d = buf (momentum), grad + momentum * buf "
        "(Nesterov) or grad (no momentum); grad includes weight_decay * param and is negated "
        "when maximize=True",
    },
    "RMSprop": {
        "step": "state['step'] counts this parameter's updates: 1 after the first",
        "square_avg": "square_avg = alpha * square_avg + (1 - alpha) * grad**2 from zeros, "
        "where grad includes weight_decay * param and is negated when maximize=True",
        "grad_avg": "centered=True keeps grad_avg = alpha * grad_avg + (1 - alpha) * grad",
        "momentum_buffer": "with momentum, buf = momentum * buf + grad / (sqrt(v) + eps) "
        "starting from zeros",
        "param": "eps goes outside the square root, grad / (sqrt(v) + eps), with no bias "
        "correction; centered=True uses v = square_avg - grad_avg**2",
    },
    "Adam": {
        "step": "state['step'] counts this parameter's updates: 1 after the first",
        "exp_avg": "exp_avg = beta1 * exp_avg + (1 - beta1) * grad from zeros, where grad "
        "includes weight_decay * param (Adam's weight decay is L2) and is negated when "
        "maximize=True",
        "exp_avg_sq": "exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * grad**2 from zeros",
        "max_exp_avg_sq": "amsgrad=True keeps the running maximum of exp_avg_sq",
        "param": "check the bias correction (exp_avg / (1 - beta1**step), exp_avg_sq / "
        "(1 - beta2**step)) and that eps is added after the square root",
    },
    "AdamW": {
        "step": "state['step'] counts this parameter's updates: 1 after the first",
        "exp_avg": "exp_avg = beta1 * exp_avg + (1 - beta1) * grad from zeros; AdamW does not "
        "add weight decay to the gradient (it is decoupled)",
        "exp_avg_sq": "exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * grad**2 from zeros",
        "max_exp_avg_sq": "amsgrad=True keeps the running maximum of exp_avg_sq",
        "param": "AdamW first multiplies the parameter by (1 - lr * weight_decay), then takes "
        "Adam's step without weight decay; check the bias correction and that eps is added "
        "after the square root",
    },
}
STATE_ORDER = (
    "step",
    "momentum_buffer",
    "square_avg",
    "grad_avg",
    "exp_avg",
    "exp_avg_sq",
    "max_exp_avg_sq",
)


def _close(a: Any, e: Any, rtol: float, atol: float) -> tuple[bool, float]:
    a, e = np.asarray(a, dtype=np.float64), np.asarray(e, dtype=np.float64)
    if a.shape != e.shape:
        return False, math.inf
    diff = float(np.max(np.abs(a - e))) if e.size else 0.0
    return bool(np.allclose(a, e, rtol=rtol, atol=atol)), diff


def first_divergence(
    student: Mapping[str, Any],
    reference: Mapping[str, Any],
    cls_name: str,
    *,
    roundtrip_at: int | None = None,
    rtol: float = 1e-9,
    atol: float = 1e-12,
) -> str | None:
    """The first step and state variable where ``student`` leaves ``reference``, in words.

    Both are :func:`run_trajectory` records. At each step the state variables are compared
    first (in update order), then the parameters. ``None``: they agree throughout.
    """
    hints = HINTS.get(cls_name, {})
    ref_name = f"torch.optim.{cls_name}"
    if student.get("error"):
        return str(student["error"])
    if reference.get("error"):  # pragma: no cover - the reference always runs
        raise RuntimeError(f"the reference failed: {reference['error']}")
    for t in range(1, len(reference["params"])):
        if t >= len(student["params"]):
            return f"step {t}: your optimizer stopped after {len(student['params']) - 1} steps"
        after_reload = roundtrip_at is not None and t == roundtrip_at + 1
        reload_hint = (
            f" This is the first step after the optimizer was saved with state_dict() and "
            f"loaded into a new {cls_name} with load_state_dict(): keep all state in "
            f"self.state[p] and all hyperparameters in self.param_groups."
            if after_reload
            else ""
        )
        for i, pname in enumerate(PARAM_NAMES):
            ref_state, st = reference["state"][t - 1][i], student["state"][t - 1][i]
            if not ref_state and pname == "u" and st:
                return (
                    f"step {t}: parameter {i} ({pname}) never has a gradient (grad is None), "
                    f"yet your optimizer keeps state for it ({', '.join(sorted(st))}); skip "
                    f"parameters whose grad is None"
                )
            for var in sorted(ref_state, key=lambda v: (*STATE_ORDER, v).index(v)):
                if var not in st:
                    have = ", ".join(sorted(st)) or "nothing"
                    return (
                        f"step {t}: the state of parameter {i} ({pname}) has no '{var}' (it "
                        f"has {have}); {ref_name} keeps it as state['{var}'] and so must yours."
                        + reload_hint
                    )
                ok, diff = _close(st[var], ref_state[var], rtol, atol)
                if not ok:
                    return (
                        f"step {t}: {var} of parameter {i} ({pname}) differs from {ref_name}: "
                        f"max abs diff {diff:.3g}; {hints.get(var, 'check its update')}."
                        + reload_hint
                    )
        for i, pname in enumerate(PARAM_NAMES):
            ok, diff = _close(student["params"][t][i], reference["params"][t][i], rtol, atol)
            if not ok:
                if pname == "u":
                    hint = "it never has a gradient (grad is None) and must be left unchanged"
                elif pname == "z":
                    hint = (
                        "its gradient is exactly zero, yet it must still be updated like any "
                        "parameter with a gradient (weight decay, momentum)"
                    )
                else:
                    hint = hints.get("param", "check the update")
                return (
                    f"step {t}: the value of parameter {i} ({pname}) differs from {ref_name} "
                    f"after the update: max abs diff {diff:.3g}; {hint}." + reload_hint
                )
    return None


def expect_same_trajectory(
    student: Any,
    cls_name: str,
    groups: Sequence[Mapping[str, Any]],
    *,
    kwargs: Mapping[str, Any] | None = None,
    steps: int = 6,
    roundtrip_at: int | None = 3,
    seed: int = 0,
    timeout: float = 60.0,
) -> None:
    """Trusted side: run the student's ``cls_name`` and ``torch.optim.<cls_name>``; compare.

    Raises:
        TestFailure: naming the first step and state variable that diverged, or the
            ready-made optimizer the class used.
    """
    from course_lib.grading.testing import TestFailure

    options = {
        "groups": [dict(g) for g in groups],
        "kwargs": dict(kwargs or {}),
        "steps": steps,
        "roundtrip_at": roundtrip_at,
        "seed": seed,
    }
    record = student.run_driver(
        "optimizer_shootout:trajectory", timeout=timeout, cls_name=cls_name, **options
    )
    if record.get("forbidden"):
        raise TestFailure(
            f"{cls_name} may not use a ready-made optimizer: " + "; ".join(record["forbidden"])
        )
    reference = run_trajectory(getattr(torch.optim, cls_name), **options)
    problem = first_divergence(record, reference, cls_name, roundtrip_at=roundtrip_at)
    if problem is not None:
        where = ", ".join(
            f"group {k} = {{params {[PARAM_NAMES[i] for i in g['params']]}"
            + "".join(f", {key}={val!r}" for key, val in g.items() if key != "params")
            + "}"
            for k, g in enumerate(options["groups"])
        )
        raise TestFailure(
            f"{cls_name}({', '.join(f'{k}={v!r}' for k, v in options['kwargs'].items())}) "
            f"with param groups [{where}]: {problem}"
        )
