"""Weight initialisation schemes, applied to a whole model in place.

Every model of :mod:`course_lib.models` takes ``init=`` and calls :func:`init_weights` at the end
of its constructor, so that the chapters on initialisation can train the same architecture under
each scheme. The schemes (``W`` is a weight of shape ``(fan_out, fan_in)``, or a convolution
kernel ``(C_out, C_in, k, k)`` whose fans are ``C_in * k * k`` and ``C_out * k * k``):

* ``"default"``: change nothing. Freshly built, every layer holds PyTorch's own init:
  ``nn.Linear`` and ``nn.Conv2d`` draw ``W, b ~ U(-1/sqrt(fan_in), +1/sqrt(fan_in))`` (this is
  ``kaiming_uniform_(a=sqrt(5))``, not He's init), norms hold weight 1 and bias 0,
  ``nn.Embedding`` draws ``N(0, 1)``.
* ``"xavier"``: ``W ~ U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio,
  2010, ``xavier_uniform_`` with gain 1), biases 0. ``Var W = 2 / (fan_in + fan_out)``.
* ``"he"``: ``W ~ N(0, gain^2 / fan_in)`` (He et al., 2015, ``kaiming_normal_`` in fan-in mode),
  biases 0. ``gain = calculate_gain(nonlinearity)``: sqrt(2) for ReLU, 5/3 for tanh, 1 for
  identity and sigmoid. (torchvision's ResNets use fan-out mode instead; the course uses fan-in,
  which keeps the forward signal's variance, as in the paper's main derivation.)
* ``"orthogonal"``: ``W`` (flattened to ``(fan_out, C_in * k * k)``) is ``gain`` times a random
  orthogonal matrix (Saxe et al., 2014, ``orthogonal_``), so ``W W^T = gain^2 I`` when
  ``fan_out <= fan_in``; biases 0.

Under every scheme but ``"default"``, norm layers (batch, layer, group, instance) are reset to
weight 1, bias 0 (and fresh running statistics). ``nn.MultiheadAttention``'s packed ``in_proj``
weight ``(3 d, d)`` is initialised as the three ``(d, d)`` maps (query, key, value) it packs.

Embeddings (``nn.Embedding``, learned positions, a CLS vector) are *not* touched by any scheme:
the fan-in formulas are derived for a matrix that multiplies an activation vector, while an
embedding row *is* the activation. They keep ``N(0, 1)`` (the padding row stays 0), which is the
scale the pre-norm LayerNorm of a Transformer block expects anyway.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["INIT_SCHEMES", "NONLINEARITIES", "init_weights"]

INIT_SCHEMES: tuple[str, ...] = ("default", "xavier", "he", "orthogonal")
# Names ``torch.nn.init.calculate_gain`` knows and that make sense for these schemes.
NONLINEARITIES: tuple[str, ...] = ("linear", "relu", "tanh", "sigmoid")

_NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)


def init_weights(model: nn.Module, scheme: str, nonlinearity: str | None = None) -> nn.Module:
    """Re-initialise every Linear/Conv weight of ``model`` in place with ``scheme``.

    Args:
        model: any module; its submodules are visited with ``model.modules()``.
        scheme: ``"default"`` | ``"xavier"`` | ``"he"`` | ``"orthogonal"`` (see the module
            docstring for the formulas).
        nonlinearity: the activation the weights feed, which sets the gain of ``"he"`` and
            ``"orthogonal"``: ``"linear"`` | ``"relu"`` | ``"tanh"`` | ``"sigmoid"``. ``None``
            reads ``model.nonlinearity`` (every course model sets it), else ``"relu"``.

    Returns:
        ``model`` itself, so that ``init_weights(MLP(...), "he")`` reads naturally.

    Raises:
        ValueError: for an unknown scheme or nonlinearity.
    """
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r}; use one of {', '.join(INIT_SCHEMES)}")
    if nonlinearity is None:
        nonlinearity = getattr(model, "nonlinearity", "relu")
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(
            f"unknown nonlinearity {nonlinearity!r}; use one of {', '.join(NONLINEARITIES)}"
        )
    if scheme == "default":
        return model  # keep what the layers hold: torch's init when freshly built

    gain = nn.init.calculate_gain(nonlinearity)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.modules.conv._ConvNd)):
                _init_matrix(module.weight, scheme, nonlinearity, gain)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.MultiheadAttention) and module.in_proj_weight is not None:
                # in_proj_weight: (3 d, d) = [W_q; W_k; W_v]; each block is a (d, d) map, and
                # its fans are d and d, not 4 d as a packed (3 d, d) matrix would suggest.
                for w in module.in_proj_weight.chunk(3, dim=0):
                    _init_matrix(w, scheme, nonlinearity, gain)
                if module.in_proj_bias is not None:
                    nn.init.zeros_(module.in_proj_bias)
                # module.out_proj is an nn.Linear and is visited on its own.
            elif isinstance(module, _NORMS):
                module.reset_parameters()  # weight 1, bias 0, fresh running statistics
    return model


def _init_matrix(w: torch.Tensor, scheme: str, nonlinearity: str, gain: float) -> None:
    """Fill one weight tensor (a view is fine: ``nn.init`` writes in place)."""
    if scheme == "xavier":
        nn.init.xavier_uniform_(w, gain=1.0)
    elif scheme == "he":
        nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity=nonlinearity)
    else:  # "orthogonal"
        nn.init.orthogonal_(w, gain=gain)
