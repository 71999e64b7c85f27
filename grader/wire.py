"""The only format that crosses between the judge and a worker: JSON plus ``.npy`` arrays.

A frame is ``length (8 bytes) | header length (4 bytes) | JSON header | raw array bytes``. The
header gives each array's dtype and shape; only plain numeric dtypes (bool, int, uint, float) are
rebuilt, with ``numpy.frombuffer``, so nothing executable can be smuggled in: no pickle is ever
read, and object arrays or ndarray subclasses cannot survive the trip. Values are
tagged trees: ``{"a": i}`` is the i-th array, ``{"l": [...]}`` a list, ``{"t": [...]}`` a tuple,
``{"h": n}`` a worker-side handle, ``{"j": n}`` a judge-side handle, ``{"rng": seed}`` and
``{"sf": ...}`` stand-ins built on the receiving side.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any

import numpy as np

from .protocol import Handle, RngSeed, ScalarFunction

MAX_FRAME = 256 * 1024 * 1024
_PREFIX = struct.Struct(">QI")


class WireError(Exception):
    """A frame was malformed, too large, or did not arrive in time."""


class WireTimeout(WireError):
    pass


class JudgeHandle:
    """Inside the worker: a value kept by the judge (a reference stand-in's cache)."""

    __slots__ = ("id",)

    def __init__(self, id: int):
        self.id = id

    def __repr__(self) -> str:
        return f"<cache kept by the grader #{self.id}>"


def _tree(value: Any, arrays: list[np.ndarray]) -> Any:
    if type(value) is np.ndarray:
        arrays.append(value)
        return {"a": len(arrays) - 1}
    if isinstance(value, np.generic):
        arrays.append(np.asarray(value))
        return {"a": len(arrays) - 1}
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is float:
        return {"f": repr(value)}
    if type(value) is list:
        return {"l": [_tree(v, arrays) for v in value]}
    if type(value) is tuple:
        return {"t": [_tree(v, arrays) for v in value]}
    if type(value) is dict:
        return {"d": {str(k): _tree(v, arrays) for k, v in value.items()}}
    if isinstance(value, Handle):
        return {"h": value.id}
    if isinstance(value, JudgeHandle):
        return {"j": value.id}
    if isinstance(value, RngSeed):
        return {"rng": value.seed}
    if isinstance(value, ScalarFunction):
        return {"sf": value.name, "arrays": [[k, _tree(v, arrays)] for k, v in value.arrays]}
    raise TypeError(f"cannot send a {type(value).__name__} to the other process")


def _untree(node: Any, arrays: list[np.ndarray]) -> Any:
    if node is None or type(node) in (bool, int, str):
        return node
    if type(node) is not dict or len(node) not in (1, 2):
        raise WireError("malformed value")
    if "a" in node:
        return arrays[node["a"]]
    if "f" in node:
        return float(node["f"])
    if "l" in node:
        return [_untree(v, arrays) for v in node["l"]]
    if "t" in node:
        return tuple(_untree(v, arrays) for v in node["t"])
    if "d" in node:
        return {k: _untree(v, arrays) for k, v in node["d"].items()}
    if "h" in node:
        return Handle(int(node["h"]))
    if "j" in node:
        return JudgeHandle(int(node["j"]))
    if "rng" in node:
        return RngSeed(int(node["rng"]))
    if "sf" in node:
        return ScalarFunction(str(node["sf"]),
                              tuple((str(k), _untree(v, arrays)) for k, v in node["arrays"]))
    raise WireError("malformed value")


def encode(message: dict) -> bytes:
    arrays: list[np.ndarray] = []
    header = dict(message)
    header["body"] = _tree(message.get("body"), arrays)
    blobs = [np.ascontiguousarray(a).tobytes() for a in arrays]
    header["arrays"] = [[a.dtype.str, list(a.shape)] for a in arrays]
    head = json.dumps(header).encode()
    payload = head + b"".join(blobs)
    return _PREFIX.pack(len(payload), len(head)) + payload


def decode(payload: bytes, head_size: int) -> dict:
    try:
        header = json.loads(payload[:head_size])
        offset = head_size
        arrays = []
        for dtype_code, shape in header.get("arrays", []):
            dtype = np.dtype(str(dtype_code))
            if dtype.kind not in "biuf" or dtype.hasobject or dtype.fields is not None:
                raise WireError(f"array of dtype {dtype} refused (numbers only)")
            shape = tuple(int(n) for n in shape)
            if any(n < 0 for n in shape):
                raise WireError("negative array dimension")
            size = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
            if offset + size > len(payload):
                raise WireError("truncated array data")
            data = np.frombuffer(payload, dtype=dtype, count=size // dtype.itemsize,
                                 offset=offset)
            arrays.append(data.reshape(shape).copy())
            offset += size
        header["body"] = _untree(header.get("body"), arrays)
        return header
    except WireError:
        raise
    except Exception as error:  # noqa: BLE001 - anything unparsable is a malformed frame
        raise WireError(f"malformed frame: {type(error).__name__}: {error}") from None


def send(fd: int, message: dict) -> None:
    data = memoryview(encode(message))
    while data:
        written = os.write(fd, data)
        data = data[written:]


def _read_exactly(fd: int, size: int, deadline: float | None) -> bytes:
    chunks = []
    while size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WireTimeout("timed out")
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                raise WireTimeout("timed out")
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise WireError("the other side closed the connection")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def receive(fd: int, deadline: float | None = None) -> dict:
    """Read one frame; ``deadline`` is a ``time.monotonic()`` instant (None waits forever)."""
    total, head_size = _PREFIX.unpack(_read_exactly(fd, _PREFIX.size, deadline))
    if total > MAX_FRAME or head_size > total:
        raise WireError(f"frame of {total} bytes refused (limit {MAX_FRAME})")
    return decode(_read_exactly(fd, total, deadline), head_size)
