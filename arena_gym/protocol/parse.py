"""Reading an LLM's trading answer into per-coin decisions. Never raises on any output.

:func:`parse_decision` accepts the raw completion text, an already-parsed ``dict`` or ``list``,
:class:`~arena_gym.protocol.decision.CoinDecision` objects, or a response object with ``.text``
and ``.error`` (an :class:`~arena_gym.agents.response.LLMResponse`). What it cannot use becomes
"hold", and every repair is listed as a :class:`~arena_gym.protocol.decision.Fallback`.

Reading the text, in order:

1. Reasoning blocks (``<think>``, ``<thinking>``, ``<reasoning>``, ``<reflection>``, any case)
   are removed. A closing tag without an opening one drops everything before it (the opening
   tag was in the chat template); an opening tag never closed drops everything after it.
2. Code-fence markers (```` ```json ````) are removed; their contents stay.
3. Every balanced JSON object or array in the text is a candidate (``NaN`` and ``Infinity``
   are read as numbers and then refused as values); brackets that hold prose rather than
   JSON are searched inside. A balanced value that strict JSON refuses but that is near-JSON
   (trailing commas, single quotes, Python ``True`` / ``None``, ``//`` comments) is read with
   the json-repair library and counted as ``repaired_json``, provided it opens like JSON (a
   bracket, then a quote, bracket or comment) and the result holds a ``signal`` key (else it is
   prose and searched inside as before). If the text ends inside an
   unfinished JSON value (the model was cut off), it is closed after its last complete
   per-coin entry and that repaired value is the final candidate (``truncated_json``).
   json-repair only ever sees balanced text or text cut by the parser itself right after a
   complete entry, never the unfinished tail: it cannot complete a field the model did not
   finish writing (a ``"leverage": 1`` cut from ``10`` is not read as 1).
4. The last candidate that yields at least one valid decision is used; text outside it is
   ignored (``prose_around_json``). An empty object or list is a valid "hold everything".

Answer shapes: an object keyed by coin (the contest's layout), a list of entries, a single
entry, or ``{"decisions": <either>}``; an entry may wrap its fields in
``"trade_signal_args"`` and may nest ``profit_target``, ``stop_loss`` and
``invalidation_condition`` in ``"exit_plan"``. Keys are matched case-insensitively. Coin
names are matched case-insensitively after removing a market suffix: ``"btc"``,
``"BTC-PERP"``, ``"BTC/USDC:USDC"`` and ``"BTCUSDT"`` all mean ``BTC``. Coins the answer
does not mention hold; that is the default and not a fallback.

Field rules (a number may also be a string holding one: ``"0.5"``, ``"$1,200"``, ``"10x"``):

=======================  =================================================================
field                    rule
=======================  =================================================================
coin                     unknown -> ``unknown_coin``; key and ``coin`` field disagree ->
                         ``coin_mismatch``; more than one entry -> ``duplicate_coin``
                         (each: the coin holds)
signal                   one of the four (case, spaces and hyphens forgiven), else
                         ``bad_signal``: the coin holds
quantity                 entries: a finite number > 0, else ``bad_quantity``: the coin
                         holds. hold / close_position: informational, kept as written
leverage                 not a finite number -> dropped (``bad_leverage``); not an integer
                         -> floored; below 1 -> 1; above the coin's maximum -> the
                         maximum (``leverage_clamped``)
profit_target, stop_loss not a finite price > 0 -> dropped (``bad_price``)
confidence               outside [0, 1] -> clamped (``confidence_clamped``); not a finite
                         number -> dropped (``bad_field``)
risk_usd                 not a finite number >= 0 -> dropped (``bad_field``)
text fields              not a string -> ``""`` (``bad_field``); longer than
                         :data:`MAX_TEXT_FIELD_CHARS` -> truncated (``text_truncated``)
=======================  =================================================================

For ``hold`` and ``close_position`` only the signal matters, so their other fields are
sanitised by the same rules without a record.
"""

from __future__ import annotations

import json
import math
import numbers
import re
import reprlib
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from arena_gym.venue.formulas import clamp_leverage
from arena_gym.protocol.decision import CoinDecision, Fallback, ParsedDecision, Signal

#: Longest kept ``invalidation_condition`` or ``justification``, in characters.
MAX_TEXT_FIELD_CHARS = 2000
#: Deepest bracket nesting read as JSON; deeper text is skipped as garbage.
MAX_NESTING = 64
#: How many times the search restarts just after a bracket that turned out not to open JSON.
MAX_RESCANS = 8
#: How many levels deep the search looks inside balanced brackets that hold prose, not JSON.
MAX_INNER_SEARCH = 2
#: How many entry ends, counted back from the cut, are tried when repairing a truncated answer.
MAX_REPAIR_POINTS = 64

_SHOWN_CHARS = 120
_MAX_TOKEN_CHARS = 64
_MAX_WRAPPER_DEPTH = 3
_MARKET_SUFFIXES = ("PERP", "USDT", "USDC", "USD")

_REASONING_TAG = re.compile(r"<(/?)\s*(think|thinking|reasoning|reflection)\s*>", re.IGNORECASE)
_FENCE = re.compile(r"```[A-Za-z0-9_+.-]*")
_TOKEN = re.compile(r'[{}\[\]"]')
_STRING_REST = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_JSON_START = re.compile(r'[{\[]\s*(?:["{\[]|$)')
_NEAR_JSON_START = re.compile(r"""[{\[]\s*(?:["'{\[]|//|$)""")
_COIN_SEPARATORS = re.compile(r"[/:\-_ ]")

_repr = reprlib.Repr()
_repr.maxstring = 80
_repr.maxother = 80
_repr.maxlevel = 2


def parse_decision(output: Any, coins: Sequence[str], max_leverage: Mapping[str, int] | None = None) -> ParsedDecision:
    """Read one LLM answer into per-coin decisions (see the module docstring for every rule).

    Args:
        output: the raw completion text; a ``dict`` or ``list`` already decoded from JSON; a
            :class:`CoinDecision` or a sequence of them; or an object with ``.text`` and
            ``.error`` (when ``error`` is set, every coin holds with a ``provider_error``
            fallback carrying the error).
        coins: the symbols the environment trades, e.g. ``("BTC", "ETH")``.
        max_leverage: the highest leverage per symbol; an entry's leverage above it is clamped.
            ``None`` leaves the upper clamp to the exchange.

    Returns:
        A :class:`ParsedDecision`. Never raises for any ``output``; ``coins`` and
        ``max_leverage`` are checked and raise ``ValueError`` when malformed.
    """
    book = _CoinBook(coins)
    limits = _leverage_limits(max_leverage, book)
    try:
        return _parse(output, book, limits)
    except Exception as exc:  # noqa: BLE001 - a parser bug must not stop an episode; it is recorded
        detail = f"{type(exc).__name__}: {exc}"
        return ParsedDecision({}, [Fallback(None, "parser_error", detail)], _raw_text_of(output))


# ---------------------------------------------------------------------------- coin names
class _CoinBook:
    """Maps the many spellings of a coin to the environment's symbol."""

    def __init__(self, coins: Sequence[str]) -> None:
        if isinstance(coins, str) or not isinstance(coins, Sequence) or not coins:
            raise ValueError(f"coins must be a non-empty sequence of symbols, got {coins!r}")
        self.symbols = tuple(coins)
        self._by_key: dict[str, str] = {}
        for coin in self.symbols:
            if not isinstance(coin, str) or not coin.strip():
                raise ValueError(f"coins must be non-empty strings, got {coin!r} in {coins!r}")
            key = coin.strip().upper()
            if key in self._by_key:
                raise ValueError(f"coin {coin!r} is listed twice (case-insensitively) in {coins!r}")
            self._by_key[key] = coin

    def resolve(self, name: Any) -> str | None:
        """The symbol ``name`` means, or ``None``."""
        if not isinstance(name, str) or len(name) > _MAX_TOKEN_CHARS:
            return None
        key = name.strip().upper()
        if key in self._by_key:
            return self._by_key[key]
        base = _COIN_SEPARATORS.split(key, 1)[0]
        stripped = True
        while stripped:
            if base in self._by_key:
                return self._by_key[base]
            stripped = False
            for suffix in _MARKET_SUFFIXES:
                if base.endswith(suffix) and len(base) > len(suffix):
                    base, stripped = base[: -len(suffix)], True
                    break
        return None

    def describe(self) -> str:
        return ", ".join(self.symbols)


def _leverage_limits(max_leverage: Mapping[str, int] | None, book: _CoinBook) -> dict[str, int]:
    if max_leverage is None:
        return {}
    limits = {}
    for coin, limit in max_leverage.items():
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit < 1 or int(limit) != limit:
            raise ValueError(f"max_leverage[{coin!r}] must be an integer >= 1, got {limit!r}")
        symbol = book.resolve(coin)
        if symbol is not None:
            limits[symbol] = int(limit)
    return limits


# ---------------------------------------------------------------------------- top level
def _parse(output: Any, book: _CoinBook, limits: dict[str, int]) -> ParsedDecision:
    if output is None:
        return ParsedDecision({}, [Fallback(None, "empty_output", "the output was None")], "")
    if isinstance(output, (bytes, bytearray)):
        output = bytes(output).decode("utf-8", errors="replace")
    if isinstance(output, str):
        return _parse_text(output, book, limits)
    if isinstance(output, (Mapping, list, tuple, CoinDecision)):
        reading = _read_answer(output, book, limits)
        fallbacks = reading.fallbacks
        if not reading.decisions and not fallbacks and not reading.empty:
            fallbacks = [Fallback(None, "no_decisions", f"no per-coin decision in {_show(output)}")]
        return ParsedDecision(reading.decisions, fallbacks, _raw_text_of(output))
    if hasattr(output, "text") and hasattr(output, "error"):
        text = output.text if isinstance(output.text, str) else ""
        if output.error:
            return ParsedDecision({}, [Fallback(None, "provider_error", str(output.error))], text)
        return _parse_text(text, book, limits)
    detail = f"cannot read an output of type {type(output).__name__}"
    return ParsedDecision({}, [Fallback(None, "unsupported_output", detail)], _raw_text_of(output))


def _parse_text(text: str, book: _CoinBook, limits: dict[str, int]) -> ParsedDecision:
    if not text.strip():
        return ParsedDecision({}, [Fallback(None, "empty_output", f"{len(text)} characters of whitespace")], text)
    body, unclosed = _strip_reasoning(text)
    body = _FENCE.sub("", body)
    if not body.strip():
        if unclosed:
            note = Fallback(None, "unclosed_reasoning", "the text ended inside a reasoning block")
        else:
            note = Fallback(None, "empty_output", "nothing but reasoning blocks and code-fence markers")
        return ParsedDecision({}, [note], text)

    finder = _JsonFinder(body)
    finder.collect(0, len(body), inner=0)
    chosen = _choose(finder.candidates, book, limits)
    notes: list[Fallback] = []
    if chosen is not None and chosen[0].repaired:
        notes.append(Fallback(None, "repaired_json", "strict JSON refused the answer; read it after repairing "
                                                      "near-JSON syntax"))
    if chosen is not None and chosen[0].truncated:
        kept = f"the answer was cut off; kept the {len(chosen[1].decisions)} entries before the cut"
        notes.append(Fallback(None, "truncated_json", kept))
    elif finder.unfinished_at is not None:
        start = finder.unfinished_at
        unfinished = _cut(repr(body[start:start + 60]))
        notes.append(Fallback(None, "truncated_json", f"an unfinished JSON value was ignored: {unfinished}"))
    if chosen is None:
        if not notes and finder.candidates:
            found = len(finder.candidates)
            notes.append(Fallback(None, "no_decisions", f"{found} JSON value(s), none holding a per-coin decision"))
        elif not notes:
            shown = _cut(repr(body[:80]))
            notes.append(Fallback(None, "no_json", f"no JSON object or array in {len(body)} characters: {shown}"))
        return ParsedDecision({}, notes, text)

    candidate, reading = chosen
    before = body[: candidate.start].strip()
    after = "" if candidate.truncated else body[candidate.end:].strip()
    if before or after:
        notes.insert(0, Fallback(None, "prose_around_json",
                                 f"ignored {len(before)} characters before and {len(after)} after the JSON answer"))
    return ParsedDecision(reading.decisions, notes + reading.fallbacks, text)


def _choose(candidates: list[_Candidate], book: _CoinBook, limits: dict[str, int]
            ) -> tuple[_Candidate, _Reading] | None:
    """The last candidate holding a valid decision; else the last one that named coins (its
    fallbacks say why each entry failed); else the last empty answer; else ``None``."""
    refused = empty = None
    for candidate in reversed(candidates):
        reading = _read_answer(candidate.value, book, limits)
        if reading.decisions:
            return candidate, reading
        if reading.fallbacks and refused is None:
            refused = (candidate, reading)
        elif reading.empty and empty is None:
            empty = (candidate, reading)
    return refused or empty


def _strip_reasoning(text: str) -> tuple[str, bool]:
    """The text without reasoning blocks, and whether one was left open at the end."""
    kept: list[str] = []
    depth, pos = 0, 0
    for tag in _REASONING_TAG.finditer(text):
        if not tag.group(1):
            if depth == 0:
                kept.append(text[pos: tag.start()])
            depth += 1
            continue
        if depth == 0:
            kept = []  # a closing tag alone: everything before it was reasoning
        else:
            depth -= 1
        if depth == 0:
            pos = tag.end()
    if depth:
        return "".join(kept), True
    kept.append(text[pos:])
    return "".join(kept), False


# ---------------------------------------------------------------------------- finding JSON
@dataclass
class _Candidate:
    start: int
    end: int
    value: Any
    truncated: bool = False
    repaired: bool = False


@dataclass
class _Scan:
    spans: list[tuple[int, int]] = field(default_factory=list)
    #: start of the value still open where the region ends (cut off, or a stray bracket in prose)
    open_start: int | None = None
    #: (start, end, closing brackets) of objects completed inside the still-open value
    completions: deque = field(default_factory=lambda: deque(maxlen=MAX_REPAIR_POINTS))
    #: start of a value abandoned at a mismatched closing bracket, and where scanning may go on
    abandoned: int | None = None
    resume: int = 0


_UNREADABLE = object()


def _loads(text: str) -> Any:
    try:
        return json.loads(text, parse_int=float)  # float: a 5000-digit integer reads as inf, then is refused
    except (ValueError, RecursionError):
        return _UNREADABLE


def _repair(text: str) -> Any:
    """Near-JSON ``text`` (complete, balanced) read by json-repair, or ``_UNREADABLE``.

    Integers become floats as in :func:`_loads`. Only ever called on balanced values or on
    text the parser closed itself after a complete entry (module docstring, step 3).
    """
    import json_repair

    try:
        value = json_repair.loads(text, skip_json_loads=True)
    except Exception:  # noqa: BLE001 - the library's failures are a refusal, not an error of ours
        return _UNREADABLE
    return _floats(value, MAX_NESTING)


def _floats(value: Any, depth: int) -> Any:
    if isinstance(value, bool) or depth < 0:
        return value
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            return math.inf
    if isinstance(value, dict):
        return {k: _floats(v, depth - 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v, depth - 1) for v in value]
    return value


def _loads_or_repair(text: str) -> tuple[Any, bool]:
    """Strict JSON first; else, for text that opens like JSON (a bracket then a quote, a
    bracket or a comment: not prose in brackets), json-repair when the result holds a
    decision. ``(value, repaired)``."""
    value = _loads(text)
    if value is not _UNREADABLE:
        return value, False
    if not _NEAR_JSON_START.match(text):
        return _UNREADABLE, False
    value = _repair(text)
    if value is not _UNREADABLE and _mentions_signal(value, _MAX_WRAPPER_DEPTH):
        return value, True
    return _UNREADABLE, False


class _JsonFinder:
    """Collects the readable JSON values of a text, in text order.

    A bracket that turns out not to open JSON (mismatched, never closed, or balanced around
    prose) may still enclose JSON: the search then looks inside it, at most
    :data:`MAX_RESCANS` times from the bracket on, and :data:`MAX_INNER_SEARCH` levels deep
    inside balanced prose, so the work stays a small multiple of the text length.
    """

    def __init__(self, body: str) -> None:
        self.body = body
        self.candidates: list[_Candidate] = []
        self.unfinished_at: int | None = None
        self._rescans = MAX_RESCANS

    def collect(self, pos: int, stop: int, inner: int) -> None:
        while True:
            scan = _scan(self.body, pos, stop)
            for start, end in scan.spans:
                self._add(start, end, inner)
            if scan.abandoned is not None:
                pos = scan.abandoned + 1 if self._rescan() else scan.resume
                continue
            if scan.open_start is None or inner:
                return
            if self.unfinished_at is None and _JSON_START.match(self.body, scan.open_start):
                self.unfinished_at = scan.open_start
            repaired = _repair_truncated(self.body, scan)
            if repaired is not None:
                self.candidates.append(repaired)
                return
            if not self._rescan():
                return
            pos = scan.open_start + 1

    def _add(self, start: int, end: int, inner: int) -> None:
        value, repaired = _loads_or_repair(self.body[start:end])
        if value is not _UNREADABLE:
            self.candidates.append(_Candidate(start, end, value, repaired=repaired))
        elif inner < MAX_INNER_SEARCH:
            self.collect(start + 1, end - 1, inner + 1)

    def _rescan(self) -> bool:
        self._rescans -= 1
        return self._rescans >= 0


def _scan(text: str, pos: int, stop: int) -> _Scan:
    """Balanced top-level ``{...}`` / ``[...]`` spans in ``text[pos:stop]``, skipping JSON strings.

    Stops early at a mismatched closing bracket (``abandoned``); reports the value still open
    at ``stop`` (``open_start``, ``completions``).
    """
    scan = _Scan()
    stack: list[tuple[str, int]] = []
    while True:
        token = _TOKEN.search(text, pos, stop)
        if token is None:
            break
        i = token.start()
        char = text[i]
        if char == '"':
            if not stack:
                pos = i + 1  # quotes in prose
                continue
            rest = _STRING_REST.match(text, i + 1, stop)
            if rest is None:
                break  # the region ends inside a string
            pos = rest.end()
            continue
        pos = i + 1
        if char in "{[":
            if len(stack) >= MAX_NESTING:
                stack.clear()  # nested too deep to be an answer: skip it as garbage
                scan.completions.clear()
                continue
            if not stack:
                scan.completions.clear()
            stack.append((char, i))
            continue
        if not stack:
            continue  # a closing bracket in prose
        opener, start = stack[-1]
        if (opener == "{") != (char == "}"):
            scan.abandoned, scan.resume = stack[0][1], i + 1
            return scan
        stack.pop()
        if not stack:
            scan.spans.append((start, i + 1))
        elif char == "}" and len(stack) <= _MAX_WRAPPER_DEPTH:
            closers = "".join("}" if o == "{" else "]" for o, _ in reversed(stack))
            scan.completions.append((start, i + 1, closers))
    if stack:
        scan.open_start = stack[0][1]
    return scan


def _repair_truncated(body: str, scan: _Scan) -> _Candidate | None:
    """The unfinished value closed right after its last complete per-coin entry, if any."""
    root = scan.open_start
    for start, end, closers in reversed(scan.completions):
        if not _mentions_signal(_loads_or_repair(body[start:end])[0], 2):
            continue
        value, repaired = _loads_or_repair(body[root:end] + closers)
        if value is not _UNREADABLE:
            return _Candidate(root, end, value, truncated=True, repaired=repaired)
    return None


def _mentions_signal(value: Any, depth: int) -> bool:
    """True when ``value`` holds a ``signal`` key within ``depth`` levels of nesting."""
    if isinstance(value, Mapping):
        if any(isinstance(k, str) and k.strip().lower() == "signal" for k in value):
            return True
        children = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return False
    return depth > 0 and any(_mentions_signal(child, depth - 1) for child in children)


# ---------------------------------------------------------------------------- answer shapes
@dataclass
class _Reading:
    decisions: dict[str, CoinDecision] = field(default_factory=dict)
    fallbacks: list[Fallback] = field(default_factory=list)
    empty: bool = False  # the answer was an empty object or list: a valid "hold everything"


def _lower_keys(mapping: Mapping) -> dict:
    return {(k.strip().lower() if isinstance(k, str) else k): v for k, v in mapping.items()}


def _is_entry(mapping: dict) -> bool:
    return "signal" in mapping or isinstance(mapping.get("trade_signal_args"), Mapping)


def _flatten(value: Any, depth: int, items: list[tuple[Any, Any]]) -> bool:
    """Collects ``(key or None, entry)`` pairs from an answer; returns True for an empty answer.

    Keys are resolved later; a key that is not a coin and holds no entry-like object is
    metadata (``"reasoning": "..."``) and is skipped there without a record.
    """
    if isinstance(value, CoinDecision):
        items.append((None, value))
        return False
    if isinstance(value, Mapping):
        lowered = _lower_keys(value)
        if "decisions" in lowered and depth < _MAX_WRAPPER_DEPTH:
            return _flatten(lowered["decisions"], depth + 1, items)
        if _is_entry(lowered):
            items.append((None, value))
            return False
        items.extend(value.items())
        return not value
    if isinstance(value, (list, tuple)):
        if not any(isinstance(element, (Mapping, CoinDecision)) for element in value):
            return not value  # a list of numbers or strings is no answer
        for element in value:
            if isinstance(element, Mapping) and not _is_entry(_lower_keys(element)) and depth < _MAX_WRAPPER_DEPTH:
                _flatten(element, depth + 1, items)
            else:
                items.append((None, element))
        return False
    return False


def _read_answer(value: Any, book: _CoinBook, limits: dict[str, int]) -> _Reading:
    items: list[tuple[Any, Any]] = []
    empty = _flatten(value, 0, items)
    reading = _Reading(empty=empty and not items)
    results = [_read_entry(key, entry, book, limits) for key, entry in items]
    counts = Counter(coin for coin, _, _ in results if coin is not None)
    duplicates_noted: set[str] = set()
    for coin, decision, fallbacks in results:
        if coin is not None and counts[coin] > 1:
            if coin not in duplicates_noted:
                duplicates_noted.add(coin)
                reading.fallbacks.append(Fallback(coin, "duplicate_coin", f"{counts[coin]} entries for {coin}"))
            continue
        reading.fallbacks.extend(fallbacks)
        if decision is not None:
            reading.decisions[coin] = decision
    return reading


# ---------------------------------------------------------------------------- one entry
def _read_entry(key: Any, entry: Any, book: _CoinBook, limits: dict[str, int]
                ) -> tuple[str | None, CoinDecision | None, list[Fallback]]:
    """``(coin or None, decision or None, fallbacks)`` for one entry."""
    key_coin = book.resolve(key) if key is not None else None
    if key is not None and key_coin is None:
        if not (isinstance(entry, CoinDecision) or isinstance(entry, Mapping) and _is_entry(_lower_keys(entry))):
            return None, None, []  # metadata beside the entries
        detail = f"{_show(key)} is not traded here; coins: {book.describe()}"
        return None, None, [Fallback(None, "unknown_coin", detail)]
    if isinstance(entry, CoinDecision):
        fields = entry.to_dict()
    elif isinstance(entry, Mapping):
        fields = _lower_keys(entry)
        if "signal" not in fields and isinstance(fields.get("trade_signal_args"), Mapping):
            fields = _lower_keys(fields["trade_signal_args"])
        plan = fields.get("exit_plan")
        if isinstance(plan, Mapping):
            for name, value in _lower_keys(plan).items():
                if name in ("profit_target", "stop_loss", "invalidation_condition"):
                    fields.setdefault(name, value)
    else:
        return key_coin, None, [Fallback(key_coin, "bad_entry", f"expected an object, got {_show(entry)}")]

    named = fields.get("coin")
    if key_coin is None:
        coin = book.resolve(named)
        if coin is None:
            what = "an entry without a coin" if named is None else f"{_show(named)} is not traded here"
            return None, None, [Fallback(None, "unknown_coin", f"{what}; coins: {book.describe()}")]
    else:
        coin = key_coin
        if named is not None and book.resolve(named) != key_coin:
            return coin, None, [Fallback(coin, "coin_mismatch", f"key {_show(key)} but coin {_show(named)}")]

    signal = _signal(fields.get("signal"))
    if signal is None:
        return coin, None, [Fallback(coin, "bad_signal", f"signal {_show(fields.get('signal'))}; valid: "
                                     + ", ".join(s.value for s in Signal))]
    notes: list[Fallback] = []
    note = notes.append

    quantity, problem = _number(fields.get("quantity"))
    if signal.is_entry and (quantity is None or quantity <= 0):
        why = problem or ("missing" if quantity is None else f"{quantity:g} is not > 0")
        detail = f"{signal.value} quantity {_show(fields.get('quantity'))}: {why}"
        return coin, None, [Fallback(coin, "bad_quantity", detail)]

    leverage, problem = _number(fields.get("leverage"), allow_x=True)
    if problem:
        note(Fallback(coin, "bad_leverage", f"leverage {_show(fields.get('leverage'))}: {problem}; dropped"))
    if leverage is not None:
        seen = leverage
        leverage = int(clamp_leverage(leverage, limits.get(coin, math.inf)))
        if leverage != seen:
            limit = f" (max {limits[coin]})" if coin in limits else ""
            note(Fallback(coin, "leverage_clamped", f"leverage {seen:g}{limit} set to {leverage}"))

    prices = {}
    for name in ("profit_target", "stop_loss"):
        price, problem = _number(fields.get(name))
        if problem or (price is not None and price <= 0):
            note(Fallback(coin, "bad_price", f"{name} {_show(fields.get(name))}: {problem or 'not > 0'}; dropped"))
            price = None
        prices[name] = price

    confidence, problem = _number(fields.get("confidence"))
    if problem:
        note(Fallback(coin, "bad_field", f"confidence {_show(fields.get('confidence'))}: {problem}; dropped"))
    elif confidence is not None and not 0.0 <= confidence <= 1.0:
        clamped = min(max(confidence, 0.0), 1.0)
        note(Fallback(coin, "confidence_clamped", f"confidence {confidence:g} set to {clamped:g}"))
        confidence = clamped

    risk_usd, problem = _number(fields.get("risk_usd"))
    if problem or (risk_usd is not None and risk_usd < 0):
        note(Fallback(coin, "bad_field", f"risk_usd {_show(fields.get('risk_usd'))}: {problem or 'negative'}; dropped"))
        risk_usd = None

    texts = {}
    for name in ("invalidation_condition", "justification"):
        value = fields.get(name)
        if value is None:
            value = ""
        elif not isinstance(value, str):
            note(Fallback(coin, "bad_field", f"{name} {_show(value)}: not a string; dropped"))
            value = ""
        elif len(value) > MAX_TEXT_FIELD_CHARS:
            note(Fallback(coin, "text_truncated", f"{name} of {len(value)} characters cut to {MAX_TEXT_FIELD_CHARS}"))
            value = value[:MAX_TEXT_FIELD_CHARS]
        texts[name] = value

    decision = CoinDecision(coin=coin, signal=signal, quantity=quantity, leverage=leverage, confidence=confidence,
                            risk_usd=risk_usd, **prices, **texts)
    return coin, decision, notes if signal.is_entry else []


def _signal(value: Any) -> Signal | None:
    if isinstance(value, Signal):
        return value
    if not isinstance(value, str) or len(value) > _MAX_TOKEN_CHARS:
        return None
    try:
        return Signal(re.sub(r"[\s\-]+", "_", value.strip().lower()))
    except ValueError:
        return None


def _number(value: Any, *, allow_x: bool = False) -> tuple[float | None, str | None]:
    """``(finite float or None, problem or None)``; ``None`` with no problem means absent."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        return None, "a boolean, not a number"
    if isinstance(value, str):
        text = value.strip().replace(",", "").lstrip("$")
        if allow_x and text[-1:] in ("x", "X"):
            text = text[:-1]
        if not text or len(text) > _MAX_TOKEN_CHARS:
            return None, "not a number"
        try:
            number = float(text)
        except ValueError:
            return None, "not a number"
    elif isinstance(value, numbers.Real):
        try:
            number = float(value)
        except OverflowError:
            return None, "too large"
    else:
        return None, f"a {type(value).__name__}, not a number"
    if not math.isfinite(number):
        return None, "not finite"
    return number, None


# ---------------------------------------------------------------------------- small helpers
def _cut(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def _show(value: Any) -> str:
    return _cut(_repr.repr(value))


def _raw_text_of(output: Any) -> str:
    """The output as text for the record: itself, its ``.text``, or compact JSON."""
    try:
        if isinstance(output, str):
            return output
        if isinstance(output, (bytes, bytearray)):
            return bytes(output).decode("utf-8", errors="replace")
        text = getattr(output, "text", None)
        if isinstance(text, str):
            return text
        return json.dumps(output, default=_jsonable, ensure_ascii=False, separators=(",", ":"))
    except Exception:  # noqa: BLE001 - unserialisable or self-referencing objects
        try:
            return _repr.repr(output)
        except Exception:  # noqa: BLE001 - an object whose repr fails
            return f"<{type(output).__name__}>"


def _jsonable(value: Any) -> Any:
    if isinstance(value, CoinDecision):
        return value.to_dict()
    return repr(value)
