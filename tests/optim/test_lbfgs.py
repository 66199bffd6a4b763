"""L-BFGS and its strong-Wolfe line search, against textbook formulas, torch and scipy.

References used here:
* the explicit BFGS inverse-Hessian update (N&W eq. 6.17), applied as a matrix, for the two-loop
  recursion;
* ``torch.optim.LBFGS``: same trajectory without a line search (same algorithm), a comparable
  number of function evaluations with ``line_search_fn="strong_wolfe"``, state dict interchange;
* ``scipy.optimize``: the evaluation count of L-BFGS-B, ``scipy.linalg.solve`` for a quadratic, and
  ``rosen``/``rosen_der`` to check the Wolfe conditions independently of the search's own numbers.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import scipy.linalg
import scipy.optimize
import torch

from course_lib.optim.lbfgs import LBFGS, LBFGSHistory, push_pair, two_loop
from course_lib.optim.line_search import cubic_minimiser, strong_wolfe
from tests.optim.trajectory import make_params, objective

# --------------------------------------------------------------------------------------------
# functional core
# --------------------------------------------------------------------------------------------


def random_pairs(n: int, m: int, seed: int = 0) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Pairs (s, y = A s) for a random SPD A, so that every y^T s > 0."""
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(n, n, generator=gen, dtype=torch.float64)
    a = q @ q.T + n * torch.eye(n, dtype=torch.float64)
    s = [torch.randn(n, generator=gen, dtype=torch.float64) for _ in range(m)]
    return s, [a @ si for si in s]


def test_two_loop_equals_the_explicit_bfgs_inverse_update():
    n, m = 8, 5
    s, y = random_pairs(n, m)
    history = LBFGSHistory()
    for si, yi in zip(s, y, strict=True):
        history = push_pair(history, si, yi, history_size=m)
    # N&W eq. 6.17, from H0 = gamma I with gamma of the newest pair (eq. 7.20)
    gamma = float(s[-1] @ y[-1]) / float(y[-1] @ y[-1])
    eye = torch.eye(n, dtype=torch.float64)
    h = gamma * eye
    for si, yi in zip(s, y, strict=True):
        rho = 1.0 / float(yi @ si)
        h = (eye - rho * torch.outer(si, yi)) @ h @ (eye - rho * torch.outer(yi, si))
        h = h + rho * torch.outer(si, si)
    g = torch.randn(n, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    torch.testing.assert_close(two_loop(g, history), h @ g, rtol=1e-10, atol=1e-12)
    # the secant equation H_k y_{k-1} = s_{k-1} holds for the newest pair
    torch.testing.assert_close(two_loop(y[-1], history), s[-1], rtol=1e-10, atol=1e-12)


def test_empty_history_gives_the_gradient():
    g = torch.tensor([1.0, -2.0], dtype=torch.float64)
    assert torch.equal(two_loop(g, LBFGSHistory()), g)


def test_push_pair_keeps_the_newest_and_skips_non_positive_curvature():
    s, y = random_pairs(4, 6)
    history = LBFGSHistory()
    for si, yi in zip(s, y, strict=True):
        history = push_pair(history, si, yi, history_size=3)
    assert len(history.s) == len(history.y) == len(history.rho) == 3
    assert all(a is b for a, b in zip(history.s, s[-3:], strict=True))
    assert history.rho[-1] == pytest.approx(1.0 / float(s[-1] @ y[-1]), rel=1e-15)
    assert push_pair(history, s[0], -y[0], history_size=3) is history  # y^T s < 0: skipped
    single = push_pair(history, s[0], y[0], history_size=1)
    assert single.s == (s[0],)


# --------------------------------------------------------------------------------------------
# line search
# --------------------------------------------------------------------------------------------


def test_cubic_minimiser_matches_numpy():
    # the cubic through two points with values and slopes, fitted and minimised by numpy
    a, b = 0.3, 2.0
    coef = np.array([0.7, -2.0, -1.1, 0.4])  # 0.7 x^3 - 2 x^2 - 1.1 x + 0.4
    val, der = np.poly1d(coef), np.poly1d(coef).deriv()
    roots = der.roots
    expected = roots[der.deriv()(roots) > 0][0]  # the root where the cubic is convex
    got = cubic_minimiser(a, val(a), der(a), b, val(b), der(b))
    assert got == pytest.approx(expected, rel=1e-12)
    assert cubic_minimiser(b, val(b), der(b), a, val(a), der(a)) == pytest.approx(
        expected, rel=1e-12
    )
    assert cubic_minimiser(1.0, 0.0, 0.0, 1.0, 0.0, 0.0) is None


def test_zoom_is_exact_on_a_quadratic():
    """phi = (a - 3)^2: the first trial (10) fails sufficient decrease; the cubic through 0 and 10
    of a quadratic is the quadratic, so the next trial is exactly its minimiser."""
    calls = []

    def phi(a: float):
        calls.append(a)
        return (a - 3.0) ** 2, 2.0 * (a - 3.0), None

    result = strong_wolfe(phi, 9.0, -6.0, None, 10.0)
    assert result.success and result.step == pytest.approx(3.0, abs=1e-12)
    assert calls[0] == 10.0 and result.evaluations == 2


def test_curvature_condition_rejects_a_step_that_is_still_steep():
    """phi = -a + a^2/40: at the first trial a = 1 the decrease is sufficient but phi'(1) = -0.95,
    steeper than c2 |phi'(0)| = 0.9, so the search must go further (the minimiser is 20)."""

    def phi(a: float):
        return -a + a * a / 40.0, -1.0 + a / 20.0, None

    result = strong_wolfe(phi, 0.0, -1.0, None, 1.0, c1=1e-4, c2=0.9)
    assert result.success and result.step > 1.0
    assert abs(-1.0 + result.step / 20.0) <= 0.9


def test_bracketing_extrapolates_geometrically_from_a_tiny_step():
    """phi = (a - 100)^2 from a = 1e-3: each trial may grow the step up to 5x, so a handful of
    trials reach the steps where |phi'(a)| <= 0.9 |phi'(0)|, i.e. a >= 10."""

    def phi(a: float):
        return (a - 100.0) ** 2, 2.0 * (a - 100.0), None

    result = strong_wolfe(phi, 1e4, -200.0, None, 1e-3)
    assert result.success and result.evaluations <= 10
    assert 10.0 <= result.step <= 190.0 and result.value == (result.step - 100.0) ** 2


def _log_cosh(x: float) -> float:
    return abs(x) + math.log1p(math.exp(-2.0 * abs(x))) - math.log(2.0)


@pytest.mark.parametrize("c2", [0.1, 0.01])
@pytest.mark.parametrize("step", [0.3, 3.0, 100.0])
@pytest.mark.parametrize(
    ("sharpness", "centre"), [(0.5, 0.7), (3.0, 5.0), (20.0, 0.7), (20.0, 5.0)]
)
def test_zoom_finds_strong_wolfe_points_on_wiggly_functions(sharpness, centre, step, c2):
    """phi = log cosh(k (a - m)) / k + 0.02 sin 7a: nearly flat far out, a ripple near the
    minimum, so the cubic is never exact and small c2 forces several zoom iterations (including
    trials past the minimum, where the bracket must flip)."""

    def phi(a: float):
        value = _log_cosh(sharpness * (a - centre)) / sharpness + 0.02 * math.sin(7.0 * a)
        slope = math.tanh(sharpness * (a - centre)) + 0.14 * math.cos(7.0 * a)
        return value, slope, None

    f0, g0, _ = phi(0.0)
    result = strong_wolfe(phi, f0, g0, None, step, c2=c2, max_evals=30)
    assert result.success
    assert phi(result.step)[0] <= f0 + 1e-4 * result.step * g0
    assert abs(phi(result.step)[1]) <= c2 * abs(g0)


@pytest.mark.parametrize("step", [1e-4, 1e-2, 1.0, 50.0])
def test_line_search_satisfies_strong_wolfe_on_rosenbrock(step: float):
    """Bracketing from a tiny step (extrapolates) and from a huge one (zooms); the conditions are
    checked with scipy's rosen/rosen_der, not with the search's own numbers. scipy's own strong-
    Wolfe search on the same problem must succeed too (the problem is fair)."""
    x0 = np.array([-1.5, 2.0])
    d = -scipy.optimize.rosen_der(x0)
    f0, slope0 = scipy.optimize.rosen(x0), float(scipy.optimize.rosen_der(x0) @ d)

    def phi(a: float):
        x = x0 + a * d
        return scipy.optimize.rosen(x), float(scipy.optimize.rosen_der(x) @ d), None

    result = strong_wolfe(phi, f0, slope0, None, step, c1=1e-4, c2=0.9)
    x = x0 + result.step * d
    assert result.success and result.step > 0
    assert scipy.optimize.rosen(x) <= f0 + 1e-4 * result.step * slope0
    assert abs(float(scipy.optimize.rosen_der(x) @ d)) <= 0.9 * abs(slope0)
    ref = scipy.optimize.line_search(
        scipy.optimize.rosen, scipy.optimize.rosen_der, x0, d, c1=1e-4, c2=0.9
    )
    assert ref[0] is not None


def test_line_search_rejects_an_ascent_direction():
    with pytest.raises(ValueError, match="slope0"):
        strong_wolfe(lambda a: (a, 1.0, None), 0.0, 1.0, None, 1.0)


def test_line_search_returns_zero_step_when_nothing_decreases():
    """phi increases everywhere right of 0 except an infinitesimal dip: the budget runs out and
    the start point (with its payload) comes back, flagged as a failure."""
    result = strong_wolfe(lambda a: (a, 1.0, "trial"), 0.0, -1.0, "start", 1.0, max_evals=6)
    assert (result.step, result.payload, result.success, result.evaluations) == (
        0.0,
        "start",
        False,
        6,
    )


# --------------------------------------------------------------------------------------------
# the optimizer
# --------------------------------------------------------------------------------------------


def rosenbrock(z: torch.Tensor) -> torch.Tensor:
    return (1 - z[0]) ** 2 + 100 * (z[1] - z[0] ** 2) ** 2


def count_evals_to_convergence(cls: type[torch.optim.Optimizer], history_size: int):
    """Minimise Rosenbrock from (-1.5, 2) and count closure calls.

    Settings (the same for ours and torch): lr=1, strong Wolfe, tolerance_grad=1e-10,
    tolerance_change=1e-14, max_iter=1000, max_eval=2000; step is called again until a call leaves
    the parameters unchanged (so each run pays for one last confirming evaluation).
    """
    x = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)
    opt = cls(
        [x], lr=1, max_iter=1000, max_eval=2000, tolerance_grad=1e-10, tolerance_change=1e-14,
        history_size=history_size, line_search_fn="strong_wolfe",
    )  # fmt: skip
    evals = 0

    def closure():
        nonlocal evals
        evals += 1
        opt.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    for _ in range(10):
        before = x.detach().clone()
        opt.step(closure)
        if torch.equal(before, x.detach()):
            break
    return evals, float((x.detach() - 1).norm())


def test_rosenbrock_evaluations_within_25_percent_of_torch_and_scipy():
    """scipy's L-BFGS-B gets the same memory (maxcor=10), gtol=1e-10 and ftol=1e-14; near the
    optimum f < 1, where its relative-reduction test is the same |f_k - f_k+1| < 1e-14 test."""
    ours, our_err = count_evals_to_convergence(LBFGS, history_size=10)
    theirs, torch_err = count_evals_to_convergence(torch.optim.LBFGS, history_size=10)
    sp = scipy.optimize.minimize(
        scipy.optimize.rosen, np.array([-1.5, 2.0]), jac=scipy.optimize.rosen_der,
        method="L-BFGS-B", options={"maxcor": 10, "gtol": 1e-10, "ftol": 1e-14, "maxiter": 1000},
    )  # fmt: skip
    report = f"evaluations: ours {ours}, torch {theirs}, scipy {sp.nfev}"
    assert our_err < 1e-6, report
    assert torch_err < 1e-6 and np.linalg.norm(sp.x - 1) < 1e-6, report  # the references converge
    assert ours <= 1.25 * theirs, report
    assert ours <= 1.25 * sp.nfev, report


def test_without_line_search_follows_torch_step_by_step():
    """Fixed steps are the same algorithm as torch's: equal parameters, losses and counters after
    every step call. A small history (3) makes pairs drop out; the objective (from the shared
    harness) has a parameter without gradient and one with a zero gradient."""
    params_ours, params_ref = make_params(seed=3), make_params(seed=3)
    ours = LBFGS(list(params_ours.values()), lr=0.3, max_iter=4, history_size=3)
    ref = torch.optim.LBFGS(list(params_ref.values()), lr=0.3, max_iter=4, history_size=3)

    def closure_for(opt, params):
        def closure():
            opt.zero_grad()
            loss = objective(params, 0)
            loss.backward()
            return loss

        return closure

    for call in range(6):
        loss_ours = ours.step(closure_for(ours, params_ours))
        loss_ref = ref.step(closure_for(ref, params_ref))
        torch.testing.assert_close(loss_ours, loss_ref, rtol=1e-10, atol=0)
        for name in params_ours:
            torch.testing.assert_close(
                params_ours[name], params_ref[name], rtol=1e-10, atol=1e-12,
                msg=lambda m, name=name, call=call: f"call {call}, {name}: {m}",
            )  # fmt: skip
        s_ours = ours.state[params_ours["weight"]]
        s_ref = ref.state[params_ref["weight"]]
        assert (s_ours["func_evals"], s_ours["n_iter"]) == (s_ref["func_evals"], s_ref["n_iter"])
        assert len(s_ours["old_dirs"]) == len(s_ref["old_dirs"]) <= 3


@pytest.mark.parametrize(
    ("line_search_fn", "tolerance_change", "accuracy"),
    [(None, 0.0, 1e-10), ("strong_wolfe", 1e-15, 1e-7)],
)
def test_convex_quadratic_reaches_the_linear_solve(
    line_search_fn, tolerance_change, accuracy, device
):
    """f = x^T A x / 2 - b^T x in 20 dimensions.

    A line search compares values of f, which float64 resolves only to about eps |f| near the
    optimum; that limits x to about sqrt(eps |f| / lambda_min) ~ 1e-8 here, hence the looser
    bound with strong Wolfe (torch's LBFGS does no better)."""
    n = 20
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(n, n, generator=gen, dtype=torch.float64)
    a = (q @ q.T / n + 0.5 * torch.eye(n, dtype=torch.float64)).to(device)
    b = torch.randn(n, generator=gen, dtype=torch.float64).to(device)
    x = torch.zeros(n, dtype=torch.float64, device=device, requires_grad=True)
    opt = LBFGS([x], max_iter=200, tolerance_grad=1e-12, tolerance_change=tolerance_change,
                history_size=10, line_search_fn=line_search_fn)  # fmt: skip

    def closure():
        opt.zero_grad()
        loss = 0.5 * x @ a @ x - b @ x
        loss.backward()
        return loss

    opt.step(closure)
    expected = scipy.linalg.solve(a.cpu().numpy(), b.cpu().numpy(), assume_a="pos")
    error = np.abs(x.detach().cpu().numpy() - expected).max() / np.abs(expected).max()
    assert error < accuracy


def test_state_dict_round_trip_and_interchange_with_torch():
    """Saved after two calls: reloading into ours, or into torch's LBFGS (and torch's into ours),
    continues exactly like the uninterrupted run: the state uses torch's keys and meanings."""

    def run(first, second, reload):
        x = torch.tensor([-1.2, 1.0, 0.5], dtype=torch.float64, requires_grad=True)
        opt = first([x], max_iter=3, history_size=2, lr=0.5)

        def closure():
            opt.zero_grad()
            loss = rosenbrock(x) + rosenbrock(x[1:])
            loss.backward()
            return loss

        for _ in range(2):
            opt.step(closure)
        if reload:
            saved = copy.deepcopy(opt.state_dict())
            opt = second([x], max_iter=3, history_size=2, lr=0.5)
            opt.load_state_dict(saved)
        for _ in range(3):
            opt.step(closure)
        return x.detach(), opt.state[x]["func_evals"]

    straight, evals = run(LBFGS, LBFGS, reload=False)
    pairs = [(LBFGS, LBFGS), (LBFGS, torch.optim.LBFGS), (torch.optim.LBFGS, LBFGS)]
    for first, second in pairs:
        again, evals_again = run(first, second, reload=True)
        torch.testing.assert_close(again, straight, rtol=1e-10, atol=1e-12)
        assert evals_again == evals


def test_history_size_is_respected():
    x = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
    opt = LBFGS([x], max_iter=30, history_size=4, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    opt.step(closure)
    state = opt.state[x]
    assert state["n_iter"] > 4
    assert len(state["old_dirs"]) == len(state["old_stps"]) == len(state["ro"]) == 4


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"lr": -1.0}, "lr"),
        ({"max_iter": 0}, "max_iter"),
        ({"max_eval": 0}, "max_eval"),
        ({"tolerance_grad": -1e-3}, "tolerance_grad"),
        ({"tolerance_change": float("nan")}, "tolerance_change"),
        ({"history_size": 0}, "history_size"),
        ({"line_search_fn": "backtracking"}, "line_search_fn"),
    ],
)
def test_invalid_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        LBFGS([torch.zeros(2, requires_grad=True)], **kwargs)


def test_one_param_group_only_and_a_closure_is_required():
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(1, requires_grad=True)
    with pytest.raises(ValueError, match="single parameter group"):
        LBFGS([{"params": [a]}, {"params": [b], "lr": 0.1}])
    opt = LBFGS([a])
    with pytest.raises(ValueError, match="single parameter group"):
        opt.add_param_group({"params": [b]})
    with pytest.raises(TypeError, match="closure"):
        opt.step()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="closure"):
        opt.step(None)  # type: ignore[arg-type]
