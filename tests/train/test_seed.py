"""Seeding, deterministic mode and snapshots of the random generators."""

import os
import random

import numpy as np
import pytest
import torch

from course_lib.train import deterministic_mode, fit, seed_everything
from course_lib.train.seed import get_rng_states, set_rng_states

from .tiny import assert_same_weights, classification_data, dropout_mlp, sgd


def _draws() -> tuple[float, float, torch.Tensor]:
    return random.random(), float(np.random.rand()), torch.rand(3)


def test_seed_everything_repeats_every_generator() -> None:
    seed_everything(7)
    first = _draws()
    seed_everything(7)
    second = _draws()
    assert first[:2] == second[:2]
    assert torch.equal(first[2], second[2])


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_seed_range(seed: int) -> None:
    with pytest.raises(ValueError, match="seed"):
        seed_everything(seed)


def test_rng_states_round_trip() -> None:
    seed_everything(3)
    states = get_rng_states()
    first = _draws()
    np.random.randn()  # leave numpy's cached gaussian in a different state too
    set_rng_states(states)
    second = _draws()
    assert first[:2] == second[:2]
    assert torch.equal(first[2], second[2])


def test_deterministic_mode_sets_and_restores_flags() -> None:
    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark)
    with deterministic_mode():
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.deterministic
        assert not torch.backends.cudnn.benchmark
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"]
    assert (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark) == before
    with deterministic_mode(False):
        assert torch.are_deterministic_algorithms_enabled() == before[0]


def test_deterministic_fit_is_reproducible_and_restores_flags() -> None:
    data = classification_data()
    models = []
    for _ in range(2):
        model = dropout_mlp()
        fit(
            model,
            data,
            loss_fn=torch.nn.functional.cross_entropy,
            optimizer=sgd(),
            epochs=2,
            batch_size=16,
            seed=5,
            deterministic=True,
            device="cpu",
            progress=False,
        )
        models.append(model)
        assert not torch.are_deterministic_algorithms_enabled()
    assert_same_weights(*models)
    # A different seed gives other dropout masks and batches, hence other weights.
    other = dropout_mlp()
    fit(
        other,
        data,
        loss_fn=torch.nn.functional.cross_entropy,
        optimizer=sgd(),
        epochs=2,
        batch_size=16,
        seed=6,
        device="cpu",
        progress=False,
    )
    assert not torch.equal(other[0].weight, models[0][0].weight)
