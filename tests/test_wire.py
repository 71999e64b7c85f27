"""The wire format: what crosses between judge and worker, and what the judge refuses to read."""

from __future__ import annotations

import json
import os
import pickle
import struct
import threading
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.spec.protocol import Handle, RngSeed, ScalarFunction
from grader.spec.wire import (
    MAX_FRAME,
    JudgeHandle,
    WireError,
    WireTimeout,
    decode,
    encode,
    receive,
    send,
)
from tests.strategies import generated, numeric_arrays

PREFIX = struct.Struct(">QI")


def roundtrip(body):
    frame = encode({"op": "reply", "id": 3, "body": body})
    total, head = PREFIX.unpack(frame[:PREFIX.size])
    assert total == len(frame) - PREFIX.size
    message = decode(frame[PREFIX.size:], head)
    assert message["op"] == "reply" and message["id"] == 3
    return message["body"]


def forged(header: dict, data: bytes = b"") -> tuple[bytes, int]:
    """A payload and header size as a hostile worker could write them."""
    head = json.dumps(header).encode()
    return head + data, len(head)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int8", "uint16", "bool",
                                   ">f8", "<i4"])
@pytest.mark.parametrize("shape", [(), (0,), (5,), (2, 3), (2, 0, 4), (1, 1, 1, 3)])
def test_numeric_arrays_round_trip_exactly(dtype, shape):
    array = (np.arange(int(np.prod(shape))) % 3).astype(dtype).reshape(shape)
    back = roundtrip(array)
    assert type(back) is np.ndarray
    assert back.shape == array.shape and back.dtype == array.dtype.newbyteorder("=")
    assert np.array_equal(back, array)
    assert back.flags.writeable and back.flags.owndata


def test_non_contiguous_and_special_values_round_trip():
    array = np.array([[1.0, np.nan], [np.inf, -0.0]]).T
    back = roundtrip(array)
    assert np.array_equal(back, array, equal_nan=True)
    assert np.signbit(back[1, 1])


def test_trees_of_plain_values_round_trip():
    body = {"a": [1, 2.5, None, True, "text", (np.float64(1.5), np.int32(7))],
            "h": Handle(4), "j": JudgeHandle(2), "rng": RngSeed(11),
            "f": [float("nan"), float("inf"), -1e-300]}
    back = roundtrip(body)
    assert back["a"][:5] == [1, 2.5, None, True, "text"]
    assert type(back["a"][5]) is tuple and back["a"][5][0].dtype == np.float64
    assert back["h"] == Handle(4) and back["j"].id == 2 and back["rng"] == RngSeed(11)
    assert np.isnan(back["f"][0]) and back["f"][1:] == [float("inf"), -1e-300]


def test_a_scalar_function_stand_in_round_trips():
    function = ScalarFunction("curved", (("C", np.ones(3)), ("D", np.zeros(3))))
    back = roundtrip(function)
    assert back.name == "curved" and [k for k, _ in back.arrays] == ["C", "D"]
    assert float(back.build()(np.ones(3))) == pytest.approx(1.5)


@pytest.mark.parametrize("value", [
    np.array([object()], dtype=object),
    np.zeros(2, dtype=[("a", "f8"), ("b", "i4")]),
    np.array(["text"]),
    np.zeros(2, dtype=complex),
    np.array(["2020-01-01"], dtype="datetime64[D]"),
    np.zeros(3).view(type("Sub", (np.ndarray,), {})),
    object(),
    {1, 2},
    b"bytes",
    pickle,
])
def test_the_sender_refuses_what_is_not_plain_data(value):
    with pytest.raises(TypeError):
        encode({"op": "reply", "body": value})


@pytest.mark.parametrize("code", ["|O", "|V16", "<c16", "<M8[D]", "<U4", "(2,)<f8", "|S3"])
def test_the_receiver_refuses_non_numeric_dtypes(code):
    payload, head = forged({"op": "reply", "body": {"a": 0}, "arrays": [[code, [1]]]},
                           b"\0" * 64)
    with pytest.raises(WireError):
        decode(payload, head)


def test_a_pickle_is_never_unpickled():
    class Payload:
        def __reduce__(self):
            return (os.system, ("false",))

    data = pickle.dumps([1, 2])  # a harmless pickle; the point is it stays bytes
    payload, head = forged({"op": "reply", "body": {"a": 0}, "arrays": [["|O", [1]]]}, data)
    with pytest.raises(WireError):
        decode(payload, head)
    with pytest.raises(TypeError):
        encode({"op": "reply", "body": Payload()})


@pytest.mark.parametrize("header", [
    {"op": "reply", "body": {"a": 0}, "arrays": [["<f8", [4]]]},          # 32 bytes promised
    {"op": "reply", "body": {"a": 0}, "arrays": [["<f8", [2**40, 2**40]]]},  # no int64 wrap
    {"op": "reply", "body": {"a": 0}, "arrays": [["<f8", [-1]]]},
    {"op": "reply", "body": {"a": 1}, "arrays": [["<f8", [0]]]},          # no such array
    {"op": "reply", "body": {"a": True}, "arrays": [["<f8", [0]]]},       # bool is no index
    {"op": "reply", "body": {"x": 1}},
    {"op": "reply", "body": {"l": 3}},
    {"op": "reply", "body": {"f": 1.5}},
    {"op": "reply", "body": 1.5},
    {"op": "reply", "body": {"h": "7"}},
    {"op": "reply", "body": {"a": 0, "l": []}, "arrays": [["<f8", [0]]]},
    {"op": "reply", "body": None, "arrays": "oops"},
    {"op": "reply", "body": None, "arrays": [["<f8", [1] * 40]]},
])
def test_malformed_or_truncated_frames_are_refused(header):
    payload, head = forged(header, b"\0" * 16)
    with pytest.raises(WireError):
        decode(payload, head)


def test_trailing_bytes_and_bad_json_are_refused():
    payload, head = forged({"op": "reply", "body": None})
    with pytest.raises(WireError):
        decode(payload + b"extra", head)
    with pytest.raises(WireError):
        decode(b"{not json", 9)
    with pytest.raises(WireError):
        decode(b"[1, 2]", 6)
    with pytest.raises(WireError):
        decode(b"{}", 50)


@pytest.mark.parametrize("depth", [900, 100_000])
def test_deeply_nested_values_are_refused_or_read_never_crashing(depth):
    head = ('{"op": "reply", "body": ' + '{"l": [' * depth + "null" + "]}" * depth + "}").encode()
    try:
        body = decode(head, len(head))["body"]
    except WireError:
        return
    for _ in range(depth):
        body = body[0]
    assert body is None


def test_an_oversize_frame_is_refused_before_reading_it():
    read, write = os.pipe()
    try:
        os.write(write, PREFIX.pack(MAX_FRAME + 1, 10))
        with pytest.raises(WireError, match="refused"):
            receive(read, time.monotonic() + 1)
    finally:
        os.close(read)
        os.close(write)


def test_receive_of_a_whole_message_over_a_pipe():
    read, write = os.pipe()
    try:
        send(write, {"op": "call", "id": 1, "body": [np.arange(6.0).reshape(2, 3)]})
        message = receive(read, time.monotonic() + 1)
        assert message["body"][0].tolist() == [[0, 1, 2], [3, 4, 5]]
    finally:
        os.close(read)
        os.close(write)


def test_a_truncated_stream_is_an_error_not_a_hang():
    read, write = os.pipe()
    frame = encode({"op": "reply", "body": np.zeros(100)})
    os.write(write, frame[: len(frame) // 2])
    os.close(write)
    try:
        with pytest.raises(WireError, match="closed"):
            receive(read, time.monotonic() + 1)
    finally:
        os.close(read)


def test_receive_times_out_on_silence_and_on_a_trickle():
    read, write = os.pipe()
    try:
        started = time.monotonic()
        with pytest.raises(WireTimeout):
            receive(read, time.monotonic() + 0.3)
        assert time.monotonic() - started < 1

        def trickle():
            frame = encode({"op": "reply", "body": np.zeros(50)})
            for byte in frame[:40]:
                time.sleep(0.05)
                os.write(write, bytes([byte]))

        thread = threading.Thread(target=trickle)
        thread.start()
        started = time.monotonic()
        with pytest.raises(WireTimeout):
            receive(read, time.monotonic() + 0.5)
        assert time.monotonic() - started < 1.5
        thread.join()
    finally:
        os.close(read)
        os.close(write)


def test_send_with_a_deadline_never_blocks_on_a_full_pipe():
    """A worker that stops reading must not hang the judge."""
    read, write = os.pipe()
    try:
        started = time.monotonic()
        with pytest.raises(WireTimeout):
            send(write, {"op": "call", "body": np.zeros(1 << 18)}, time.monotonic() + 0.3)
        assert time.monotonic() - started < 1.5
        assert os.get_blocking(write)  # restored for later writes
    finally:
        os.close(read)
        os.close(write)


@generated(300)
@given(array=numeric_arrays(), view=st.sampled_from(["as made", "transposed", "reversed"]))
def test_any_numeric_array_round_trips_bit_for_bit(array, view):
    # Views that are not C-contiguous must be sent as their values, not as their memory.
    if view == "transposed":
        array = array.T
    elif view == "reversed" and array.ndim:
        array = array[::-1]
    back = roundtrip(array)
    assert type(back) is np.ndarray and back.shape == array.shape
    assert back.dtype == array.dtype.newbyteorder("=")
    assert back.tobytes() == array.astype(back.dtype).tobytes()  # NaN payloads, -0.0 too
    assert back.flags.writeable and back.flags.owndata
