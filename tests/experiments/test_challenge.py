"""The challenge's rules: the starter's bad initialisation, the architecture check, the budget."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from course_lib.experiments import challenge as CH
from course_lib.models import MLP

SMALL = dataclasses.replace(CH.RULES, depth=3, width=8, steps=7, batch_size=32)


def test_starter_weights_have_the_bad_scale() -> None:
    model = CH.starter_model(0)
    weights = [m.weight for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert len(weights) == CH.RULES.depth + 1
    flat = torch.cat([w.detach().flatten() for w in weights]).double()
    # Sample std of N(0, 0.05^2) draws: within 5% for ~25k draws.
    assert flat.std().item() == pytest.approx(CH.RULES.init_std, rel=0.05)
    assert all(m.bias.abs().max() == 0 for m in model.modules() if isinstance(m, torch.nn.Linear))
    again = CH.starter_model(0)
    for p, q in zip(model.parameters(), again.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_check_architecture() -> None:
    CH.check_architecture(CH.starter_model(1))
    with pytest.raises(ValueError):
        CH.check_architecture(MLP(40, 10, depth=CH.RULES.depth, width=CH.RULES.width + 1))
    with pytest.raises(ValueError):
        CH.check_architecture(
            MLP(40, 10, depth=CH.RULES.depth, width=CH.RULES.width, activation="relu")
        )
    with pytest.raises(ValueError):
        CH.check_architecture(
            MLP(40, 10, depth=CH.RULES.depth, width=CH.RULES.width, activation="tanh", norm="layer")
        )


def test_train_entry_takes_exactly_the_budget_and_matches_a_hand_loop() -> None:
    model = CH.starter_model(0, SMALL)
    reference = CH.starter_model(0, SMALL)
    entry = CH.train_entry(model, lambda p: torch.optim.SGD(p, lr=0.1), rules=SMALL)
    assert entry.steps == SMALL.steps
    assert 0.0 <= entry.test_accuracy <= 1.0
    # The same steps by hand, with torch's SGD and the batches fit visits.
    from course_lib.train import epoch_permutation

    data = CH.challenge_data(SMALL)
    opt = torch.optim.SGD(reference.parameters(), lr=0.1)
    order = epoch_permutation(len(data.train.y), 0, 0)
    for i in range(SMALL.steps):
        idx = order[i * SMALL.batch_size : (i + 1) * SMALL.batch_size]
        loss = torch.nn.functional.cross_entropy(reference(data.train.x[idx]), data.train.y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
