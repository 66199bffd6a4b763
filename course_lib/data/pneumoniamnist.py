"""PneumoniaMNIST (MedMNIST v2): 28x28 grey paediatric chest X-rays, normal (0) vs pneumonia (1).

Source: Yang, Shi, Wei, Liu, Zhao, Ke, Pfister & Ni (2023), "MedMNIST v2", Scientific Data
10:41, https://medmnist.com/ (CC BY 4.0); images from Kermany et al. (2018), Cell 172:1122.
Official splits: 4,708 train, 524 validation, 624 test, about 74% / 74% / 62.5% pneumonia.

For lessons on class imbalance (weighted and focal losses) the training split is resampled to a
rare positive class, 5% by default: every normal image is kept and pneumonia images are
subsampled. Validation and test are kept exactly as published, on purpose: their hundreds of
positives make recall and precision measurable (at 5% the test set would hold 12), and the
official test set stays comparable with published numbers. Their positive rates differ from the
training split's, so report prevalence-free metrics (recall per class, balanced accuracy, ROC
AUC) or reweight; ``meta["positive_rate"]`` gives each split's rate.

Files accepted: the official ``pneumoniamnist.npz`` (md5 28209eda62fecd6e6a2d98b1501bb15f) or
the course's reconstructed mirror ``pneumoniamnist_reconstructed.npz``, rebuilt from two public
third-party copies to the official split sizes. The mirror's sample order differs from the
official file's (so the official md5 does not apply to it, and a given seed selects different
images from the two); ``meta["notes"]`` says so whenever the mirror is used.
"""

from __future__ import annotations

import numpy as np
import torch

from course_lib.data.locate import Located
from course_lib.data.splits import DatasetSplits, Split, pixels_to_float

CLASS_NAMES = ("normal", "pneumonia")


def resample_to_positive_rate(
    x: torch.Tensor, y: torch.Tensor, rate: float, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Subsample a binary dataset, without replacement, so that a share ``rate`` is positive.

    The over-represented class is subsampled and every example of the other is kept, so no
    example is duplicated. With ``P`` positives and ``N`` negatives and a target ``r`` below
    ``P / (P + N)``, it keeps all ``N`` negatives and ``round(r N / (1 - r))`` positives (at
    least one); above, all positives and ``round(P (1 - r) / r)`` negatives. Order is kept.

    Args:
        x: inputs, first dimension the examples.
        y: labels in {0, 1}, shape ``(M,)``.
        rate: the wanted share of positives, in ``(0, 1)``.
        seed: seeds which examples are kept.

    Returns:
        ``(x_resampled, y_resampled)``.
    """
    if not 0.0 < rate < 1.0:
        raise ValueError(f"rate must be in (0, 1), got {rate}")
    labels = y.cpu().numpy()
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    if len(pos) + len(neg) != len(labels):
        raise ValueError("labels must be 0 or 1")
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("both classes must be present to reach a positive rate")
    rng = np.random.default_rng(seed)
    if len(pos) / len(labels) > rate:
        keep_pos = min(len(pos), max(1, round(rate * len(neg) / (1 - rate))))
        pos = rng.choice(pos, size=keep_pos, replace=False)
    else:
        keep_neg = min(len(neg), max(1, round(len(pos) * (1 - rate) / rate)))
        neg = rng.choice(neg, size=keep_neg, replace=False)
    keep = torch.as_tensor(np.sort(np.concatenate([pos, neg])), device=y.device)
    return x[keep], y[keep]


def build(
    located: Located,
    *,
    seed: int = 0,
    positive_rate: float | None = 0.05,
    normalize: bool = True,
) -> DatasetSplits:
    """Build the official splits, with the training split resampled to ``positive_rate``.

    Args:
        located: the ``npz`` file (official, or the reconstructed mirror: same keys).
        seed: seeds the resampling (the splits themselves are the official ones).
        positive_rate: share of pneumonia in the returned training split; None keeps it as
            published (about 74%). Validation and test are never resampled.
        normalize: scale pixels to [0, 1], then standardise with the (resampled) training
            split's pixel mean and std (in ``meta``).

    Returns:
        Images ``(N, 1, 28, 28)`` float32, labels int64 (1 = pneumonia).
    """
    with np.load(located.files["npz"], allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}

    images = {s: arrays[f"{s}_images"] for s in ("train", "val", "test")}
    labels = {
        s: torch.from_numpy(arrays[f"{s}_labels"].reshape(-1).astype(np.int64)) for s in images
    }
    index = torch.arange(len(labels["train"]))
    if positive_rate is not None:
        # Resampling picks indices only, so it can run on the uint8 images before scaling.
        index, labels["train"] = resample_to_positive_rate(
            index, labels["train"], positive_rate, seed
        )
        images["train"] = images["train"][index.numpy()]
    xs, mean, std = pixels_to_float(
        images["train"], images["val"], images["test"], normalize=normalize
    )
    train, val, test = (Split(x, labels[s]) for x, s in zip(xs, images, strict=True))
    meta = {
        "num_classes": 2,
        "class_names": list(CLASS_NAMES),
        "normalized": normalize,
        # The (resampled) training split's pixel statistics on the [0, 1] scale, used or not.
        "mean": mean,
        "std": std,
        "positive_rate": {
            s: float(split.y.float().mean())
            for s, split in zip(images, (train, val, test), strict=True)
        },
        "notes": "Validation and test are the published splits, not resampled.",
        # Rows of the published training split kept in the returned one.
        "indices": {"train": index.numpy()},
    }
    return DatasetSplits(train, val, test, meta)
