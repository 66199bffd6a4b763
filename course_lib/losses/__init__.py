"""Loss functions and penalties, written from their formulas and checked against references.

Functions named like a ``torch.nn.functional`` loss take the same arguments (without the legacy
``size_average``/``reduce``) and give the same values and gradients. The others state their
formula and source in their docstrings. Modules, one concept each:

* :mod:`~course_lib.losses.regression`: ``mse_loss``, ``l1_loss``, ``huber_loss``,
  ``smooth_l1_loss``;
* :mod:`~course_lib.losses.binary`: ``binary_cross_entropy`` (probabilities),
  ``binary_cross_entropy_with_logits`` (stable);
* :mod:`~course_lib.losses.categorical`: ``cross_entropy`` (class indices or probabilities,
  weights, ``ignore_index``, label smoothing);
* :mod:`~course_lib.losses.margin`: ``hinge_loss``, ``squared_hinge_loss``,
  ``multi_margin_loss``;
* :mod:`~course_lib.losses.focal`: ``sigmoid_focal_loss``, ``softmax_focal_loss``;
* :mod:`~course_lib.losses.contrastive`: ``contrastive_loss``;
* :mod:`~course_lib.losses.triplet`: ``triplet_margin_loss``, ``batch_triplet_loss``;
* :mod:`~course_lib.losses.mining`: ``pairwise_distances``, ``all_triplets``,
  ``hard_triplets``, ``semi_hard_triplets``;
* :mod:`~course_lib.losses.penalties`: ``l1_penalty``, ``l2_penalty``, ``elastic_net_penalty``.

Every ``reduction`` is ``'none'`` | ``'mean'`` | ``'sum'``; anything else, or mismatched
shapes, raises ``ValueError`` with what was wrong and what to do.
"""

from course_lib.losses._checks import REDUCTIONS, Reduction
from course_lib.losses.binary import binary_cross_entropy, binary_cross_entropy_with_logits
from course_lib.losses.categorical import cross_entropy
from course_lib.losses.contrastive import contrastive_loss
from course_lib.losses.focal import sigmoid_focal_loss, softmax_focal_loss
from course_lib.losses.margin import hinge_loss, multi_margin_loss, squared_hinge_loss
from course_lib.losses.mining import (
    all_triplets,
    hard_triplets,
    pairwise_distances,
    semi_hard_triplets,
)
from course_lib.losses.penalties import elastic_net_penalty, l1_penalty, l2_penalty
from course_lib.losses.regression import huber_loss, l1_loss, mse_loss, smooth_l1_loss
from course_lib.losses.triplet import MININGS, Mining, batch_triplet_loss, triplet_margin_loss

__all__ = [
    "MININGS",
    "REDUCTIONS",
    "Mining",
    "Reduction",
    "all_triplets",
    "batch_triplet_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "contrastive_loss",
    "cross_entropy",
    "elastic_net_penalty",
    "hard_triplets",
    "hinge_loss",
    "huber_loss",
    "l1_loss",
    "l1_penalty",
    "l2_penalty",
    "mse_loss",
    "multi_margin_loss",
    "pairwise_distances",
    "semi_hard_triplets",
    "sigmoid_focal_loss",
    "smooth_l1_loss",
    "softmax_focal_loss",
    "squared_hinge_loss",
    "triplet_margin_loss",
]
