"""The worker protocol: length-prefixed JSON messages of plain data, arrays as raw bytes.

A message is an 8-byte big-endian length followed by that many bytes of UTF-8 JSON. Plain data
(see :mod:`course_lib.grading.testing`) is encoded with tags so that nothing is ambiguous and
nothing is pickled::

    array  -> {"~": "array", "dtype": "float32", "shape": [2, 3], "data": "<base64 of raw bytes>"}
    tuple  -> {"~": "tuple", "items": [...]}
    dict   -> {"~": "dict", "items": {"key": ...}}   (string keys only)

Decoding checks every tag, dtype and size, so a hostile worker can send nothing but plain data.
"""

from __future__ import annotations

import base64
import json
import os
import select
import struct
import time
from typing import Any

import numpy as np

MAX_MESSAGE_BYTES = 512 * 1024 * 1024
MAX_DEPTH = 64
_HEADER = struct.Struct(">Q")
# Array dtypes that may cross; object and structured dtypes never do.
ALLOWED_DTYPES = frozenset(
    [
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
        "complex64",
        "complex128",
    ]
)


class ProtocolError(RuntimeError):
    """A message was malformed, too large or cut short."""


class ChannelTimeout(TimeoutError):  # noqa: N818 (a timeout, like TimeoutError)
    """No complete message arrived before the deadline."""


def encode(value: Any, *, _depth: int = 0) -> Any:
    """Turn plain data into JSON-ready values (numpy arrays and scalars become tagged arrays).

    Raises:
        TypeError: the value is not plain data (a function, a module, an object...).
    """
    if _depth > MAX_DEPTH:
        raise TypeError("data nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, np.generic):
        return value
    if isinstance(value, np.generic):
        value = np.asarray(value)
    if isinstance(value, np.ndarray):
        dtype = value.dtype.name
        if dtype not in ALLOWED_DTYPES:
            raise TypeError(f"arrays of dtype {dtype} cannot be sent")
        data = np.ascontiguousarray(value).tobytes()
        return {
            "~": "array",
            "dtype": dtype,
            "shape": list(value.shape),
            "data": base64.b64encode(data).decode("ascii"),
        }
    if isinstance(value, tuple):
        return {"~": "tuple", "items": [encode(v, _depth=_depth + 1) for v in value]}
    if isinstance(value, list):
        return [encode(v, _depth=_depth + 1) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("only dicts with string keys can be sent")
        return {"~": "dict", "items": {k: encode(v, _depth=_depth + 1) for k, v in value.items()}}
    raise TypeError(f"a value of type {type(value).__name__} cannot be sent (plain data only)")


def _decode_array(obj: dict[str, Any]) -> np.ndarray:
    dtype, shape, data = obj.get("dtype"), obj.get("shape"), obj.get("data")
    if dtype not in ALLOWED_DTYPES:
        raise ProtocolError(f"array dtype {dtype!r} is not allowed")
    if not isinstance(shape, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
    ):
        raise ProtocolError("array shape must be a list of non-negative integers")
    if not isinstance(data, str):
        raise ProtocolError("array data must be base64 text")
    raw = base64.b64decode(data.encode("ascii"), validate=True)
    dt = np.dtype(dtype)
    if len(raw) != int(np.prod(shape, dtype=np.int64)) * dt.itemsize:
        raise ProtocolError("array data does not match its shape and dtype")
    return np.frombuffer(raw, dtype=dt).reshape(shape).copy()


def decode(value: Any, *, _depth: int = 0) -> Any:
    """Inverse of :func:`encode`; raises :class:`ProtocolError` on anything unexpected."""
    if _depth > MAX_DEPTH:
        raise ProtocolError("data nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [decode(v, _depth=_depth + 1) for v in value]
    if isinstance(value, dict):
        tag = value.get("~")
        if tag == "array":
            return _decode_array(value)
        if tag == "tuple" and isinstance(value.get("items"), list):
            return tuple(decode(v, _depth=_depth + 1) for v in value["items"])
        if tag == "dict" and isinstance(value.get("items"), dict):
            return {str(k): decode(v, _depth=_depth + 1) for k, v in value["items"].items()}
        raise ProtocolError(f"unknown tag {tag!r}")
    raise ProtocolError(f"unexpected JSON value of type {type(value).__name__}")


def dumps(message: dict[str, Any]) -> bytes:
    """One framed message (length prefix + JSON)."""
    body = json.dumps(message, allow_nan=True, separators=(",", ":")).encode("utf-8")
    if len(body) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {len(body)} bytes is over the limit")
    return _HEADER.pack(len(body)) + body


def send(fd: int, message: dict[str, Any]) -> None:
    """Write one framed message to a file descriptor (blocking)."""
    view = memoryview(dumps(message))
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _read_exactly(fd: int, n: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    while n > 0:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChannelTimeout("no answer before the deadline")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                raise ChannelTimeout("no answer before the deadline")
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def recv(fd: int, *, timeout: float | None = None) -> dict[str, Any]:
    """Read one framed message; ``timeout`` in seconds (None waits forever).

    Raises:
        ChannelTimeout: the deadline passed.
        EOFError: the channel closed.
        ProtocolError: the message is too large or not a JSON object.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    (length,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size, deadline))
    if length > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {length} bytes is over the limit")
    body = _read_exactly(fd, length, deadline)
    try:
        message = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ProtocolError(f"message is not JSON: {err}") from err
    if not isinstance(message, dict):
        raise ProtocolError("message is not a JSON object")
    return message
