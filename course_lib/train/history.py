"""What a training run records: one row per optimizer step and one row per epoch.

Plain lists of plain dicts, so that a history pickles into a checkpoint (``torch.load`` with
``weights_only=True`` reads it back), converts to a table with no library (``to_csv``), and
loads into pandas with ``pd.DataFrame(history.epochs)`` where pandas is wanted.

Rows of ``steps`` (``step`` counts optimizer steps from 1, across epochs and resumes)::

    {"step": 37, "epoch": 1, "loss": 0.41, "lr": 0.1, "grad_norm": 2.3}

``lr`` is the learning rate of the first parameter group *used by* that step (read before the
scheduler moves it) and ``grad_norm`` the global 2-norm of the gradients *before* clipping.

Rows of ``epochs`` (``epoch`` counts from 0)::

    {"epoch": 0, "step": 313, "train_loss": 0.52, "val_loss": 0.47, "train_accuracy": 0.81,
     "val_accuracy": 0.83, "wall_time": 4.1, "peak_memory_bytes": 512000000}

``train_loss`` is the sample-weighted mean of the epoch's batch losses (in training mode:
with dropout, and while the weights move), ``val_loss`` is measured after the epoch. Metric
columns are ``train_<name>`` and ``val_<name>``; ``val_*`` are ``None`` without validation
data. ``wall_time`` is the seconds of training so far (resumed runs continue the count), and
``peak_memory_bytes`` is documented at :func:`course_lib.train.fit`.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["History"]

Row = dict[str, Any]
Table = Literal["steps", "epochs"]


@dataclass
class History:
    """The record of a training run.

    Attributes:
        steps: one dict per optimizer step (see the module docstring for the keys).
        epochs: one dict per epoch.
    """

    steps: list[Row] = field(default_factory=list)
    epochs: list[Row] = field(default_factory=list)

    def _table(self, table: Table) -> list[Row]:
        if table not in ("steps", "epochs"):
            raise ValueError(f"table must be 'steps' or 'epochs', got {table!r}")
        return self.steps if table == "steps" else self.epochs

    def columns(self, table: Table = "epochs") -> list[str]:
        """Every key used in a table, in order of first appearance."""
        keys: dict[str, None] = {}
        for row in self._table(table):
            keys.update(dict.fromkeys(row))
        return list(keys)

    def column(self, key: str, table: Table = "epochs") -> list[Any]:
        """One column of a table, e.g. ``history.column("val_loss")`` for a plot.

        Raises:
            KeyError: if no row has the key (the message lists the keys there are).
        """
        rows = self._table(table)
        if rows and not any(key in row for row in rows):
            raise KeyError(f"no column {key!r} in {table}; columns: {self.columns(table)}")
        return [row.get(key) for row in rows]

    def best(self, key: str = "val_loss", mode: Literal["min", "max"] = "min") -> Row:
        """The epoch row where ``key`` is lowest (``mode="min"``) or highest, ignoring NaNs.

        Raises:
            ValueError: if no epoch has a finite value for ``key``.
        """
        rows = [r for r in self.epochs if r.get(key) is not None and not math.isnan(r[key])]
        if not rows:
            raise ValueError(f"no epoch has a value for {key!r}")
        pick = min if mode == "min" else max
        return pick(rows, key=lambda r: r[key])

    def to_csv(self, path: str | Path, table: Table = "epochs") -> Path:
        """Write a table as CSV (missing and ``None`` values are empty cells).

        Args:
            path: file to write; its folder is created.
            table: ``"epochs"`` or ``"steps"``.

        Returns:
            The path written.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns(table), restval="")
            writer.writeheader()
            writer.writerows(self._table(table))  # csv writes None as an empty cell
        return path

    def to_dict(self) -> dict[str, list[Row]]:
        """Plain data (lists of dicts of numbers and strings), e.g. for a checkpoint."""
        return {"steps": [dict(r) for r in self.steps], "epochs": [dict(r) for r in self.epochs]}

    @classmethod
    def from_dict(cls, data: dict[str, list[Row]]) -> History:
        """The inverse of :meth:`to_dict`."""
        return cls(steps=[dict(r) for r in data["steps"]], epochs=[dict(r) for r in data["epochs"]])

    def __len__(self) -> int:
        """The number of epochs recorded."""
        return len(self.epochs)
