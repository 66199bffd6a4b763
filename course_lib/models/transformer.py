"""A tiny Transformer encoder that classifies token sequences (e.g. IMDb sentiment).

tokens ``(N, L)`` -> token embedding + position ``(N, L, d)`` -> ``n_layers`` pre-norm encoder
blocks -> final LayerNorm -> pooling over the real (non-pad) tokens ``(N, d)`` -> linear head.

The block is written out here rather than taken from ``nn.TransformerEncoderLayer`` so that a
reader sees every tensor shape, but it computes the same function as
``nn.TransformerEncoderLayer(d, n_heads, d_ff, activation="gelu", batch_first=True,
norm_first=True)`` (a test copies weights across and compares), and its ``"default"`` init is
that layer's: ``xavier_uniform_`` on the packed ``(3 d, d)`` query-key-value weight, zero
attention biases, PyTorch's init elsewhere. ``dropout`` sits where torch puts it: after each
sub-layer and after the feed-forward activation, plus on the embeddings. Dropout on the attention
*weights* (torch's layer uses ``dropout`` there too) is a separate ``attention_dropout``, off by
default: on a CPU it stops the fused attention kernel and draws a mask of shape ``(N, h, L, L)``,
which made a training step of the default model at ``L = 256`` 3.3x slower (2.85 s vs 0.86 s,
one thread). With ``attention_dropout=dropout`` the block is torch's layer exactly.

Padding: ``tokens == pad_id`` marks padding. Pad positions are masked out as attention *keys*
and ignored by every pooling, so appending pads never changes the output (eval mode). A row made
only of pads attends to all its positions (so the softmax stays defined) and pools to 0.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.models.init import init_weights

__all__ = ["POOLINGS", "POSITIONS", "EncoderBlock", "TransformerClassifier", "sinusoidal_positions"]

POOLINGS: tuple[str, ...] = ("mean", "cls", "max")
POSITIONS: tuple[str, ...] = ("learned", "sinusoidal")


def sinusoidal_positions(max_len: int, d_model: int) -> torch.Tensor:
    """Vaswani et al. (2017): ``PE[p, 2i] = sin(p / 10000^(2i/d))``, ``PE[p, 2i+1] = cos(...)``.

    Returns:
        A ``(max_len, d_model)`` table; ``d_model`` must be even.
    """
    position = torch.arange(max_len, dtype=torch.float32)[:, None]  # (L, 1)
    inv_freq = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))  # (d/2,)
    table = torch.zeros(max_len, d_model)
    table[:, 0::2] = torch.sin(position * inv_freq)  # (L, d/2)
    table[:, 1::2] = torch.cos(position * inv_freq)
    return table


class SelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention with a key-padding mask."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.n_heads, self.dropout = n_heads, dropout  # dropout on the attention weights
        self.qkv = nn.Linear(d_model, 3 * d_model)  # packed [W_q; W_k; W_v], as in torch
        self.proj = nn.Linear(d_model, d_model)
        # nn.MultiheadAttention's own init, so that "default" means what torch's layer does.
        nn.init.xavier_uniform_(self.qkv.weight)
        nn.init.zeros_(self.qkv.bias)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """``x (N, L, d)``, ``keep (N, L)`` True where a key may be attended to -> ``(N, L, d)``."""
        N, L, d = x.shape
        h = self.n_heads
        q, k, v = self.qkv(x).split(d, dim=2)  # 3 x (N, L, d)
        # (N, L, d) -> (N, h, L, d/h): each head attends in its own d/h-dimensional subspace
        q, k, v = (t.view(N, L, h, d // h).transpose(1, 2) for t in (q, k, v))
        # softmax(q k^T / sqrt(d/h)) v, with masked keys getting weight 0; the boolean mask
        # (N, 1, 1, L) broadcasts over heads and queries. Pad *queries* still get an output,
        # which nothing downstream reads.
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=keep[:, None, None, :], dropout_p=p)
        # y: (N, h, L, d/h)
        y = y.transpose(1, 2).reshape(N, L, d)  # concatenate the heads: (N, L, d)
        return self.proj(y)


class EncoderBlock(nn.Module):
    """Pre-norm block: ``x + attn(LN(x))``, then ``x + FF(LN(x))`` with ``FF = W2 gelu(W1 x)``."""

    def __init__(
        self, d_model: int, n_heads: int, d_ff: int, dropout: float, attention_dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attn = SelfAttention(d_model, n_heads, attention_dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(d_model)
        self.linear1 = nn.Linear(d_model, d_ff)
        self.activation = nn.GELU()
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """``(N, L, d) -> (N, L, d)``; the residual stream itself is never normalised."""
        x = x + self.dropout1(self.attn(self.norm1(x), keep))
        ff = self.linear2(self.dropout(self.activation(self.linear1(self.norm2(x)))))  # (N,L,d)
        return x + self.dropout2(ff)


class TransformerClassifier(nn.Module):
    """Token embedding + positions + pre-norm encoder blocks + masked pooling + linear head.

    Args:
        vocab_size: number of token ids (``pad_id`` included).
        num_classes: number of outputs.
        d_model: embedding width ``d``.
        n_heads: attention heads; must divide ``d_model``.
        n_layers: encoder blocks.
        d_ff: hidden width of the feed-forward layer; ``None`` means ``4 * d_model``.
        max_len: longest sequence accepted (size of the position table).
        dropout: dropout probability on the embeddings, the sub-layer outputs and the
            feed-forward activations.
        pooling: ``"mean"`` over real tokens | ``"max"`` over real tokens | ``"cls"``: a learned
            vector (without position) prepended to every sequence, whose output is read.
        pad_id: the padding token; its embedding row is 0 and gets no gradient.
        positions: ``"learned"`` (an ``nn.Embedding(max_len, d)``) | ``"sinusoidal"`` (fixed).
        init: initialisation scheme, see :func:`~course_lib.models.init.init_weights`; the
            embeddings and the CLS vector keep ``N(0, 1)`` under every scheme.
        attention_dropout: dropout probability on the attention weights (see the module
            docstring for why it is separate and 0 by default).

    Shape:
        input ``(N, L)`` integer token ids with ``L <= max_len``, output ``(N, num_classes)``.
    """

    # 4 of the 5 weight matrices of a block feed no nonlinearity, so "he" and "orthogonal" use
    # gain 1 (He-normal is then LeCun-normal: std 1/sqrt(fan_in)).
    nonlinearity = "linear"

    def __init__(
        self,
        vocab_size: int,
        num_classes: int = 2,
        d_model: int = 64,
        n_heads: int = 4,
        n_layers: int = 2,
        d_ff: int | None = None,
        max_len: int = 256,
        dropout: float = 0.1,
        pooling: str = "mean",
        pad_id: int = 0,
        positions: str = "learned",
        init: str = "default",
        attention_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; use one of {', '.join(POOLINGS)}")
        if positions not in POSITIONS:
            raise ValueError(f"unknown positions {positions!r}; use one of {', '.join(POSITIONS)}")
        if d_model % n_heads != 0 or (positions == "sinusoidal" and d_model % 2 != 0):
            raise ValueError(
                f"d_model={d_model} must be divisible by n_heads={n_heads} (and even for "
                f"sinusoidal positions)"
            )
        if not 0 <= pad_id < vocab_size:
            raise ValueError(f"pad_id={pad_id} must be a token id in [0, {vocab_size})")
        if not (0.0 <= dropout < 1.0 and 0.0 <= attention_dropout < 1.0):
            raise ValueError(f"dropouts must be in [0, 1); got {dropout}, {attention_dropout}")
        self.pad_id, self.max_len, self.pooling = pad_id, max_len, pooling

        self.tok_emb = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        if positions == "learned":
            self.pos_emb = nn.Embedding(max_len, d_model)
        else:  # a fixed table, not a parameter; rebuilt on load, so kept out of the state dict
            self.pos_emb = None
            self.register_buffer(
                "pos_table", sinusoidal_positions(max_len, d_model), persistent=False
            )
        self.cls_token = nn.Parameter(torch.randn(1, 1, d_model)) if pooling == "cls" else None
        self.emb_dropout = nn.Dropout(dropout)
        d_ff = 4 * d_model if d_ff is None else d_ff
        self.blocks = nn.ModuleList(
            EncoderBlock(d_model, n_heads, d_ff, dropout, attention_dropout)
            for _ in range(n_layers)
        )
        # Pre-norm blocks add to an un-normalised residual stream: normalise it once at the end.
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)
        init_weights(self, init)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, num_classes)`` of token ids ``(N, L)``."""
        if tokens.dim() != 2 or tokens.shape[1] > self.max_len:
            raise ValueError(
                f"expected token ids of shape (N, L) with L <= max_len={self.max_len}; got "
                f"shape {tuple(tokens.shape)}"
            )
        N, L = tokens.shape
        keep = tokens != self.pad_id  # (N, L): True for real tokens
        table = self.pos_table if self.pos_emb is None else self.pos_emb.weight  # (max_len, d)
        x = self.tok_emb(tokens) + table[:L]  # (N, L, d) + (L, d) broadcast over the batch
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(N, -1, -1), x], dim=1)  # (N, 1 + L, d)
            keep = torch.cat([keep.new_ones(N, 1), keep], dim=1)  # (N, 1 + L)
        x = self.emb_dropout(x)

        # An all-pad row would mask every key (softmax of nothing): let it attend to all.
        attn_keep = keep | ~keep.any(dim=1, keepdim=True)
        for block in self.blocks:
            x = block(x, attn_keep)  # (N, L', d)
        x = self.norm(x)
        return self.head(self._pool(x, keep))  # (N, d) -> (N, num_classes)

    def _pool(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """``x (N, L, d)`` -> ``(N, d)``, reading only positions where ``keep (N, L)`` is True."""
        if self.pooling == "cls":
            return x[:, 0]  # the CLS position, which attended to every real token
        mask = keep[:, :, None]  # (N, L, 1)
        if self.pooling == "mean":
            count = mask.sum(dim=1).clamp(min=1)  # (N, 1); an all-pad row divides 0 by 1
            return (x * mask).sum(dim=1) / count
        pooled = x.masked_fill(~mask, float("-inf")).amax(dim=1)  # (N, d)
        return pooled.masked_fill(~keep.any(dim=1, keepdim=True), 0.0)  # all-pad rows: 0
