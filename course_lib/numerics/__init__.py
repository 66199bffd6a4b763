"""Floating point for deep learning: formats, stable reductions and gradient clipping.

The chapters contrast each stable function with its naive counterpart, so both live here.
"""

from course_lib.numerics.clipping import clip_grad_norm_, clip_grad_value_
from course_lib.numerics.formats import FORMATS, FloatFormat, float_format, float_formats
from course_lib.numerics.stable import (
    log1p_naive,
    log_sigmoid,
    log_sigmoid_naive,
    log_softmax,
    log_softmax_naive,
    logsumexp,
    logsumexp_naive,
    softmax,
    softmax_naive,
    variance_naive,
    variance_two_pass,
)

__all__ = [
    "FORMATS",
    "FloatFormat",
    "clip_grad_norm_",
    "clip_grad_value_",
    "float_format",
    "float_formats",
    "log1p_naive",
    "log_sigmoid",
    "log_sigmoid_naive",
    "log_softmax",
    "log_softmax_naive",
    "logsumexp",
    "logsumexp_naive",
    "softmax",
    "softmax_naive",
    "variance_naive",
    "variance_two_pass",
]
