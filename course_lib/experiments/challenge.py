"""The course's hands-on challenge: rescue a badly initialised deep network on MNIST-1D.

The starting point (:func:`starter_model`) is a deep, narrow tanh MLP whose weights are drawn
from :math:`\\mathcal N(0, 0.05^2)`, far below the :math:`1/\\sqrt{\\text{fan-in}}` scale that
keeps a signal alive through a tanh layer: the forward signal and the backward gradient shrink
layer after layer, and plain SGD with momentum stays at chance level. The challenge is to make
that network beat a *shallow* network of the same width (:func:`shallow_reference`) on the
test set within a fixed budget of optimizer steps, using only what the course teaches:

* allowed: the optimizer and its hyperparameters, the learning-rate schedule, gradient
  clipping, and re-initialising the weights (any scheme, e.g.
  :func:`~course_lib.models.init.init_weights`);
* fixed: the architecture (:data:`RULES`' depth, width and activation; no normalisation
  layers, no skip connections), the training data, the batch size and the step budget.

:func:`train_entry` trains an entry under the rules and scores it; :func:`check_architecture`
is the referee's check that the network is still the one handed out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from course_lib.experiments.common import load_data, predict


@dataclass(frozen=True)
class Rules:
    """The challenge's fixed sizes.

    Attributes:
        depth: hidden layers of the deep network.
        width: units per hidden layer.
        activation: the hidden activation.
        init_std: standard deviation of the starter's (bad) initial weights.
        steps: optimizer steps an entry may take.
        batch_size: examples per step.
        dataset: the ``course_lib.data`` dataset.
    """

    depth: int = 10
    width: int = 48
    activation: str = "tanh"
    init_std: float = 0.05
    steps: int = 600
    batch_size: int = 64
    dataset: str = "mnist1d"


RULES = Rules()


@dataclass
class Entry:
    """An entry's score and what produced it.

    Attributes:
        test_accuracy: accuracy on the test split after the last step (the score).
        val_accuracy: accuracy on the validation split after the last step (for tuning).
        train_loss: mean training loss of the last epoch.
        steps: optimizer steps taken.
        history: the run's :class:`~course_lib.train.History`.
    """

    test_accuracy: float
    val_accuracy: float
    train_loss: float
    steps: int
    history: Any


def challenge_data(rules: Rules = RULES) -> Any:
    """The challenge's data splits (train, val, test), the same for every entry."""
    return load_data(rules.dataset, seed=0)


def starter_model(seed: int = 0, rules: Rules = RULES) -> nn.Module:
    """The deep tanh MLP with its bad initialisation: weights ``N(0, init_std^2)``, zero biases.

    Args:
        seed: seeds the weights.
        rules: the sizes.
    """
    from course_lib.models import MLP
    from course_lib.train import seed_everything

    data = challenge_data(rules)
    seed_everything(seed)
    model = MLP(
        data.train.x.shape[1],
        data.meta["num_classes"],
        depth=rules.depth,
        width=rules.width,
        activation=rules.activation,
    )
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear):
                module.weight.normal_(0.0, rules.init_std)
                module.bias.zero_()
    return model


def shallow_model(seed: int = 0, rules: Rules = RULES) -> nn.Module:
    """One hidden layer of the same width and activation, torch's default initialisation."""
    from course_lib.models import MLP
    from course_lib.train import seed_everything

    data = challenge_data(rules)
    seed_everything(seed)
    return MLP(
        data.train.x.shape[1],
        data.meta["num_classes"],
        depth=1,
        width=rules.width,
        activation=rules.activation,
    )


def check_architecture(model: nn.Module, rules: Rules = RULES) -> None:
    """Raise if ``model`` is not the challenge's network (layer shapes and activations).

    Raises:
        ValueError: naming what differs.
    """
    reference = starter_model(0, rules)
    shapes = [tuple(p.shape) for p in model.parameters()]
    expected = [tuple(p.shape) for p in reference.parameters()]
    if shapes != expected:
        raise ValueError(f"parameter shapes {shapes} differ from the challenge's {expected}")
    kinds = [type(m).__name__ for m in model.modules() if not list(m.children())]
    expected_kinds = [type(m).__name__ for m in reference.modules() if not list(m.children())]
    if kinds != expected_kinds:
        raise ValueError(f"layers {kinds} differ from the challenge's {expected_kinds}")


def train_entry(
    model: nn.Module,
    optimizer: Callable[[Any], torch.optim.Optimizer],
    *,
    scheduler: Callable[[torch.optim.Optimizer], Any] | None = None,
    clip_grad_norm: float | None = None,
    seed: int = 0,
    rules: Rules = RULES,
    enforce_architecture: bool = True,
) -> Entry:
    """Train ``model`` under the rules (fixed data, batch size and step budget) and score it.

    Args:
        model: the network (the starter, possibly re-initialised).
        optimizer: a factory ``params -> optimizer``.
        scheduler: a factory ``optimizer -> scheduler`` stepped after every step, or ``None``.
        clip_grad_norm: clip the global gradient norm to this value, or ``None``.
        seed: the batch order.
        rules: the sizes.
        enforce_architecture: check :func:`check_architecture` first (off for the shallow
            reference, which is not an entry).

    Returns:
        The :class:`Entry`, scored on the test split after exactly ``rules.steps`` steps.
    """
    from course_lib.train import fit
    from course_lib.train.metrics import accuracy

    if enforce_architecture:
        check_architecture(model, rules)
    data = challenge_data(rules)
    per_epoch = math.ceil(len(data.train.y) / rules.batch_size)
    history = fit(
        model,
        data.train,
        val=data.val,
        loss_fn=nn.functional.cross_entropy,
        optimizer=optimizer,
        scheduler=scheduler,
        scheduler_interval="step",
        epochs=math.ceil(rules.steps / per_epoch),
        batch_size=rules.batch_size,
        metrics={"accuracy": accuracy},
        device="cpu",
        seed=seed,
        clip_grad_norm=clip_grad_norm,
        max_steps=rules.steps,
        progress=False,
    )
    test = accuracy(predict(model, data.test.x, torch.device("cpu")), data.test.y)
    last = history.epochs[-1]
    return Entry(
        test_accuracy=float(test),
        val_accuracy=float(last["val_accuracy"]),
        train_loss=float(last["train_loss"]),
        steps=len(history.steps),
        history=history,
    )


def shallow_reference(seed: int = 0, rules: Rules = RULES) -> Entry:
    """The target: a one-hidden-layer network trained with Adam (lr 3e-3, warm-up + cosine).

    The same width, activation, data, batch size and step budget as an entry; its test
    accuracy is the bar the deep network must clear.
    """
    from course_lib.experiments.schedules import schedule_multiplier
    from course_lib.optim import Adam
    from course_lib.schedules import ScheduleLR

    multiplier = schedule_multiplier("warmup_cosine", rules.steps, 0.1)
    return train_entry(
        shallow_model(seed, rules),
        lambda params: Adam(params, lr=3e-3),
        scheduler=lambda opt: ScheduleLR(opt, multiplier),
        seed=seed,
        rules=rules,
        enforce_architecture=False,
    )
