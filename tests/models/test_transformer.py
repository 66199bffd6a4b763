"""TransformerClassifier: shapes, padding invariance, pooling, and the block against torch's."""

import math

import pytest
import torch
from torch import nn

from course_lib.models import POOLINGS, POSITIONS, TransformerClassifier, count_parameters
from course_lib.models.transformer import EncoderBlock, sinusoidal_positions
from tests.models.helpers import assert_trains, same_state

VOCAB, PAD = 50, 0


def tokens_with_padding(n: int = 3, length: int = 12, seed: int = 0) -> torch.Tensor:
    """(n, length) ids in [1, VOCAB) with rows of lengths length, length - 3, length - 7."""
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(1, VOCAB, (n, length), generator=g)
    for i in range(n):
        tokens[i, length - (0, 3, 7)[i % 3] :] = PAD
    return tokens


def small(**kwargs) -> TransformerClassifier:
    return TransformerClassifier(VOCAB, **{"d_model": 16, "n_heads": 2, "max_len": 32, **kwargs})


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("positions", POSITIONS)
@pytest.mark.parametrize("n_layers", [1, 3])
def test_shapes_and_backward(pooling: str, positions: str, n_layers: int) -> None:
    model = small(num_classes=4, pooling=pooling, positions=positions, n_layers=n_layers)
    assert_trains(model, tokens_with_padding(), 4)
    assert model.tok_emb.weight.grad[PAD].abs().max() == 0  # padding_idx: no gradient


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("positions", POSITIONS)
def test_appending_padding_changes_nothing(pooling: str, positions: str) -> None:
    torch.manual_seed(0)
    model = small(pooling=pooling, positions=positions, n_layers=2).eval()
    tokens = tokens_with_padding()
    padded = torch.cat([tokens, torch.full((3, 9), PAD)], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(model(padded), model(tokens), rtol=0, atol=1e-5)


def test_poolings_differ_on_the_same_weights() -> None:
    torch.manual_seed(0)
    models = {p: small(pooling=p).eval() for p in POOLINGS}
    state = models["mean"].state_dict()
    models["max"].load_state_dict(state)
    missing = models["cls"].load_state_dict(state, strict=False).missing_keys
    assert missing == ["cls_token"]
    tokens = tokens_with_padding()
    with torch.no_grad():
        out = {p: m(tokens) for p, m in models.items()}
    for a, b in [("mean", "max"), ("mean", "cls"), ("max", "cls")]:
        assert not torch.allclose(out[a], out[b], atol=1e-3), (a, b)


def test_mean_pooling_reads_only_real_tokens() -> None:
    model = small(n_layers=0, dropout=0.0).eval()
    tokens = torch.tensor([[5, 7, PAD, PAD]])
    x = model.norm(model.tok_emb(tokens[:, :2]) + model.pos_emb.weight[:2])  # (1, 2, d)
    torch.testing.assert_close(model(tokens), model.head(x.mean(dim=1)))


def test_block_matches_torch_encoder_layer() -> None:
    torch.manual_seed(0)
    d, h, d_ff = 16, 4, 24
    ours = EncoderBlock(d, h, d_ff, dropout=0.0)
    ref = nn.TransformerEncoderLayer(
        d, h, d_ff, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
    )
    with torch.no_grad():
        ref.self_attn.in_proj_weight.copy_(ours.attn.qkv.weight)
        ref.self_attn.in_proj_bias.copy_(torch.randn(3 * d))
        ours.attn.qkv.bias.copy_(ref.self_attn.in_proj_bias)
        for a, b in [
            (ref.self_attn.out_proj, ours.attn.proj),
            (ref.linear1, ours.linear1),
            (ref.linear2, ours.linear2),
            (ref.norm1, ours.norm1),
            (ref.norm2, ours.norm2),
        ]:
            a.load_state_dict(b.state_dict())
    x = torch.randn(3, 10, d)
    keep = tokens_with_padding(length=10) != PAD  # (3, 10)
    for mode in (True, False):  # train mode, and eval mode (torch's fused fast path)
        ours.train(mode)
        ref.train(mode)
        with torch.no_grad():
            expected = ref(x, src_key_padding_mask=~keep)
            got = ours(x, keep)
        torch.testing.assert_close(got[keep], expected[keep], rtol=1e-5, atol=1e-5)
    assert count_parameters(ours) == count_parameters(ref)


@pytest.mark.parametrize(("dropout", "attention_dropout"), [(0.5, 0.0), (0.0, 0.5), (0.3, 0.3)])
def test_dropout_off_in_eval_mode(dropout: float, attention_dropout: float) -> None:
    model = small(dropout=dropout, attention_dropout=attention_dropout)
    tokens = tokens_with_padding()
    model.eval()
    torch.testing.assert_close(model(tokens), model(tokens), rtol=0, atol=0)
    model.train()
    assert not torch.equal(model(tokens), model(tokens))


def test_all_padding_row_is_finite() -> None:
    for pooling in POOLINGS:
        tokens = tokens_with_padding()
        tokens[1] = PAD
        assert torch.isfinite(small(pooling=pooling).eval()(tokens)).all()


def test_sinusoidal_table() -> None:
    table = sinusoidal_positions(20, 8)
    p, i = 7, 2
    assert math.isclose(table[p, 2 * i], math.sin(p / 10000 ** (2 * i / 8)), rel_tol=1e-5)
    assert math.isclose(table[p, 2 * i + 1], math.cos(p / 10000 ** (2 * i / 8)), rel_tol=1e-5)
    model = small(positions="sinusoidal")
    assert "pos_table" not in model.state_dict()  # a fixed table, not learned
    assert count_parameters(small(positions="learned")) - count_parameters(model) == 32 * 16


def test_parameter_count_by_formula() -> None:
    d, d_ff, layers, classes, max_len, vocab = 64, 256, 2, 2, 256, 20_000
    block = (3 * d * d + 3 * d) + (d * d + d) + (d * d_ff + d_ff) + (d_ff * d + d) + 4 * d
    expected = vocab * d + max_len * d + layers * block + 2 * d + (d + 1) * classes
    assert count_parameters(TransformerClassifier(vocab)) == expected == 1_396_610
    assert count_parameters(TransformerClassifier(vocab, pooling="cls")) == expected + d


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pooling": "first"},
        {"positions": "rotary"},
        {"d_model": 10, "n_heads": 4},
        {"pad_id": VOCAB},
        {"dropout": 1.0},
        {"attention_dropout": -0.1},
    ],
)
def test_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        small(**kwargs)


def test_too_long_input_raises() -> None:
    with pytest.raises(ValueError, match="max_len=32"):
        small()(torch.ones(2, 33, dtype=torch.long))


def test_seed_gives_identical_models() -> None:
    torch.manual_seed(2)
    a = small(pooling="cls")
    torch.manual_seed(2)
    assert same_state(a, small(pooling="cls"))
