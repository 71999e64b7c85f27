"""Split a batch into shards that any scheduler can run on separate machines.

A submission's shard depends only on its name (a CRC32 of it), so adding or removing other
submissions never moves it, and every machine computes the same split without talking.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from grader.batch.identity import submission_name


def parse_shard(text: str) -> tuple[int, int]:
    """(I, N) of ``"I/N"``; ValueError saying what is wrong otherwise."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard wants I/N (for example 2/8), got {text!r}") from None
    if not 1 <= index <= count:
        raise ValueError(f"--shard {text}: I must be between 1 and N")
    return index, count


def shard_of(name: str, count: int) -> int:
    """The 1-based shard that submission ``name`` belongs to."""
    return zlib.crc32(name.encode()) % count + 1


def select_shard(paths: list[Path], text: str) -> list[Path]:
    index, count = parse_shard(text)
    return [p for p in paths if shard_of(submission_name(p), count) == index]
