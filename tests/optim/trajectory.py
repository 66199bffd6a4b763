"""Step-by-step comparison of an optimizer against its reference (usually torch.optim).

Both optimizers get their own copy of the same float64 parameters and minimise the same
non-convex objective whose data change every step (like minibatches), so a single wrong term in
an update rule shows up within a few steps. After every step the parameters and every state
tensor the reference keeps must agree to ``rtol``.

The parameter set deliberately contains awkward cases:

* ``frozen``: requires grad but is not used by the loss, so its ``grad`` stays ``None``
  (must not move, must get no state);
* ``zero``: enters the loss through a term whose gradient is exactly zero at every step.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import torch

OptimizerFactory = Callable[[list[dict[str, Any]]], torch.optim.Optimizer]

SHAPES: dict[str, tuple[int, ...]] = {
    "weight": (5, 3),
    "bias": (3,),
    "kernel": (2, 3, 2),
    "scalar": (),
    "zero": (4,),
    "frozen": (2, 2),
}


def make_params(device: str | torch.device = "cpu", seed: int = 0) -> dict[str, torch.Tensor]:
    """Fresh leaf tensors (float64) with a fixed seed."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, shape in SHAPES.items():
        value = torch.randn(shape, generator=gen, dtype=torch.float64)
        out[name] = value.to(device).requires_grad_(True)
        # The name travels with the tensor so that a trajectory can rebuild the objective
        # from any grouping of the parameters.
        out[name].course_name = name
    return out


def objective(params: dict[str, torch.Tensor], step: int) -> torch.Tensor:
    """A smooth non-convex loss whose "data" depend on ``step`` (like a minibatch)."""
    gen = torch.Generator().manual_seed(1000 + step)
    device = params["weight"].device
    x = torch.randn(7, 5, generator=gen, dtype=torch.float64).to(device)
    y = torch.randn(7, 3, generator=gen, dtype=torch.float64).to(device)
    h = torch.tanh(x @ params["weight"] + params["bias"])
    fit = ((h - y) ** 2).mean()
    k = params["kernel"]
    ripple = (torch.sin(3.0 * k) * k).sum() + 0.1 * (k**4).sum()
    bowl = 0.5 * (params["scalar"] - 0.3 * step) ** 2
    # d/dz of (z - z.detach()).sum() * 0 is exactly 0: a parameter with a zero gradient.
    zero = ((params["zero"] - params["zero"].detach()) * 0.0).sum()
    return fit + ripple + bowl + zero


def param_groups(
    params: dict[str, torch.Tensor], layout: str, group_kwargs: Sequence[dict[str, Any]] = ()
) -> list[dict[str, Any]]:
    """Split ``params`` into groups.

    Args:
        params: from :func:`make_params`.
        layout: ``"one"`` (one group, defaults only) or ``"two"`` (the second group gets the extra
            keyword arguments in ``group_kwargs[1]``, e.g. a tiny lr).
        group_kwargs: per-group overrides, one dict per group.
    """
    names = list(params)
    if layout == "one":
        groups = [{"params": [params[n] for n in names]}]
    elif layout == "two":
        groups = [
            {"params": [params[n] for n in ("weight", "bias", "zero", "frozen")]},
            {"params": [params[n] for n in ("kernel", "scalar")]},
        ]
    else:
        raise ValueError(f"unknown layout {layout!r}")
    for group, extra in zip(groups, group_kwargs, strict=False):
        group.update(extra)
    return groups


def _clone_groups(groups: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[torch.Tensor]]:
    """Deep-copy groups so that each optimizer has its own leaf tensors."""
    cloned, leaves = [], []
    for g in groups:
        new_params = [p.detach().clone().requires_grad_(True) for p in g["params"]]
        leaves.extend(new_params)
        cloned.append({**{k: v for k, v in g.items() if k != "params"}, "params": new_params})
    return cloned, leaves


def run_trajectory(
    factory: OptimizerFactory,
    groups: list[dict[str, Any]],
    steps: int,
    *,
    use_closure: bool = False,
    reload_at: int | None = None,
    record_state: bool = True,
) -> tuple[list[list[torch.Tensor]], list[list[dict[str, torch.Tensor]]]]:
    """Run ``steps`` steps and record parameters (and state) after each.

    Args:
        factory: builds the optimizer from the param groups.
        groups: param groups over tensors from :func:`make_params` (copied, not modified).
        steps: number of optimizer steps.
        use_closure: pass a closure to ``step`` instead of calling ``backward`` outside.
        reload_at: after this many steps, save ``state_dict()``, build a fresh optimizer on the same
            parameters with the factory and ``load_state_dict`` into it, then carry on.
        record_state: also record a copy of every state tensor after each step.

    Returns:
        ``(params_per_step, state_per_step)``; the latter lists, per parameter, a dict of cloned
        state tensors (floats and ints converted to 0-d tensors).
    """
    cloned, leaves = _clone_groups(groups)
    names = [n for g in groups for n in _names_of(g["params"])]
    opt = factory(cloned)
    trajectory, states = [], []
    for t in range(steps):
        by_name = dict(zip(names, leaves, strict=True))

        def closure(
            by_name: dict[str, torch.Tensor] = by_name,
            t: int = t,
            opt: torch.optim.Optimizer = opt,
        ) -> torch.Tensor:
            opt.zero_grad(set_to_none=True)
            loss = objective(by_name, t)
            loss.backward()
            return loss

        if use_closure:
            opt.step(closure)
        else:
            closure()
            opt.step()
        trajectory.append([p.detach().clone() for p in leaves])
        if record_state:
            states.append([_state_copy(opt.state.get(p, {})) for p in leaves])
        if reload_at is not None and t + 1 == reload_at:
            saved = copy.deepcopy(opt.state_dict())
            opt = factory(cloned)
            opt.load_state_dict(saved)
    return trajectory, states


def _state_copy(state: dict[str, Any]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state.items():
        if isinstance(value, torch.Tensor):
            out[key] = value.detach().clone()
        elif isinstance(value, (int, float)):
            out[key] = torch.tensor(float(value), dtype=torch.float64)
    return out


def _names_of(tensors: list[torch.Tensor]) -> list[str]:
    return [p.course_name for p in tensors]


def assert_same_trajectory(
    ours: OptimizerFactory,
    reference: OptimizerFactory,
    groups: list[dict[str, Any]],
    *,
    steps: int = 12,
    rtol: float = 1e-10,
    atol: float = 1e-12,
    use_closure: bool = False,
    reload_at: int | None = None,
    state_keys: Sequence[str] | None = None,
    reload_reference: bool = False,
) -> None:
    """Assert that ``ours`` follows ``reference`` step by step, parameters and state.

    Args:
        ours: factory for the optimizer under test.
        reference: factory for the reference (e.g. the torch.optim class).
        groups: param groups built with :func:`param_groups` over :func:`make_params`.
        steps: number of steps compared.
        rtol: relative tolerance (float64).
        atol: absolute tolerance, for values that pass through zero.
        use_closure: drive ``ours`` through a closure (the reference uses plain backward).
        reload_at: round-trip ``ours`` through ``state_dict`` after this many steps.
        state_keys: state entries to compare; by default every key the reference keeps.
        reload_reference: round-trip the reference too, at ``reload_at``; for references whose
            reload changes the maths (torch's NAdam casts its float32 ``mu_product`` to the
            parameter dtype when loading a state dict).
    """
    ref_reload = reload_at if reload_reference else None
    ref_traj, ref_state = run_trajectory(reference, groups, steps, reload_at=ref_reload)
    our_traj, our_state = run_trajectory(
        ours, groups, steps, use_closure=use_closure, reload_at=reload_at
    )
    names = [n for g in groups for n in _names_of(g["params"])]
    for t in range(steps):
        for name, a, b in zip(names, our_traj[t], ref_traj[t], strict=True):
            if not torch.allclose(a, b, rtol=rtol, atol=atol):
                err = (a - b).abs().max().item()
                raise AssertionError(
                    f"step {t + 1}: parameter {name!r} differs from the reference "
                    f"(max abs error {err:.3e})\nours={a}\nref={b}"
                )
        for name, s_ours, s_ref in zip(names, our_state[t], ref_state[t], strict=True):
            keys = state_keys if state_keys is not None else list(s_ref)
            if not s_ref:
                assert not s_ours, f"step {t + 1}: {name!r} has state {list(s_ours)}, ref has none"
            for key in keys:
                if key not in s_ref:
                    continue
                assert key in s_ours, f"step {t + 1}: state {key!r} of {name!r} is missing"
                a, b = s_ours[key].to(torch.float64), s_ref[key].to(torch.float64)
                if not torch.allclose(a.cpu(), b.cpu(), rtol=rtol, atol=atol):
                    raise AssertionError(
                        f"step {t + 1}: state {key!r} of {name!r} differs from the reference\n"
                        f"ours={a}\nref={b}"
                    )


def grid_id(value: object) -> str:
    """A readable pytest id for a grid point (a dict of hyperparameters)."""
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def switching(first, second):
    """A factory that builds ``first``, and ``second`` when the harness reloads mid-run."""
    built = []

    def factory(groups):
        built.append(None)
        return (first if len(built) == 1 else second)(groups)

    return factory


def drive(opt: torch.optim.Optimizer, params: dict, steps: int) -> None:
    """Take ``steps`` steps of ``opt`` on :func:`objective`."""
    for t in range(steps):
        opt.zero_grad(set_to_none=True)
        objective(params, t).backward()
        opt.step()
