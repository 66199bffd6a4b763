"""init_weights: each scheme's weights checked statistically against its formula."""

import math

import pytest
import torch
from torch import nn

from course_lib.models import (
    INIT_SCHEMES,
    MLP,
    SmallCNN,
    TransformerClassifier,
    build_model,
    init_weights,
    resnet18,
)

FAN_IN, FAN_OUT = 1024, 512  # big layers: the std estimate is within ~0.1% of the truth


def hidden_weight(scheme: str, activation: str = "relu") -> torch.Tensor:
    """The (FAN_OUT, FAN_IN) weight of a one-hidden-layer MLP built with ``scheme``."""
    torch.manual_seed(0)
    model = MLP(FAN_IN, 10, depth=1, width=FAN_OUT, activation=activation, init=scheme)
    return model.hidden[0].weight.detach()


def assert_uniform(w: torch.Tensor, bound: float) -> None:
    """Samples of U(-bound, bound): inside the bound, reaching it, std bound / sqrt(3)."""
    assert w.abs().max() <= bound and w.abs().max() > 0.99 * bound
    assert w.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert abs(w.mean().item()) < 0.02 * bound


def test_default_is_torch_linear_init() -> None:
    torch.manual_seed(0)
    layer = MLP(FAN_IN, 10, depth=1, width=FAN_OUT).hidden[0]
    assert_uniform(layer.weight.detach(), 1 / math.sqrt(FAN_IN))  # not He: std 1/sqrt(3 fan_in)
    assert layer.bias.abs().max() <= 1 / math.sqrt(FAN_IN) and layer.bias.abs().max() > 0


def test_xavier_uniform_bound() -> None:
    assert_uniform(hidden_weight("xavier"), math.sqrt(6 / (FAN_IN + FAN_OUT)))


@pytest.mark.parametrize(
    ("activation", "gain"),
    [("relu", math.sqrt(2)), ("gelu", math.sqrt(2)), ("tanh", 5 / 3), ("identity", 1.0)],
)
def test_he_normal_std(activation: str, gain: float) -> None:
    w = hidden_weight("he", activation)
    assert w.std().item() == pytest.approx(gain / math.sqrt(FAN_IN), rel=0.02)
    assert abs(w.mean().item()) < 0.01 * gain / math.sqrt(FAN_IN)
    # Normal, not uniform: about 4.6% of N(0, s^2) samples lie beyond 2 s.
    assert (w.abs() > 2 * gain / math.sqrt(FAN_IN)).float().mean().item() == pytest.approx(
        0.0455, abs=0.003
    )


def test_he_on_convolutions_uses_c_in_k_k() -> None:
    torch.manual_seed(0)
    conv = resnet18(width=16, init="he").layer4[1].conv1  # (128, 128, 3, 3)
    fan_in = 128 * 3 * 3
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.02)


@pytest.mark.parametrize(("activation", "gain"), [("relu", math.sqrt(2)), ("tanh", 5 / 3)])
def test_orthogonal_rows(activation: str, gain: float) -> None:
    w = hidden_weight("orthogonal", activation)  # (512, 1024): orthonormal rows times gain
    torch.testing.assert_close(w @ w.T, gain**2 * torch.eye(FAN_OUT), atol=1e-4, rtol=0)


def test_orthogonal_convolution_is_orthogonal_when_flattened() -> None:
    torch.manual_seed(0)
    conv = SmallCNN(init="orthogonal").features[4]  # (64, 32, 3, 3) -> (64, 288)
    w = conv.weight.detach().flatten(1)
    torch.testing.assert_close(w @ w.T, 2 * torch.eye(64), atol=1e-4, rtol=0)


@pytest.mark.parametrize("scheme", ["xavier", "he", "orthogonal"])
def test_biases_zero_and_norms_reset(scheme: str) -> None:
    model = MLP(20, 5, depth=2, width=16, norm="batch")
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.weight.fill_(3.0)
                m.bias.fill_(-1.0)
                m.running_mean.fill_(7.0)
    assert init_weights(model, scheme) is model
    for m in model.modules():
        if isinstance(m, nn.Linear) and m.bias is not None:
            assert m.bias.abs().max() == 0
        if isinstance(m, nn.BatchNorm1d):
            assert (m.weight == 1).all() and (m.bias == 0).all() and (m.running_mean == 0).all()


def test_default_changes_nothing() -> None:
    model = MLP(20, 5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    init_weights(model, "default")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("scheme", ["xavier", "he", "orthogonal"])
def test_embeddings_untouched(scheme: str) -> None:
    torch.manual_seed(0)
    model = TransformerClassifier(100, d_model=32, pooling="cls")
    keep = [model.tok_emb.weight, model.pos_emb.weight, model.cls_token]
    before = [p.detach().clone() for p in keep]
    init_weights(model, scheme)
    assert all(torch.equal(a, b) for a, b in zip(before, keep, strict=True))
    assert model.tok_emb.weight[0].abs().max() == 0  # the padding row


def test_transformer_default_attention_init_is_torchs() -> None:
    d = 256
    qkv = TransformerClassifier(100, d_model=d, n_heads=4).blocks[0].attn.qkv
    assert_uniform(qkv.weight.detach(), math.sqrt(6 / (3 * d + d)))  # packed (3d, d) xavier
    assert qkv.bias.abs().max() == 0


def test_multihead_attention_in_proj_is_three_matrices() -> None:
    d = 256
    torch.manual_seed(0)
    attn = init_weights(nn.MultiheadAttention(d, 4), "xavier")
    for w in attn.in_proj_weight.detach().chunk(3):  # each (d, d): bound sqrt(6 / 2d)
        assert_uniform(w, math.sqrt(6 / (2 * d)))
    assert attn.in_proj_bias.abs().max() == 0


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("mlp", {"in_features": 4, "out_features": 2}),
        ("cnn", {}),
        ("resnet18", {"width": 4}),
        ("transformer", {"vocab_size": 10}),
    ],
)
def test_every_model_applies_its_init_argument(name: str, kwargs: dict) -> None:
    torch.manual_seed(0)
    model = build_model(name, init="xavier", **kwargs)
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            fan_out, fan_in = m.weight.shape[0], m.weight[0].numel()
            rf = m.weight[0, 0].numel()  # receptive field: k*k for a conv, 1 for a linear map
            assert m.weight.abs().max() <= math.sqrt(6 / (fan_in + fan_out * rf)) + 1e-7
            assert m.bias is None or m.bias.abs().max() == 0
    with pytest.raises(ValueError, match="xavier"):
        build_model(name, init="lecun", **kwargs)


def test_invalid_arguments_list_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="default, xavier, he, orthogonal"):
        init_weights(MLP(2, 2), "glorot")
    with pytest.raises(ValueError, match="relu"):
        init_weights(MLP(2, 2), "he", nonlinearity="swish")
    assert INIT_SCHEMES == ("default", "xavier", "he", "orthogonal")
