"""Drivers of the ``lr_schedules`` assignment: evaluate and train with a student's schedules.

Public code: students may read it. Each driver is called as ``fn(namespace, **kwargs)`` in the
sandboxed worker, where ``namespace`` holds the student's answer cells, and returns plain data.

A student's schedule is a *factory* (``cosine_schedule(base_lr, total_steps)``) that returns a
function ``step -> lr``; functions cannot cross to the trusted side, so :func:`evaluate` calls
the factory here and sends back the learning rates. ``with_warmup`` wraps another schedule: to
test it alone, the wrapped schedule is the reference one from :mod:`course_lib.schedules`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

# Imported now, before the worker blocks the assignment's forbidden names (``FORBID`` in the
# tests: course_lib.schedules and torch's schedulers): the drivers keep these references.
from course_lib import schedules as S
from course_lib.data import load as _load
from course_lib.models import TransformerClassifier as _Transformer
from course_lib.optim import AdamW as _AdamW
from course_lib.train import choose_device as _choose_device
from course_lib.train import fit as _fit
from course_lib.train.metrics import accuracy as _accuracy

__all__ = ["evaluate", "reference_schedule", "train"]

# The student's factory name -> the course_lib.schedules factory with the same arguments.
_REFERENCE = {
    "constant_schedule": "constant_schedule",
    "step_schedule": "step_schedule",
    "exponential_schedule": "exponential_schedule",
    "cosine_schedule": "cosine_schedule",
    "one_cycle_schedule": "one_cycle_schedule",
}


def reference_schedule(spec: Mapping[str, Any]) -> Callable[[int], float]:
    """The reference schedule described by ``{"factory", "args", "kwargs"}`` (and ``inner``).

    ``with_warmup`` is built as the Hugging Face-style ramp from lr 0 joined to the inner
    schedule shifted by the warm-up length, from :mod:`course_lib.schedules`' pieces.
    """
    args, kwargs = list(spec.get("args", [])), dict(spec.get("kwargs", {}))
    if spec["factory"] == "with_warmup":
        inner = reference_schedule(spec["inner"])
        warm = int(args[0] if args else kwargs["warmup_steps"])
        if warm == 0:
            return inner
        ramp = S.linear_warmup_schedule(inner(0), warm)
        return lambda step: ramp(step) if step < warm else inner(step - warm)
    return getattr(S, _REFERENCE[spec["factory"]])(*args, **kwargs)


def _build(namespace: dict[str, Any], spec: Mapping[str, Any]) -> Callable[[int], Any]:
    factory = namespace.get(spec["factory"])
    if factory is None:
        raise NameError(f"{spec['factory']} is not defined")
    args, kwargs = list(spec.get("args", [])), dict(spec.get("kwargs", {}))
    if "inner" in spec:
        args = [reference_schedule(spec["inner"]), *args]
    return factory(*args, **kwargs)


def _call_text(spec: Mapping[str, Any]) -> str:
    parts = [repr(a) for a in spec.get("args", [])]
    parts += [f"{k}={v!r}" for k, v in dict(spec.get("kwargs", {})).items()]
    if "inner" in spec:
        parts.insert(0, _call_text(spec["inner"]))
    return f"{spec['factory']}({', '.join(parts)})"


def evaluate(namespace: dict[str, Any], *, spec: Mapping[str, Any], steps: Sequence[int]) -> dict:
    """Driver: build the student's schedule ``spec`` and evaluate it at ``steps``.

    Returns:
        ``values``: the learning rates (floats; ``None`` where the value was not a real
        number); ``error``: ``None``, or the exception's type name if building or calling it
        raised; ``message``: what happened, in plain words; ``not_float``: the type names of
        values that were not Python or NumPy real numbers (a tensor, a list...).
    """
    what = _call_text(spec)
    try:
        schedule = _build(namespace, spec)
    except Exception as err:
        return {
            "values": [],
            "error": type(err).__name__,
            "message": f"{what} raised {type(err).__name__}: {err}",
            "not_float": [],
        }
    if not callable(schedule):
        return {
            "values": [],
            "error": "TypeError",
            "message": f"{what} returned a {type(schedule).__name__}, not a function step -> lr",
            "not_float": [],
        }
    values: list[float | None] = []
    not_float: list[str] = []
    for step in steps:
        try:
            value = schedule(int(step))
        except Exception as err:
            return {
                "values": values,
                "error": type(err).__name__,
                "message": f"{what} at step {step} raised {type(err).__name__}: {err}",
                "not_float": not_float,
            }
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            values.append(float(value))
        else:
            not_float.append(type(value).__name__)
            values.append(None)
    return {"values": values, "error": None, "message": "", "not_float": not_float}


def train(
    namespace: dict[str, Any],
    *,
    spec: Mapping[str, Any],
    steps: int = 24,
    subset: int = 4_000,
    val_size: int = 1_000,
    max_len: int = 128,
    vocab_size: int = 10_000,
    batch_size: int = 64,
    d_model: int = 64,
    n_heads: int = 4,
    n_layers: int = 2,
    d_ff: int = 128,
    seed: int = 0,
) -> dict[str, Any]:
    """Driver: train the ``cpu`` preset's Transformer on IMDB under the student's schedule.

    AdamW (``course_lib.optim``) with the schedule's absolute learning rate, set before every
    step, for ``steps`` steps; then the same run with the reference schedule (same seed, data
    order and initial weights, same device), so the test compares like with like anywhere.

    Returns:
        ``student`` and ``reference``: ``{"train_loss", "val_loss", "val_accuracy",
        "lrs"}`` or ``{"error": ...}``; ``device``.
    """
    data = _load("imdb", seed=0, max_len=max_len, vocab_size=vocab_size, subset=subset,
                val_size=val_size)  # fmt: skip
    device = _choose_device()

    def run(schedule: Callable[[int], Any]) -> dict[str, Any]:
        torch.manual_seed(seed)
        model = _Transformer(
            vocab_size=data.meta["vocab_size"],
            num_classes=2,
            d_model=d_model,
            n_heads=n_heads,
            n_layers=n_layers,
            d_ff=d_ff,
            max_len=max_len,
        )
        try:
            history = _fit(
                model,
                data.train,
                val=data.val,
                loss_fn=torch.nn.functional.cross_entropy,
                optimizer=lambda params: _AdamW(params, lr=1.0),
                scheduler=lambda opt: S.ScheduleLR(opt, [lambda t: float(schedule(t))]),
                scheduler_interval="step",
                epochs=math.ceil(steps * batch_size / len(data.train)),
                max_steps=steps,
                batch_size=batch_size,
                metrics={"accuracy": _accuracy},
                device=device,
                seed=seed,
                progress=False,
            )
        except Exception as err:
            return {"error": f"training raised {type(err).__name__}: {err}"}
        last = history.epochs[-1]
        result: dict[str, Any] = {k: float(last[k]) for k in ("val_loss", "val_accuracy")}
        result["train_loss"] = sum(float(s["loss"]) for s in history.steps[-8:]) / min(
            8, len(history.steps)
        )
        result["lrs"] = [float(s["lr"]) for s in history.steps]
        if not all(math.isfinite(result[k]) for k in ("val_loss", "val_accuracy", "train_loss")):
            result["error"] = "the loss or accuracy is not finite"
        return result

    try:
        student_schedule = _build(namespace, spec)
        student = run(student_schedule)
    except Exception as err:
        student = {"error": f"{_call_text(spec)} raised {type(err).__name__}: {err}"}
    # No reference run when the student's failed: there is nothing to compare.
    reference = {} if "error" in student else run(reference_schedule(spec))
    return {"student": student, "reference": reference, "device": device.type}
