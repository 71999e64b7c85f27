"""The measured numbers the lesson quotes, from ``course/measured.json`` (written by ``make study``,
``lesson/studies.py``), put into text at generation time.

    python -m course measured             # every key with its value and range
    python -m course measured --readme    # refresh the README's marked numbers
    python -m course measured --check     # exit 1 when the README's numbers differ from the data

In the narrative (and so the notebook and ``LESSON.md``) a placeholder names a key of the data
file: ``{{key}}`` is its median, ``{{key:range}}`` "low to high" (smallest and largest over the
seeds), ``{{key:n}}`` the number of seeds. The entry's unit decides the format: ratio and value
2 significant figures ("0.23", "1.2", "4.3×10⁻¹³" below 0.01 or from 1000 on), accuracy one
decimal ("99.4%"), fraction an integer percent ("23%"; "0.4%" below 1%), epochs an integer.
In the README a number sits between markers, ``<!--m key-->0.23<!--/m-->`` (or
``<!--m key:range-->...``), which ``--readme`` rewrites from the data. A key the data file does
not have is an error naming the key and the file, never a blank.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "measured.json"
README = REPO / "README.md"
UNITS = ("ratio", "accuracy", "fraction", "value", "epochs")
PARTS = ("", "range", "n")
# Anything between double braces is a placeholder: a malformed one fails, it never passes through.
PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")
MARKER = re.compile(r"<!--m (?P<spec>[^>]*?)-->(?P<value>.*?)<!--/m-->")
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


class MeasuredError(ValueError):
    """A placeholder or marker that the data file cannot fill."""


# --------------------------------------------------------------------------------------------
# The data file
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _load(path: Path, stamp: float) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def load(path: Path = DATA) -> dict[str, Any]:
    """The data file's object: key -> {"median", "low", "high", "n", "unit", "what"}, and
    "_meta". Read once per version of the file (a rewritten file is read again)."""
    path = Path(path).resolve()
    if not path.is_file():
        raise MeasuredError(f"{path}: no data file; run `make study` to measure")
    return _load(path, path.stat().st_mtime)


def keys(data: Mapping[str, Any]) -> list[str]:
    """The measured keys of ``data`` (without "_meta"), sorted."""
    return sorted(key for key in data if not key.startswith("_"))


# --------------------------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------------------------


def _significant(x: float, figures: int) -> tuple[float, int]:
    """(mantissa, exponent) of x rounded to ``figures`` significant figures, 1 <= |m| < 10."""
    exponent = math.floor(math.log10(abs(x)))
    mantissa = round(x / 10.0**exponent, figures - 1)
    if abs(mantissa) >= 10:  # 9.96 rounds up to 10.0: one more digit before the point
        mantissa /= 10
        exponent += 1
    return mantissa, exponent


def _positional(x: float, figures: int) -> str:
    return np.format_float_positional(x, precision=figures, unique=False, fractional=False,
                                      trim="-")


def two_figures(x: float) -> str:
    """x to 2 significant figures: "0.23", "1.2", "120"; "4.3×10⁻¹³" or "1.2×10⁴" when the
    rounded value is below 0.01 or from 1000 on."""
    if not math.isfinite(x):
        raise MeasuredError(f"cannot print {x} as a measured number")
    if x == 0:
        return "0"
    mantissa, exponent = _significant(x, 2)
    rounded = mantissa * 10.0**exponent
    if 0.01 <= abs(rounded) < 1000:
        return _positional(rounded, 2)
    digits = f"{mantissa:.1f}".rstrip("0").rstrip(".")
    return f"{digits}×10{str(exponent).translate(_SUPERSCRIPT)}"


def format_value(x: float, unit: str) -> str:
    """One number in the format of its unit (see the module docstring)."""
    if not math.isfinite(x):
        raise MeasuredError(f"cannot print {x} as a measured number")
    if unit in ("ratio", "value"):
        return two_figures(x)
    if unit == "accuracy":
        return f"{100 * x:.1f}%"
    if unit == "fraction":
        percent = 100 * x
        if percent == 0 or abs(percent) >= 1:
            return f"{percent:.0f}%"
        mantissa, exponent = _significant(percent, 1)
        return _positional(mantissa * 10.0**exponent, 1) + "%"
    if unit == "epochs":
        return f"{round(x):d}"
    raise MeasuredError(f"unknown unit {unit!r}; use one of {', '.join(UNITS)}")


def format_entry(entry: Mapping[str, Any], part: str = "") -> str:
    """An entry as a placeholder prints it: "" the median, "range" "low to high", "n" the count
    of seeds."""
    if part == "n":
        return str(int(entry["n"]))
    if part == "range":
        return (f"{format_value(entry['low'], entry['unit'])} to "
                f"{format_value(entry['high'], entry['unit'])}")
    if part == "":
        return format_value(entry["median"], entry["unit"])
    raise MeasuredError(f"unknown format {part!r}; use {{{{key}}}}, {{{{key:range}}}} or "
                        "{{key:n}}")


def value_of(spec: str, data: Mapping[str, Any], source: str = "",
             path: Path = DATA) -> str:
    """The text for one placeholder's inside, "key" or "key:range" or "key:n"."""
    key, _, part = spec.strip().partition(":")
    key, part = key.strip(), part.strip()
    where = f"{source}: " if source else ""
    if part not in PARTS:
        raise MeasuredError(f"{where}{{{{{spec}}}}}: unknown format {part!r} (use {{{{key}}}}, "
                            "{{key:range}} or {{key:n}})")
    if key.startswith("_") or key not in data:
        raise MeasuredError(f"{where}unknown measured key {key!r}: {path} has no such entry "
                            "(fix the name, or add the measurement to lesson/studies.py and "
                            "run `make study`)")
    return format_entry(data[key], part)


def render(text: str, data: Mapping[str, Any] | None = None, source: str = "",
           path: Path = DATA) -> str:
    """``text`` with every ``{{key}}``, ``{{key:range}}`` and ``{{key:n}}`` replaced by the
    measured value (the data file is read only when ``text`` has a placeholder). ``source``
    names the text in errors ("05-early-layers.md"); an unknown key or format raises
    MeasuredError naming the key, the line and the data file."""
    if "{{" not in text:
        return text
    table = load(path) if data is None else data

    def fill(match: re.Match[str]) -> str:
        line = text.count("\n", 0, match.start()) + 1
        return value_of(match[1], table, f"{source or 'text'}:{line}", path)

    return PLACEHOLDER.sub(fill, text)


# --------------------------------------------------------------------------------------------
# The README's marked numbers
# --------------------------------------------------------------------------------------------


def refresh_markers(text: str, data: Mapping[str, Any] | None = None, source: str = "README.md",
                    path: Path = DATA) -> str:
    """``text`` with the value between every ``<!--m spec-->`` and ``<!--/m-->`` rewritten."""
    table = load(path) if data is None else data

    def fill(match: re.Match[str]) -> str:
        line = text.count("\n", 0, match.start()) + 1
        value = value_of(match["spec"], table, f"{source}:{line}", path)
        return f"<!--m {match['spec']}-->{value}<!--/m-->"

    return MARKER.sub(fill, text)


def marker_drift(text: str, data: Mapping[str, Any] | None = None,
                 path: Path = DATA) -> list[tuple[str, str, str]]:
    """(spec, value in the text, value from the data) of every marker whose value differs."""
    table = load(path) if data is None else data
    drift = []
    for match in MARKER.finditer(text):
        expected = value_of(match["spec"], table, "README.md", path)
        if match["value"] != expected:
            drift.append((match["spec"], match["value"], expected))
    return drift


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``measured`` sub-command to ``python -m course``."""
    parser = commands.add_parser("measured", help="the measured numbers: list them, refresh the "
                                 "README's", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--readme", action="store_true",
                      help="rewrite the README's marked numbers from the data file")
    what.add_argument("--check", action="store_true",
                      help="exit 1 when the README's marked numbers differ from the data file")
    parser.add_argument("--data", type=Path, default=DATA, help="the data file")
    parser.add_argument("--file", type=Path, default=README, help="the README to refresh")
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    data = load(args.data)
    if args.readme or args.check:
        text = args.file.read_text(encoding="utf-8")
        drift = marker_drift(text, data, args.data)
        if args.check:
            for spec, found, expected in drift:
                print(f"{args.file}: <!--m {spec}--> says {found!r}, the data {expected!r}")
            return 1 if drift else 0
        args.file.write_text(refresh_markers(text, data, args.file.name, args.data),
                             encoding="utf-8")
        print(f"{args.file}: {len(drift)} marked number(s) refreshed")
        return 0
    for key in keys(data):
        entry = data[key]
        print(f"{key:<44} {format_entry(entry):>12}  ({format_entry(entry, 'range')}, "
              f"n={entry['n']})")
    return 0
