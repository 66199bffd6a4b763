"""MLP: shapes on flattened images, exact parameter counts, norms in train and eval modes."""

import pytest
import torch
from torch import nn

from course_lib.models import MLP, count_parameters
from tests.models.helpers import assert_trains, same_state


def mlp_count(d0: int, out: int, depth: int, w: int, norm: str | None) -> int:
    """The hand formula of the module docstring."""
    if depth == 0:
        return (d0 + 1) * out
    b = 0 if norm == "batch" else 1
    n = 0 if norm is None else 2 * w
    return (d0 + b) * w + (depth - 1) * (w + b) * w + (w + 1) * out + depth * n


@pytest.mark.parametrize("depth", [0, 1, 3])
@pytest.mark.parametrize("norm", [None, "batch", "layer"])
def test_parameter_count_matches_formula(depth: int, norm: str | None) -> None:
    model = MLP(784, 10, depth=depth, width=32, norm=norm)
    assert count_parameters(model) == mlp_count(784, 10, depth, 32, norm)


def test_default_count_by_hand() -> None:
    # 784*128 + 128 + 128*128 + 128 + 128*10 + 10
    assert count_parameters(MLP(784, 10)) == 118_282


@pytest.mark.parametrize("shape", [(3, 1, 28, 28), (3, 3, 32, 32), (3, 20)])
@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu", "sigmoid", "identity"])
def test_shapes_and_backward(shape: tuple[int, ...], activation: str) -> None:
    in_features = int(torch.tensor(shape[1:]).prod())
    model = MLP(in_features, 7, depth=2, width=16, activation=activation, dropout=0.1)
    assert_trains(model, torch.randn(shape), 7)


def test_depth_zero_is_one_linear_map() -> None:
    model = MLP(5, 3, depth=0)
    assert [type(m) for m in model.modules() if not isinstance(m, (MLP, nn.Sequential))] == [
        nn.Linear
    ]


def test_wrong_input_size_names_the_shapes() -> None:
    with pytest.raises(ValueError, match="784"):
        MLP(784, 10)(torch.randn(2, 3, 32, 32))


@pytest.mark.parametrize(
    "kwargs",
    [{"activation": "swish"}, {"norm": "group"}, {"dropout": 1.0}, {"depth": -1}, {"width": 0}],
)
def test_bad_arguments_raise(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        MLP(4, 2, **kwargs)


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_norm_train_and_eval(norm: str) -> None:
    torch.manual_seed(0)
    model = MLP(10, 3, depth=2, width=8, norm=norm)
    x = torch.randn(16, 10) * 5 + 3
    model.train()
    y_train = model(x)
    model.eval()
    y_eval = model(x)
    if norm == "batch":
        # One step of running averages (momentum 0.1) is far from the batch statistics.
        bn = model.hidden[1]
        assert isinstance(bn, nn.BatchNorm1d) and int(bn.num_batches_tracked) == 1
        assert not torch.allclose(y_train, y_eval, atol=1e-3)
        # Eval mode handles a batch of one (train-mode batch norm cannot).
        assert model(x[:1]).shape == (1, 3)
    else:
        torch.testing.assert_close(y_train, y_eval)  # layer norm has no running state


def test_batch_norm_layers_have_no_bias_before_them() -> None:
    model = MLP(10, 3, depth=2, width=8, norm="batch")
    linears = [m for m in model.hidden if isinstance(m, nn.Linear)]
    assert all(m.bias is None for m in linears) and model.head.bias is not None


def test_dropout_only_in_train_mode() -> None:
    model = MLP(10, 3, depth=2, width=64, dropout=0.5)
    x = torch.randn(4, 10)
    model.eval()
    torch.testing.assert_close(model(x), model(x), rtol=0, atol=0)
    model.train()
    assert not torch.equal(model(x), model(x))


def test_seed_gives_identical_models() -> None:
    torch.manual_seed(1)
    a = MLP(10, 3, norm="batch")
    torch.manual_seed(1)
    b = MLP(10, 3, norm="batch")
    assert same_state(a, b)
    assert not same_state(a, MLP(10, 3, norm="batch"))
