"""Float formats against the IEEE 754 definitions and numpy's finfo."""

import numpy as np
import pytest
import torch

from course_lib.numerics import float_format, float_formats

# (dtype, fraction bits, exponent bits) from IEEE 754 and the bfloat16 definition.
LAYOUTS = [
    (torch.float16, 10, 5),
    (torch.bfloat16, 7, 8),
    (torch.float32, 23, 8),
    (torch.float64, 52, 11),
]


@pytest.mark.parametrize(("dtype", "fraction", "exponent"), LAYOUTS)
def test_format_matches_the_ieee_layout(dtype, fraction, exponent):
    f = float_format(dtype)
    assert (f.mantissa_bits, f.exponent_bits) == (fraction, exponent)
    bias = 2 ** (exponent - 1) - 1
    assert f.eps == 2.0**-fraction
    assert f.smallest_normal == 2.0 ** (1 - bias)
    assert f.smallest_subnormal == 2.0 ** (1 - bias - fraction)
    assert f.max == (2 - 2.0**-fraction) * 2.0**bias


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_format_matches_numpy(dtype):
    np_dtype = {torch.float16: np.float16, torch.float32: np.float32, torch.float64: np.float64}
    info = np.finfo(np_dtype[dtype])
    f = float_format(dtype)
    assert f.eps == float(info.eps)
    assert f.max == float(info.max)
    assert f.smallest_normal == float(info.smallest_normal)
    assert f.smallest_subnormal == float(info.smallest_subnormal)
    assert f.decimal_digits == info.precision


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_subnormal_is_representable_and_half_of_it_rounds_to_zero(dtype):
    f = float_format(dtype)
    tiny = torch.tensor(f.smallest_subnormal, dtype=dtype)
    assert tiny.item() == f.smallest_subnormal
    assert (tiny / 2).item() in (0.0, f.smallest_subnormal)  # round-half-even to 0
    assert (tiny / 4).item() == 0.0
    one = torch.tensor(1.0, dtype=dtype)
    assert (one + f.eps).item() > 1.0
    assert (one + f.eps / 4).item() == 1.0


def test_default_table_order_and_bad_input():
    assert [f.name for f in float_formats()] == ["float16", "bfloat16", "float32", "float64"]
    with pytest.raises(ValueError, match="floating"):
        float_format(torch.int32)
