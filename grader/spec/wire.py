"""The only format that crosses between the judge and a worker: JSON plus raw numeric arrays.

A frame is ``total length (8 bytes) | header length (4 bytes) | JSON header | array bytes``. The
header names each array's dtype and shape; only plain numeric dtypes (bool, int, uint, float) are
rebuilt, with ``numpy.frombuffer``, so nothing executable can be smuggled in: no pickle is ever
read, and object arrays or ndarray subclasses cannot survive the trip. Values are tagged trees:
``{"a": i}`` is the i-th array, ``{"f": "1.5"}`` a float, ``{"l": [...]}`` a list, ``{"t": [...]}``
a tuple, ``{"d": {...}}`` a dict, ``{"h": n}`` a worker-side handle, ``{"j": n}`` a judge-side
handle, ``{"rng": seed}`` and ``{"sf": ...}`` stand-ins built on the receiving side.

Both directions use the same code, but only the judge's reading matters for safety: it treats
every frame as hostile (size caps, exact length accounting, dtype allow-list, deadlines on reads
and writes) because student code in the worker can write anything to its end of the pipe.
"""

from __future__ import annotations

import json
import math
import os
import select
import struct
import time
from typing import Any

import numpy as np

from grader.spec.protocol import Handle, RngSeed, ScalarFunction

# Far above any honest answer (the checks use small arrays) and small enough that a hostile worker
# cannot make the judge buffer gigabytes.
MAX_FRAME = 64 * 1024 * 1024
MAX_HEADER = 4 * 1024 * 1024
MAX_NDIM = 32
_PREFIX = struct.Struct(">QI")
_NUMERIC_KINDS = "biuf"


class WireError(Exception):
    """A frame was malformed, too large, or did not arrive in time."""


class WireTimeout(WireError):
    """The deadline passed before a whole frame was read or written."""


class JudgeHandle:
    """Inside the worker: a value kept by the judge (a reference stand-in's cache)."""

    __slots__ = ("id",)

    def __init__(self, id: int):
        self.id = id

    def __repr__(self) -> str:
        return f"<cache kept by the grader #{self.id}>"


def _numeric(array: np.ndarray) -> np.ndarray:
    """Refuse, when sending, what the receiving side would refuse anyway (object, void, ...)."""
    dtype = array.dtype
    if dtype.kind not in _NUMERIC_KINDS or dtype.hasobject or dtype.fields is not None:
        raise TypeError(f"cannot send an array of dtype {dtype} (numbers only)")
    return array


def _tree(value: Any, arrays: list[np.ndarray]) -> Any:
    if type(value) is np.ndarray:
        arrays.append(_numeric(value))
        return {"a": len(arrays) - 1}
    if isinstance(value, np.generic):
        arrays.append(_numeric(np.asarray(value)))
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
    if type(value) is Handle:
        return {"h": value.id}
    if type(value) is JudgeHandle:
        return {"j": value.id}
    if type(value) is RngSeed:
        return {"rng": value.seed}
    if type(value) is ScalarFunction:
        return {"sf": value.name, "arrays": [[k, _tree(v, arrays)] for k, v in value.arrays]}
    raise TypeError(f"cannot send a {type(value).__name__} to the other process")


def _integer(value: Any) -> int:
    # JSON true/false are ints to Python; an index or id must be a real integer.
    if type(value) is not int:
        raise WireError("malformed value (expected an integer)")
    return value


def _untree(node: Any, arrays: list[np.ndarray]) -> Any:
    if node is None or type(node) in (bool, int, str):
        return node
    if type(node) is not dict or len(node) not in (1, 2):
        raise WireError("malformed value")
    if len(node) == 2 and set(node) != {"sf", "arrays"}:
        raise WireError("malformed value")
    if "a" in node:
        index = _integer(node["a"])
        if not 0 <= index < len(arrays):
            raise WireError("malformed value (no such array)")
        return arrays[index]
    if "f" in node:
        if type(node["f"]) is not str or len(node["f"]) > 40:
            raise WireError("malformed float")
        return float(node["f"])
    if "l" in node:
        return [_untree(v, arrays) for v in _sequence(node["l"])]
    if "t" in node:
        return tuple(_untree(v, arrays) for v in _sequence(node["t"]))
    if "d" in node:
        if type(node["d"]) is not dict:
            raise WireError("malformed dict")
        return {k: _untree(v, arrays) for k, v in node["d"].items()}
    if "h" in node:
        return Handle(_integer(node["h"]))
    if "j" in node:
        return JudgeHandle(_integer(node["j"]))
    if "rng" in node:
        return RngSeed(_integer(node["rng"]))
    if "sf" in node:
        pairs = tuple((str(k), _untree(v, arrays)) for k, v in _sequence(node["arrays"]))
        return ScalarFunction(str(node["sf"]), pairs)
    raise WireError("malformed value")


def _sequence(value: Any) -> list:
    if type(value) is not list:
        raise WireError("malformed value (expected a list)")
    return value


def encode(message: dict) -> bytes:
    """One frame for ``message``: a dict whose ``body`` is a tree of plain values and arrays."""
    arrays: list[np.ndarray] = []
    header = dict(message)
    header["body"] = _tree(message.get("body"), arrays)
    blobs = [np.ascontiguousarray(a).tobytes() for a in arrays]
    header["arrays"] = [[a.dtype.str, list(a.shape)] for a in arrays]
    head = json.dumps(header, allow_nan=False).encode()
    payload = head + b"".join(blobs)
    if len(payload) > MAX_FRAME or len(head) > MAX_HEADER:
        raise TypeError(f"a message of {len(payload)} bytes is too large to send")
    return _PREFIX.pack(len(payload), len(head)) + payload


def _array_spec(spec: Any) -> tuple[np.dtype, tuple[int, ...], int]:
    """Validate one ``[dtype, shape]`` pair; return the dtype, shape and byte size."""
    if type(spec) is not list or len(spec) != 2 or type(spec[0]) is not str:
        raise WireError("malformed array description")
    code, shape = spec
    if len(code) > 8:
        raise WireError("malformed dtype")
    dtype = np.dtype(code)
    if dtype.kind not in _NUMERIC_KINDS or dtype.hasobject or dtype.fields is not None \
            or dtype.subdtype is not None:
        raise WireError(f"array of dtype {dtype} refused (numbers only)")
    if type(shape) is not list or len(shape) > MAX_NDIM:
        raise WireError("malformed array shape")
    dims = tuple(_integer(n) for n in shape)
    if any(n < 0 for n in dims):
        raise WireError("negative array dimension")
    # Python integers: a product of huge dimensions must not wrap around as it would in int64.
    return dtype, dims, dtype.itemsize * math.prod(dims)


def decode(payload: bytes, head_size: int) -> dict:
    """Rebuild a message from a frame's payload; raise WireError for anything unexpected."""
    try:
        if head_size > len(payload) or head_size > MAX_HEADER:
            raise WireError("malformed frame: header larger than the frame")
        header = json.loads(payload[:head_size])
        if type(header) is not dict:
            raise WireError("malformed frame: the header is not an object")
        specs = header.get("arrays", [])
        if type(specs) is not list:
            raise WireError("malformed frame: bad array list")
        offset = head_size
        arrays = []
        for spec in specs:
            dtype, shape, size = _array_spec(spec)
            if offset + size > len(payload):
                raise WireError("truncated array data")
            data = np.frombuffer(payload, dtype=dtype, count=size // dtype.itemsize,
                                 offset=offset)
            # A private, writable, native-endian copy: nothing aliases the frame's buffer.
            arrays.append(data.reshape(shape).astype(dtype.newbyteorder("="), copy=True))
            offset += size
        if offset != len(payload):
            raise WireError("malformed frame: trailing bytes")
        header["body"] = _untree(header.get("body"), arrays)
        return header
    except WireError:
        raise
    except Exception as error:  # noqa: BLE001 - anything unparsable is a malformed frame
        raise WireError(f"malformed frame: {type(error).__name__}: {error}") from None


def _wait(fd: int, deadline: float | None, for_write: bool) -> None:
    if deadline is None:
        return
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise WireTimeout("timed out")
    if for_write:
        _, ready, _ = select.select([], [fd], [], remaining)
    else:
        ready, _, _ = select.select([fd], [], [], remaining)
    if not ready:
        raise WireTimeout("timed out")


def send(fd: int, message: dict, deadline: float | None = None) -> None:
    """Write one frame. With a ``deadline`` (a ``time.monotonic()`` instant) the write never
    blocks past it: a worker that stops reading cannot hang the judge on a full pipe."""
    data = memoryview(encode(message))
    blocking = os.get_blocking(fd)
    if deadline is not None and blocking:
        os.set_blocking(fd, False)
    try:
        while data:
            _wait(fd, deadline, for_write=True)
            try:
                written = os.write(fd, data)
            except BlockingIOError:
                continue
            data = data[written:]
    finally:
        if deadline is not None and blocking:
            os.set_blocking(fd, True)


def _read_exactly(fd: int, size: int, deadline: float | None) -> bytes:
    chunks = []
    while size:
        _wait(fd, deadline, for_write=False)
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
