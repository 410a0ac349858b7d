"""Bar lengths written as timeframe strings (``"15m"``, ``"4h"``, ``"1d"``)."""

from __future__ import annotations

import re

_TIMEFRAME = re.compile(r"\s*(\d+)\s*(s|m|min|h|d|w)\s*")
_UNIT_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def timeframe_seconds(text: str) -> int:
    """Seconds in a timeframe: a positive count and a unit ``s``, ``m``/``min``, ``h``, ``d`` or ``w``.

    Whitespace around and between the two is allowed: ``"15m"``, ``" 4 h"``, ``"5min"``.

    Raises:
        ValueError: for any other text, or a count of zero.
    """
    m = _TIMEFRAME.fullmatch(text)
    if m is None or int(m.group(1)) == 0:
        raise ValueError(f"unknown timeframe {text!r}; use e.g. 15m, 1h, 4h, 1d")
    return int(m.group(1)) * _UNIT_SECONDS[m.group(2)]
