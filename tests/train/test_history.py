"""History: columns, CSV, round trip."""

import csv
import math

import pytest

from course_lib.train import History


def _history() -> History:
    return History(
        steps=[{"step": 1, "epoch": 0, "loss": 1.0, "lr": 0.1, "grad_norm": 2.0}],
        epochs=[
            {"epoch": 0, "train_loss": 1.0, "val_loss": 0.9, "wall_time": 1.0},
            {"epoch": 1, "train_loss": 0.5, "val_loss": 0.95, "wall_time": 2.0},
            {"epoch": 2, "train_loss": 0.4, "val_loss": math.nan, "wall_time": 3.0},
        ],
    )


def test_columns_and_best() -> None:
    h = _history()
    assert h.column("train_loss") == [1.0, 0.5, 0.4]
    assert h.column("loss", table="steps") == [1.0]
    assert h.best("val_loss")["epoch"] == 0
    assert h.best("train_loss", mode="max")["epoch"] == 0
    assert len(h) == 3
    with pytest.raises(KeyError, match="columns"):
        h.column("accuracy")


def test_csv(tmp_path) -> None:
    h = _history()
    h.epochs[0]["val_accuracy"] = None
    path = h.to_csv(tmp_path / "sub" / "epochs.csv")
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert [float(r["train_loss"]) for r in rows] == h.column("train_loss")
    assert rows[0]["val_accuracy"] == "" and rows[1]["val_accuracy"] == ""
    steps = h.to_csv(tmp_path / "steps.csv", table="steps")
    assert steps.read_text().splitlines()[0] == "step,epoch,loss,lr,grad_norm"


def test_dict_round_trip() -> None:
    h = _history()
    again = History.from_dict(h.to_dict())
    assert again.steps == h.steps
    assert again.epochs[:2] == h.epochs[:2]
    again.steps[0]["loss"] = 5.0
    assert h.steps[0]["loss"] == 1.0  # a copy, not a view
