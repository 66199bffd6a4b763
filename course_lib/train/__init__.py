"""Training: one loop, :func:`fit`, with devices, seeds, mixed precision, logs and checkpoints.

``fit`` is what the chapters and assignments call; the modules below it are small and usable
on their own in a hand-written loop:

* :mod:`~course_lib.train.device`: :func:`choose_device` (CUDA > MPS > CPU, ``COURSE_DEVICE``);
* :mod:`~course_lib.train.seed`: :func:`seed_everything`, :func:`deterministic_mode`;
* :mod:`~course_lib.train.precision`: ``amp="bf16" | "fp16"`` as autocast and loss scaling;
* :mod:`~course_lib.train.batches`: the batch order of each epoch;
* :mod:`~course_lib.train.metrics`: accuracy, MAE, precision, recall, F1, AUROC;
* :mod:`~course_lib.train.history`: :class:`History`, what a run records;
* :mod:`~course_lib.train.checkpoint`: save and load for an exact resume;
* :mod:`~course_lib.train.logging`: TensorBoard scalars, histograms, hyperparameters.
"""

from course_lib.train.batches import epoch_permutation
from course_lib.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from course_lib.train.device import available_devices, choose_device
from course_lib.train.evaluate import evaluate
from course_lib.train.fit import fit
from course_lib.train.history import History
from course_lib.train.logging import TensorBoardLogger
from course_lib.train.metrics import (
    EpochOutputs,
    accuracy,
    auroc,
    f1_score,
    mean_absolute_error,
    precision,
    recall,
)
from course_lib.train.precision import autocast, make_grad_scaler
from course_lib.train.seed import deterministic_mode, seed_everything

__all__ = [
    "Checkpoint",
    "EpochOutputs",
    "History",
    "TensorBoardLogger",
    "accuracy",
    "auroc",
    "autocast",
    "available_devices",
    "choose_device",
    "deterministic_mode",
    "epoch_permutation",
    "evaluate",
    "f1_score",
    "fit",
    "load_checkpoint",
    "make_grad_scaler",
    "mean_absolute_error",
    "precision",
    "recall",
    "save_checkpoint",
    "seed_everything",
]
