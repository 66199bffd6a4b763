"""Learning-rate schedules: pure functions of the step, torch-compatible schedulers, an LR finder.

Three layers, each usable on its own:

* **pure schedules** (``*_schedule`` factories): ``schedule = cosine_schedule(0.1, 1000)``
  returns a function ``step -> lr`` with no state, to plot, test or call from a hand-written
  loop (nanoGPT's ``get_lr`` style);
* **scheduler classes** with the names, arguments and lr (and momentum) sequences of
  ``torch.optim.lr_scheduler``, quirks included and documented, for any ``torch.optim``
  optimizer; :class:`ScheduleLR` drives an optimizer from pure schedules;
* :func:`lr_finder`, the learning-rate range test.
"""

from course_lib.schedules.adapter import ScheduleLR
from course_lib.schedules.cosine_schedulers import CosineAnnealingLR, CosineAnnealingWarmRestarts
from course_lib.schedules.cyclic_schedulers import CyclicLR, OneCycleLR
from course_lib.schedules.cyclical import cyclical_schedule, one_cycle_schedule
from course_lib.schedules.decay_schedulers import (
    ExponentialLR,
    LinearLR,
    MultiStepLR,
    PolynomialLR,
    StepLR,
)
from course_lib.schedules.functions import (
    Schedule,
    constant_schedule,
    cosine_schedule,
    cosine_warm_restarts_schedule,
    exponential_schedule,
    linear_schedule,
    multistep_schedule,
    polynomial_schedule,
    step_schedule,
)
from course_lib.schedules.lr_finder import LRFinderResult, geometric_lrs, lr_finder, suggest_lr
from course_lib.schedules.plateau import ReduceLROnPlateau
from course_lib.schedules.warmup import (
    linear_warmup_schedule,
    warmup_cosine_schedule,
    warmup_linear_schedule,
)

__all__ = [
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "ExponentialLR",
    "LRFinderResult",
    "LinearLR",
    "MultiStepLR",
    "OneCycleLR",
    "PolynomialLR",
    "ReduceLROnPlateau",
    "Schedule",
    "ScheduleLR",
    "StepLR",
    "constant_schedule",
    "cosine_schedule",
    "cosine_warm_restarts_schedule",
    "cyclical_schedule",
    "exponential_schedule",
    "geometric_lrs",
    "linear_schedule",
    "linear_warmup_schedule",
    "lr_finder",
    "multistep_schedule",
    "one_cycle_schedule",
    "polynomial_schedule",
    "step_schedule",
    "suggest_lr",
    "warmup_cosine_schedule",
    "warmup_linear_schedule",
]
