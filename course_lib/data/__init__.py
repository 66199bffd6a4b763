"""Datasets for the course: found locally, else downloaded and hash-checked, split the same way
for everyone.

>>> from course_lib.data import load
>>> ds = load("fashion_mnist", seed=0, subset=5000)      # doctest: +SKIP
>>> ds.train.x.shape, ds.val.x.shape, ds.test.x.shape     # doctest: +SKIP
(torch.Size([5000, 1, 28, 28]), torch.Size([5000, 1, 28, 28]), torch.Size([10000, 1, 28, 28]))

Where files are looked for and in what order: ``course_lib.data.locate``. What each dataset
is, with its official URL, hashes and licence: ``course_lib.data.registry``. ``course data
list``, ``course data check`` and ``course data fetch`` do the same from the shell.
"""

from course_lib.data.api import load
from course_lib.data.cache import cache_dir
from course_lib.data.california_housing import inject_outliers
from course_lib.data.errors import DatasetHashError, DatasetNotFoundError
from course_lib.data.locate import Located, fetch, locate
from course_lib.data.pneumoniamnist import resample_to_positive_rate
from course_lib.data.registry import DatasetSpec, available, get_spec
from course_lib.data.splits import DatasetSplits, Split

__all__ = [
    "DatasetHashError",
    "DatasetNotFoundError",
    "DatasetSpec",
    "DatasetSplits",
    "Located",
    "Split",
    "available",
    "cache_dir",
    "fetch",
    "get_spec",
    "inject_outliers",
    "load",
    "locate",
    "resample_to_positive_rate",
]
