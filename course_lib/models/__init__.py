"""The course's models, one per module, all with an ``init=`` scheme argument:

* :mod:`~course_lib.models.mlp`: :class:`MLP` on flattened inputs;
* :mod:`~course_lib.models.residual_mlp`: :class:`ResidualMLP`, plain and residual twins;
* :mod:`~course_lib.models.cnn`: :class:`SmallCNN`, conv-BN-ReLU-pool blocks for 28x28 images;
* :mod:`~course_lib.models.resnet`: :func:`resnet18`, torchvision's ResNet-18 with a small-image
  stem;
* :mod:`~course_lib.models.transformer`: :class:`TransformerClassifier`, a pre-norm encoder with
  padding-aware pooling;
* :mod:`~course_lib.models.init`: :func:`init_weights` (``"default"`` | ``"xavier"`` | ``"he"`` |
  ``"orthogonal"``);
* :mod:`~course_lib.models.registry`: :func:`build_model` by name, :func:`count_parameters`.
"""

from course_lib.models.cnn import SmallCNN
from course_lib.models.init import INIT_SCHEMES, init_weights
from course_lib.models.mlp import ACTIVATIONS, MLP
from course_lib.models.registry import MODELS, build_model, count_parameters
from course_lib.models.residual_mlp import ResidualBlock, ResidualMLP
from course_lib.models.resnet import BasicBlock, ResNet, resnet18
from course_lib.models.transformer import POOLINGS, POSITIONS, TransformerClassifier

__all__ = [
    "ACTIVATIONS",
    "INIT_SCHEMES",
    "MLP",
    "MODELS",
    "POOLINGS",
    "POSITIONS",
    "BasicBlock",
    "ResNet",
    "ResidualBlock",
    "ResidualMLP",
    "SmallCNN",
    "TransformerClassifier",
    "build_model",
    "count_parameters",
    "init_weights",
    "resnet18",
]
