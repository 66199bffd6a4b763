"""Diagnostics of training: what the gradients, activations, Jacobians and curvature look like.

One concept per module:

- :mod:`~course_lib.diagnostics.hooks`: per-layer activation and gradient statistics
  (:class:`ActivationGradientRecorder`), the picture of vanishing and exploding gradients;
- :mod:`~course_lib.diagnostics.jacobian`: input-output Jacobians and their singular values;
- :mod:`~course_lib.diagnostics.spectrum`: matrix-free power iteration, Lanczos and Hutchinson;
- :mod:`~course_lib.diagnostics.hessian`: Hessian-vector products, top eigenvalues, trace;
- :mod:`~course_lib.diagnostics.landscape`: filter-normalised directions, 1-D and 2-D landscapes.

Losses for the Hessian are functions of the parameters, ``loss_fn(*params) -> scalar``
(:func:`functional_loss` makes one from a model); losses for landscapes are closures over the
model, ``loss_of(model) -> scalar``.
"""

from course_lib.diagnostics.hessian import (
    HessianOperator,
    full_hessian,
    functional_loss,
    hessian_eigenpairs,
    hessian_top_eigenvalues,
    hessian_trace,
    hvp,
)
from course_lib.diagnostics.hooks import STATS, ActivationGradientRecorder, parameter_grad_norms
from course_lib.diagnostics.jacobian import input_jacobian, jacobian_singular_values
from course_lib.diagnostics.landscape import (
    Landscape1D,
    Landscape2D,
    direction_between,
    direction_from_flat,
    loss_landscape_1d,
    loss_landscape_2d,
    random_filter_normalized_direction,
)
from course_lib.diagnostics.spectrum import (
    EigenResult,
    TraceEstimate,
    hutchinson_trace,
    lanczos,
    power_iteration,
)

__all__ = [
    "STATS",
    "ActivationGradientRecorder",
    "EigenResult",
    "HessianOperator",
    "Landscape1D",
    "Landscape2D",
    "TraceEstimate",
    "direction_between",
    "direction_from_flat",
    "full_hessian",
    "functional_loss",
    "hessian_eigenpairs",
    "hessian_top_eigenvalues",
    "hessian_trace",
    "hutchinson_trace",
    "hvp",
    "input_jacobian",
    "jacobian_singular_values",
    "lanczos",
    "loss_landscape_1d",
    "loss_landscape_2d",
    "parameter_grad_norms",
    "power_iteration",
    "random_filter_normalized_direction",
]
