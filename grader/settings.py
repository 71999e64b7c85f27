"""The instructor's settings: ``grader.toml``, seeds, paths and environment switches, in one place.

(Skeleton: the settings object is being built; see issue #9.)
"""

from __future__ import annotations

import os

CONFIG_NAME = "grader.toml"

# Every environment variable of the instructor's side that changes behaviour, with what it does.
ENVIRONMENT = {
    "VG_NO_SANDBOX": "any non-empty value: never use bubblewrap (the plain-subprocess fallback)",
    "VG_NO_TEMPLATE": "any non-empty value: one bubblewrap sandbox per worker, no worker template",
}


def switch(name: str) -> bool:
    """Whether the environment switch ``name`` (a key of ENVIRONMENT) is set (non-empty)."""
    if name not in ENVIRONMENT:
        raise KeyError(f"{name} is not a documented environment switch")
    return bool(os.environ.get(name))
