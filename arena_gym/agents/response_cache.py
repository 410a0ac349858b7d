"""A JSONL record/replay cache of LLM responses, keyed by a hash of the request.

Each line is one JSON object ``{"key": ..., "model": ..., "response": {...}}``, where
``response`` holds every :class:`~arena_gym.agents.response.LLMResponse` field. Lines are
appended, flushed and fsynced one call at a time, so a crash loses at most the call in
progress. When a key appears on several lines, the last one wins.

A line that does not parse (typically the last one, cut short by a crash) is skipped with a
warning and counted in :attr:`ResponseCache.skipped_lines`; before appending, a missing
final newline is added so that new records never merge with a cut-short line.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from arena_gym.agents.response import LLMResponse


def canonical_json(value: Any) -> str:
    """Deterministic JSON text: sorted keys, no whitespace, UTF-8 kept as is.

    Values JSON cannot hold (for example an exception given as a scripted mock response)
    are written as ``"<TypeName>:<str(value)>"``.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=lambda obj: f"{type(obj).__name__}:{obj}")


def request_key(request: Mapping[str, Any]) -> str:
    """SHA-256 hex digest of the canonical JSON of a request.

    ``request`` should hold exactly what determines the answer: the model string, the
    messages and the sampling and format parameters, and nothing that varies between runs
    of the same experiment (endpoint URL, API key, timeout, retry settings).
    """
    return hashlib.sha256(canonical_json(request).encode("utf-8")).hexdigest()


class ResponseCache:
    """Responses stored by request key in a JSONL file.

    Args:
        path: the JSONL file; created (with its folder) on the first write.

    Attributes:
        path: the file.
        skipped_lines: lines that could not be read when the file was loaded.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.skipped_lines = 0
        self._entries: dict[str, LLMResponse] = {}
        self._lock = threading.Lock()
        self._handle: Any = None
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("r", encoding="utf-8") as fh:
            for line_number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    key = record["key"]
                    response = LLMResponse.from_record(record["response"])
                except (json.JSONDecodeError, KeyError, TypeError) as exc:
                    self.skipped_lines += 1
                    warnings.warn(f"{self.path}:{line_number}: skipped unreadable cache line "
                                  f"({type(exc).__name__}: {exc})", RuntimeWarning, stacklevel=3)
                    continue
                self._entries[key] = response

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def get(self, key: str) -> LLMResponse | None:
        """The stored response for ``key``, or ``None``."""
        return self._entries.get(key)

    def put(self, key: str, response: LLMResponse) -> None:
        """Store ``response`` under ``key`` and append it durably to the file."""
        line = canonical_json({"key": key, "model": response.model,
                               "response": response.to_record()}) + "\n"
        with self._lock:
            handle = self._open_for_append()
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
            self._entries[key] = response

    def _open_for_append(self) -> Any:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            ends_mid_line = False
            if self.path.exists() and self.path.stat().st_size > 0:
                with self.path.open("rb") as fh:
                    fh.seek(-1, os.SEEK_END)
                    ends_mid_line = fh.read(1) != b"\n"
            self._handle = self.path.open("a", encoding="utf-8")
            if ends_mid_line:
                self._handle.write("\n")
        return self._handle

    def close(self) -> None:
        """Close the file handle (further :meth:`put` calls reopen it)."""
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
