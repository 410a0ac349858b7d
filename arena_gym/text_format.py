"""Short, readable text for times, durations and array-holding objects in printouts and reprs.

Times are shown in UTC to the minute (``2025-11-06 23:00 UTC``), never with nanoseconds;
durations with their unit in the singular when it is one (``1 day``, ``7 days``, ``1 h``).
"""

from __future__ import annotations

import dataclasses

import numpy as np


def utc_minute(time) -> str:
    """``2025-11-06 23:00 UTC`` for a ``datetime64`` or a timestamp read as UTC."""
    minute = np.datetime64(np.datetime64(time, "ns"), "m")
    return f"{str(minute).replace('T', ' ')} UTC"


def count_of(n: float, unit: str) -> str:
    """``1 day``, ``7 days``, ``0.5 days``: ``n`` (3 significant digits) and its unit, plural unless one."""
    return f"{n:.3g} {unit}" if f"{n:.3g}" == "1" else f"{n:.3g} {unit}s"


def bar_length(seconds: float) -> str:
    """``5 min``, ``1 h``, ``8 h``, ``1 day`` for a bar of ``seconds``."""
    if seconds % 86400 == 0:
        return count_of(seconds / 86400, "day")
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def arrays_repr(obj) -> str:
    """A dataclass's repr with each array shown by dtype and shape only, e.g.
    ``ExchangeParams(tiers=float64(3, 6, 1), ...)``: the values of big arrays are no use on screen."""
    parts = []
    for field in dataclasses.fields(obj):
        if not field.repr:
            continue
        value = getattr(obj, field.name)
        shown = f"{value.dtype}{value.shape}" if isinstance(value, np.ndarray) else repr(value)
        parts.append(f"{field.name}={shown}")
    return f"{type(obj).__name__}({', '.join(parts)})"
