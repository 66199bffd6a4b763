"""The worker protocol: plain data round trips, everything else is refused."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from course_lib.grading import protocol


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        3,
        -2.5,
        "text",
        [1, [2.0, "x"]],
        (1, (2, 3)),
        {"a": (1, None)},
        np.arange(6, dtype=np.float32).reshape(2, 3),
        np.array(True),
        np.zeros((0, 4)),
        {"nested": [np.int64(7), np.array([1 + 2j])]},
        float("nan"),
    ],
)
def test_round_trip(value: object) -> None:
    back = protocol.decode(json.loads(json.dumps(protocol.encode(value))))
    if isinstance(value, float) and value != value:
        assert back != back
        return
    np.testing.assert_equal(back, value)
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and back.shape == value.shape


def test_types_survive() -> None:
    back = protocol.decode(protocol.encode({"t": (1,), "l": [1], "a": np.ones(2, np.int16)}))
    assert isinstance(back["t"], tuple) and isinstance(back["l"], list)
    assert back["a"].dtype == np.int16


@pytest.mark.parametrize("value", [object(), np.array([object()]), {1: 2}, lambda: 0, b"raw"])
def test_non_plain_data_is_refused(value: object) -> None:
    with pytest.raises(TypeError):
        protocol.encode(value)


@pytest.mark.parametrize(
    "bad",
    [
        {"~": "array", "dtype": "object", "shape": [1], "data": ""},
        {"~": "array", "dtype": "float64", "shape": [2], "data": "AAAA"},
        {"~": "array", "dtype": "float64", "shape": [-1], "data": ""},
        {"~": "pickle", "data": "gASV"},
        {"plain": "dict without a tag"},
    ],
)
def test_malformed_messages_are_refused(bad: dict) -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(bad)


def test_framing_over_a_pipe() -> None:
    r, w = os.pipe()
    try:
        protocol.send(w, {"op": "call", "args": protocol.encode([np.eye(2)])})
        msg = protocol.recv(r, timeout=5)
        np.testing.assert_array_equal(protocol.decode(msg["args"])[0], np.eye(2))
        with pytest.raises(protocol.ChannelTimeout):
            protocol.recv(r, timeout=0.05)
        os.write(w, (2**40).to_bytes(8, "big"))
        with pytest.raises(protocol.ProtocolError):
            protocol.recv(r, timeout=5)
    finally:
        os.close(r)
        os.close(w)
