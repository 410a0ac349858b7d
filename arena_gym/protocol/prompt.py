"""Text observations for LLM policies: the user prompt in the contest's layout, and the system prompt.

The user prompt follows the layout of the prompts the Alpha Arena contest sent its models: a
header (minutes since start, current time, invocation count), one block per coin (current
price, EMA20, MACD, RSI7, open interest, funding rate, an intraday series of the last
``series_length`` bars and a longer-term block from a higher timeframe), then the account
(total return, available cash, account value, open positions with their exit plans, Sharpe
ratio). Every series is ordered OLDEST -> NEWEST, and the prompt says so.

Conventions:

* The decision at bar ``t`` is taken at the **close** of bar ``t``: the prompt shows bars
  ``<= t`` of the market and only those higher-timeframe bars that have closed by then.
* Prices are shown at six significant figures (the exchange's five plus the half tick of a
  mid price), with at least one decimal; indicators, volumes and ATRs are rounded to
  ``decimals`` digits (3, as in the contest); funding rates keep six significant figures
  (``1.25e-05``); money amounts have 2 decimals; quantities the asset's size decimals.
* "Mid prices" in the default template are the bar closes (the data holds no order book).
* The funding rate shown is the most recent non-zero settled rate, per settlement interval
  (a bar that aggregates several settlements shows their mean).
* Open interest (coins) is shown as the latest value and its mean over the intraday window,
  where the data has it.

Templates are text files with ``string.Template`` placeholders (``${name}``), split into
named parts by ``<!-- part: NAME -->`` lines; other ``<!-- ... -->`` comment blocks are
removed (the shipped files document their placeholders that way). Defaults live in
``policies/prompts/`` next to the package, or under ``$ARENA_GYM_POLICIES/prompts/``.
Everything that does not depend on ``t`` or on the account is computed once, when the
renderer is built; :meth:`PromptRenderer.render` only slices arrays and formats strings. After
the market grew in place (:meth:`~arena_gym.market.MarketData.append`),
:meth:`PromptRenderer.extend` computes the new bars' rows only (each row reads bars up to its
own), so a prompt equals the one of a renderer built on the longer market.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from arena_gym.venue import AssetSpec, ExchangeRules
from arena_gym.market.data import MarketData, MarketDataError
from arena_gym.row_buffer import RowBuffer
from arena_gym.market.timeframes import timeframe_seconds
from arena_gym.preset_files import policies_dir

#: Significant figures of a displayed price (five on the exchange, plus the mid's half tick).
PRICE_SIGNIFICANT_FIGURES = 6
#: Text shown where a number does not exist yet (e.g. before the first higher-timeframe bar closes).
NOT_AVAILABLE = "n/a"

_PART_MARKER = re.compile(r"^<!--\s*part:\s*([A-Za-z_][A-Za-z0-9_]*)\s*-->[ \t]*$", re.MULTILINE)
_COMMENT = re.compile(r"<!--(?!\s*part:).*?-->[ \t]*\n?", re.DOTALL)
_PLACEHOLDER = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*)|(.|$))", re.DOTALL)
_HTF_SCALARS = ("ema20", "ema50", "atr3", "atr14", "volume", "volume_avg")

USER_PARTS: dict[str, frozenset[str]] = {
    "prompt": frozenset({
        "minutes_since_start", "now", "invocation", "interval", "higher_interval", "coins",
        "total_return_pct", "available_cash", "account_value", "initial_capital", "positions", "sharpe",
    }),
    "coin": frozenset({
        "symbol", "current_price", "current_ema20", "current_macd", "current_rsi7", "current_rsi14",
        "open_interest", "open_interest_latest", "open_interest_average", "funding_rate", "interval",
        "mid_prices", "ema20_series", "macd_series", "rsi7_series", "rsi14_series", "higher_interval",
        "htf_ema20", "htf_ema50", "htf_atr3", "htf_atr14", "htf_volume", "htf_volume_avg",
        "htf_macd_series", "htf_rsi14_series",
    }),
    "coin_separator": frozenset(),
    "position": frozenset({
        "symbol", "side", "quantity", "entry_price", "current_price", "liquidation_price", "unrealized_pnl",
        "leverage", "profit_target", "stop_loss", "invalidation_condition", "confidence", "risk_usd",
        "notional_usd",
    }),
    "no_positions": frozenset(),
}

SYSTEM_PARTS: dict[str, frozenset[str]] = {
    "prompt": frozenset({
        "assets", "venue", "quote", "asset_table", "max_leverage", "taker_fee_pct", "maker_fee_pct",
        "take_profit_liquidity", "min_notional", "funding_interval", "baseline_funding_rate", "rules", "example",
    }),
    "asset_line": frozenset({
        "symbol", "max_leverage", "maintenance_margin_pct", "taker_fee_pct", "maker_fee_pct", "size_step",
    }),
    "house_rules": frozenset(),
    "no_house_rules": frozenset(),
}


# ---------------------------------------------------------------------- views of the account
@dataclass(frozen=True)
class PositionView:
    """One open position as the prompt shows it.

    Attributes:
        symbol: coin, e.g. ``"BTC"``.
        quantity: signed size in coins (negative = short).
        entry_price, current_price, liquidation_price: quote-currency prices.
        unrealized_pnl: quote currency, at ``current_price``.
        leverage: the position's leverage (an integer on the exchange).
        notional_usd: ``|quantity| * current_price``.
        profit_target, stop_loss: the exit plan's trigger prices, ``None`` when not set.
        invalidation_condition: the policy's own free-text exit condition.
        confidence: the policy's stated confidence in [0, 1], ``None`` when not given.
        risk_usd: the policy's stated risk in quote currency, ``None`` when not given.
    """

    symbol: str
    quantity: float
    entry_price: float
    current_price: float
    liquidation_price: float | None
    unrealized_pnl: float
    leverage: float
    notional_usd: float
    profit_target: float | None = None
    stop_loss: float | None = None
    invalidation_condition: str = ""
    confidence: float | None = None
    risk_usd: float | None = None


@dataclass(frozen=True)
class AccountView:
    """The account as the prompt shows it.

    Attributes:
        initial_capital: starting collateral, quote currency.
        account_value: equity (collateral plus unrealized PnL), quote currency.
        available_cash: equity minus the margin in use, floored at 0.
        total_return_pct: ``100 * (account_value / initial_capital - 1)``.
        sharpe: Sharpe ratio of the episode so far, ``None`` before it is defined.
        positions: open positions, in the order they are listed.
    """

    initial_capital: float
    account_value: float
    available_cash: float
    total_return_pct: float
    sharpe: float | None = None
    positions: list[PositionView] = field(default_factory=list)


# ---------------------------------------------------------------------- templates
class PromptTemplateError(ValueError):
    """A prompt template is malformed: unknown placeholder, missing part, bad ``$``."""


def default_template_path(kind: str) -> Path:
    """Path of the default ``"user"`` or ``"system"`` prompt template."""
    if kind not in ("user", "system"):
        raise ValueError(f"template kind must be 'user' or 'system', got {kind!r}")
    return policies_dir() / "prompts" / f"{kind}.md"


def _compile(text: str, allowed: frozenset[str], where: str) -> str:
    """Turn ``${name}`` placeholders into a ``str.format`` string (braces escaped), checking names."""
    out: list[str] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(text):
        out.append(text[pos:m.start()].replace("{", "{{").replace("}", "}}"))
        pos = m.end()
        escaped, braced, bare, invalid = m.groups()
        if escaped is not None:
            out.append("$")
            continue
        if invalid is not None:
            line = text.count("\n", 0, m.start()) + 1
            raise PromptTemplateError(f"{where}: stray '$' on line {line} of the part; "
                                      "write $$ for a literal dollar sign")
        name = braced or bare
        if name not in allowed:
            raise PromptTemplateError(f"{where}: unknown placeholder ${{{name}}}; available: {sorted(allowed)}")
        out.append("{" + name + "}")
    out.append(text[pos:].replace("{", "{{").replace("}", "}}"))
    return "".join(out)


def load_template(path: str | Path, parts: Mapping[str, frozenset[str]]) -> dict[str, str]:
    """Read a template file into ``{part: str.format string}``, validating parts and placeholders.

    A part's text runs from the line after its ``<!-- part: NAME -->`` marker to the next
    marker; blank lines at either end are dropped. Comment blocks are removed first.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"prompt template not found: {path} "
                                f"(the defaults live in {policies_dir() / 'prompts'})")
    text = _COMMENT.sub("", path.read_text(encoding="utf-8"))
    markers = list(_PART_MARKER.finditer(text))
    found: dict[str, str] = {}
    for i, m in enumerate(markers):
        end = markers[i + 1].start() if i + 1 < len(markers) else len(text)
        name = m.group(1)
        if name in found:
            raise PromptTemplateError(f"{path}: part {name!r} appears twice")
        if name not in parts:
            raise PromptTemplateError(f"{path}: unknown part {name!r}; expected parts: {list(parts)}")
        found[name] = text[m.end():end].strip("\n")
    missing = [p for p in parts if p not in found]
    if missing:
        raise PromptTemplateError(f"{path}: missing parts {missing}; each starts with a line '<!-- part: NAME -->'")
    return {name: _compile(body, parts[name], f"{path} part {name!r}") for name, body in found.items()}


# ---------------------------------------------------------------------- number formatting
def _money(x: float) -> str:
    return repr(round(float(x), 2))


def _optional(x: float | None, digits: int) -> str:
    if x is None or not math.isfinite(x):
        return "None"
    return repr(round(float(x), digits))


def _leverage(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(round(float(x), 2))


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.6g}%"


def interval_label(seconds: int) -> str:
    """A bar length in the contest's words: ``180 -> "3‑minute"``, ``3600 -> "1‑hour"``."""
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            return f"{seconds // size}\u2011{unit}"
    return f"{seconds}\u2011second"


def price_decimals(prices: np.ndarray, significant: int = PRICE_SIGNIFICANT_FIGURES) -> np.ndarray:
    """Decimals that show ``prices`` at ``significant`` figures, at least 1 and at most 10."""
    magnitude = np.floor(np.log10(np.asarray(prices, dtype=np.float64)))
    return np.clip(significant - 1 - magnitude, 1, 10).astype(np.int64)


def _round_to(values: np.ndarray, decimals: np.ndarray | int) -> np.ndarray:
    scale = 10.0 ** np.asarray(decimals, dtype=np.float64)
    return np.rint(values * scale) / scale


def _size_decimals(spec: AssetSpec) -> int:
    return max(0, int(round(-math.log10(spec.size_step)))) if spec.size_step < 1 else 0


# ---------------------------------------------------------------------- the user prompt
class PromptRenderer:
    """Renders the user prompt for any bar of one :class:`MarketData`.

    Args:
        market: the data; its indicators are used as computed by :mod:`arena_gym.market.indicators`.
        template: path of a user-prompt template; default ``policies/prompts/user.md``.
        higher_timeframe: bar length of the longer-term block (``"4h"`` as in the contest). It
            must be a whole multiple of the market's bar; a market bar at least that long is
            used as it is.
        series_length: values per series (10 in the contest); fewer near the start of the data.
        decimals: digits kept for indicators, volumes and ATRs (3 in the contest).

    Raises:
        ValueError: on a timeframe that does not divide evenly or a non-positive length.
        PromptTemplateError: on a malformed template.
    """

    def __init__(self, market: MarketData, *, template: str | Path | None = None, higher_timeframe: str = "4h",
                 series_length: int = 10, decimals: int = 3) -> None:
        if series_length < 1:
            raise ValueError(f"series_length must be >= 1, got {series_length}")
        if decimals < 0:
            raise ValueError(f"decimals must be >= 0, got {decimals}")
        self.market = market
        self._arguments = dict(template=template, higher_timeframe=higher_timeframe, series_length=series_length,
                               decimals=decimals)
        self.series_length = int(series_length)
        self.decimals = int(decimals)
        self.template_path = Path(template) if template is not None else default_template_path("user")
        self._parts = load_template(self.template_path, USER_PARTS)
        self._symbols = market.symbols
        self._symbol_index = {s: a for a, s in enumerate(self._symbols)}
        self._size_decimals = [_size_decimals(spec) for spec in market.assets]
        self.interval = interval_label(market.bar_seconds)
        self._build_base()
        self._build_higher(higher_timeframe)

    def __reduce__(self):
        """Pickle as the market and the arguments: the tables are rebuilt, not shipped."""
        return _rebuild_renderer, (self.market, self._arguments)

    # -------------------------------------------------------------- precomputation
    def _build_base(self) -> None:
        self._rows: dict[str, RowBuffer] = {}
        self._latest = None            # (A,) unrounded latest funding rate at the last bar
        self._oi_sum = None            # (A,) running sum of open interest up to the last bar
        self._oi_latest = self._oi_average = None
        self._store(self._base_rows(0))

    def _store(self, rows: dict[str, np.ndarray]) -> None:
        """Append ``rows`` (new bars' rows of each table) and expose each table as ``_<name>``."""
        for name, value in rows.items():
            if name not in self._rows:
                self._rows[name] = RowBuffer(value)
                table = value
            else:
                table = self._rows[name].append(value)
            setattr(self, f"_{name}", table)

    def _base_rows(self, start: int) -> dict[str, np.ndarray]:
        """The per-bar tables' rows for the bars ``start:`` of the market."""
        m, d = self.market, self.decimals
        ind, rows = m.indicators, slice(start, m.n_bars)
        close = m.close[rows]
        digits = price_decimals(close)
        out = {"price_decimals": digits, "price": _round_to(close, digits), "ema20": np.round(ind.ema20[rows], d),
               "macd": np.round(ind.macd[rows], d), "rsi7": np.round(ind.rsi7[rows], d),
               "rsi14": np.round(ind.rsi14[rows], d), "funding": self._latest_funding(start),
               "close_seconds": m.timestamps[rows].astype("datetime64[s]").astype(np.int64) + m.bar_seconds}
        if m.open_interest is not None:
            oi = m.open_interest[rows]
            before = np.zeros(m.n_assets) if self._oi_sum is None else self._oi_sum
            csum = np.cumsum(np.vstack([before, oi]), axis=0)      # csum[i]: sum of the bars before start + i
            t = np.arange(start, m.n_bars)
            lo = np.maximum(0, t - self.series_length + 1)
            # the window's sum: running sum at t minus the one before lo (stored rows, or this batch)
            last = self._oi_running(csum, start, t + 1)
            first = self._oi_running(csum, start, lo)
            out["oi_latest"] = np.round(oi, 2)
            out["oi_average"] = np.round((last - first) / (t + 1 - lo)[:, None], 2)
            out["oi_sums"] = csum[1:]
            self._oi_sum = csum[-1]
        return out

    def _oi_running(self, csum: np.ndarray, start: int, upto: np.ndarray) -> np.ndarray:
        """Sum of open interest over bars ``< upto`` (rows), from this batch's running sums
        (``csum``, bars ``start:``) or the stored ones."""
        out = np.empty((len(upto), self.market.n_assets))
        here = upto >= start
        out[here] = csum[upto[here] - start]
        earlier = upto[~here]
        if len(earlier):
            stored = self._rows["oi_sums"].table
            out[~here] = np.where((earlier > 0)[:, None], stored[np.maximum(earlier - 1, 0)], 0.0)
        return out

    def _latest_funding(self, start: int) -> np.ndarray:
        """(T - start, A) most recent non-zero settled rate per settlement interval, 6 significant
        figures, for the bars ``start:``."""
        m = self.market
        interval = m.funding_interval_hours * 3600
        opens = m.timestamps[start:].astype("datetime64[s]").astype(np.int64)
        settlements = (opens + m.bar_seconds - 1) // interval - (opens - 1) // interval
        per_settlement = m.funding_rate[start:] / np.maximum(settlements, 1)[:, None]
        rows = np.where(per_settlement != 0.0, np.arange(len(opens))[:, None], -1)
        last = np.maximum.accumulate(rows, axis=0)
        before = per_settlement[0] if self._latest is None else self._latest
        latest = np.where(last >= 0, np.take_along_axis(per_settlement, np.maximum(last, 0), axis=0), before)
        self._latest = latest[-1]
        magnitude = np.floor(np.log10(np.where(latest != 0.0, np.abs(latest), 1.0)))
        return _round_to(latest, 5 - magnitude)

    def _build_higher(self, higher_timeframe: str) -> None:
        """Higher-timeframe indicators and, per base bar, the index of the last closed higher bar."""
        m = self.market
        seconds = timeframe_seconds(higher_timeframe)
        factor, remainder = divmod(seconds, m.bar_seconds)
        if seconds > m.bar_seconds and remainder:
            raise ValueError(f"higher_timeframe {higher_timeframe!r} is not a whole multiple of the market's "
                             f"{m.bar_seconds}s bar")
        self._factor = factor
        self.higher_interval = interval_label(max(factor, 1) * m.bar_seconds)
        self._higher = m if factor <= 1 else self._resampled()
        self._htf_rows: dict[str, RowBuffer] = {}
        self._htf = None
        if self._higher is None:
            self._htf_index = np.full(m.n_bars, -1, dtype=np.int64)
        else:
            self._store_higher(0, 0)

    def _resampled(self) -> MarketData | None:
        try:
            return self.market.resample(self._factor)
        except MarketDataError:
            return None  # fewer than two complete higher bars: the block shows n/a until there are

    def _store_higher(self, base_start: int, higher_start: int) -> None:
        """Append the higher bars ``higher_start:`` to the tables, and the index of the last
        closed higher bar for the base bars ``base_start:``."""
        m, h, d = self.market, self._higher, self.decimals
        ind, rows = h.indicators, slice(higher_start, h.n_bars)
        new = {"ema20": ind.ema20[rows], "ema50": ind.ema50[rows], "atr3": ind.atr3[rows], "atr14": ind.atr14[rows],
               "volume": h.volume[rows], "volume_avg": ind.volume_avg[rows], "macd": ind.macd[rows],
               "rsi14": ind.rsi14[rows]}
        for name, value in new.items():
            value = np.round(value, d)
            buffer = self._htf_rows.get(name)
            if buffer is None:
                self._htf_rows[name] = RowBuffer(value)
            else:
                buffer.append(value)
        self._htf = {name: buffer.table for name, buffer in self._htf_rows.items()}
        self.higher_interval = interval_label(h.bar_seconds)
        higher_close = h.timestamps.astype(np.int64) + np.int64(h.bar_seconds) * 1_000_000_000
        base_close = m.timestamps[base_start:].astype(np.int64) + np.int64(m.bar_seconds) * 1_000_000_000
        index = np.searchsorted(higher_close, base_close, side="right").astype(np.int64) - 1
        if base_start == 0:
            self._htf_index_rows = RowBuffer(index)
            self._htf_index = index
        else:
            self._htf_index = self._htf_index_rows.append(index)

    def extend(self) -> None:
        """Take the bars the market gained in place: compute the new bars' rows of every table
        (and the higher-timeframe bars they complete)."""
        m = self.market
        start = len(self._price)
        if start == m.n_bars:
            return
        self._store(self._base_rows(start))
        if self._factor <= 1:
            self._store_higher(start, start)
            return
        if self._higher is None:
            self._higher = self._resampled()
            if self._higher is None:
                self._htf_index = np.full(m.n_bars, -1, dtype=np.int64)
                return
            self._store_higher(0, 0)
            return
        h = self._higher
        first = int(np.searchsorted(m.timestamps, h.timestamps[0]))
        complete = (m.n_bars - first) // self._factor
        known = h.n_bars
        if complete > known:
            groups = slice(first + known * self._factor, first + complete * self._factor)
            g = lambda arr: arr[groups].reshape(complete - known, self._factor, m.n_assets)
            h.append(m.timestamps[groups][::self._factor],
                     g(m.open)[:, 0], g(m.high).max(axis=1), g(m.low).min(axis=1), g(m.close)[:, -1],
                     g(m.volume).sum(axis=1), g(m.funding_rate).sum(axis=1), filled=g(m.filled).all(axis=1),
                     mark=None if m.mark is None else g(m.mark)[:, 0],
                     open_interest=None if m.open_interest is None else g(m.open_interest)[:, -1])
        self._store_higher(start, known)

    # -------------------------------------------------------------- rendering
    def _asset(self, symbol: str) -> int:
        try:
            return self._symbol_index[symbol]
        except KeyError:
            raise ValueError(f"position in {symbol!r}, which is not in this market; "
                             f"assets: {list(self._symbol_index)}") from None

    def _coin_blocks(self, t: int) -> list[str]:
        lo = max(0, t - self.series_length + 1)
        window = slice(lo, t + 1)
        prices = self._price[window].T.tolist()
        ema20 = self._ema20[window].T.tolist()
        macd = self._macd[window].T.tolist()
        rsi7 = self._rsi7[window].T.tolist()
        rsi14 = self._rsi14[window].T.tolist()
        funding = self._funding[t].tolist()
        if self._oi_latest is None:
            oi_latest = oi_average = [NOT_AVAILABLE] * self.market.n_assets
            oi_text = ["not available in this data"] * self.market.n_assets
        else:
            oi_latest = list(map(repr, self._oi_latest[t].tolist()))
            oi_average = list(map(repr, self._oi_average[t].tolist()))
            oi_text = [f"Latest: {x}  Average: {y}" for x, y in zip(oi_latest, oi_average)]
        j = int(self._htf_index[t])
        if j >= 0:
            h = self._htf
            hw = slice(max(0, j - self.series_length + 1), j + 1)
            htf_scalars = {k: list(map(repr, h[k][j].tolist())) for k in _HTF_SCALARS}
            htf_macd = list(map(str, h["macd"][hw].T.tolist()))
            htf_rsi14 = list(map(str, h["rsi14"][hw].T.tolist()))
        else:
            na = [NOT_AVAILABLE] * self.market.n_assets
            htf_scalars = dict.fromkeys(_HTF_SCALARS, na)
            htf_macd = htf_rsi14 = ["[]"] * self.market.n_assets
        fmt = self._parts["coin"].format
        blocks = []
        # str() of a list of floats is "[a, b, c]" with each float's shortest repr, as in the contest
        for a, symbol in enumerate(self._symbols):
            blocks.append(fmt(
                symbol=symbol, current_price=repr(prices[a][-1]), current_ema20=repr(ema20[a][-1]),
                current_macd=repr(macd[a][-1]), current_rsi7=repr(rsi7[a][-1]), current_rsi14=repr(rsi14[a][-1]),
                open_interest=oi_text[a], open_interest_latest=oi_latest[a], open_interest_average=oi_average[a],
                funding_rate=repr(funding[a]), interval=self.interval, mid_prices=str(prices[a]),
                ema20_series=str(ema20[a]), macd_series=str(macd[a]), rsi7_series=str(rsi7[a]),
                rsi14_series=str(rsi14[a]), higher_interval=self.higher_interval,
                htf_ema20=htf_scalars["ema20"][a], htf_ema50=htf_scalars["ema50"][a], htf_atr3=htf_scalars["atr3"][a],
                htf_atr14=htf_scalars["atr14"][a], htf_volume=htf_scalars["volume"][a],
                htf_volume_avg=htf_scalars["volume_avg"][a], htf_macd_series=htf_macd[a], htf_rsi14_series=htf_rsi14[a],
            ))
        return blocks

    def _position_line(self, t: int, p: PositionView) -> str:
        a = self._asset(p.symbol)
        digits = int(self._price_decimals[t, a])
        return self._parts["position"].format(
            symbol=p.symbol, side="long" if p.quantity > 0 else ("short" if p.quantity < 0 else "flat"),
            quantity=repr(round(float(p.quantity), self._size_decimals[a])),
            entry_price=_optional(p.entry_price, digits), current_price=_optional(p.current_price, digits),
            liquidation_price=_optional(p.liquidation_price, digits), unrealized_pnl=_money(p.unrealized_pnl),
            leverage=_leverage(p.leverage), profit_target=_optional(p.profit_target, digits),
            stop_loss=_optional(p.stop_loss, digits), invalidation_condition=repr(str(p.invalidation_condition)),
            confidence=_optional(p.confidence, 3), risk_usd=_optional(p.risk_usd, 2),
            notional_usd=_money(p.notional_usd),
        )

    def render(self, t: int, account: AccountView, *, minutes_since_start: float, invocation: int,
               now: str | None = None) -> str:
        """The user prompt at the close of bar ``t``.

        Args:
            t: bar index, ``0 <= t < market.n_bars``; the prompt uses bars ``<= t`` only.
            account: the account after bar ``t``.
            minutes_since_start: shown rounded down to whole minutes.
            invocation: how many times the policy has been asked, this time included.
            now: the current time as text; default the close time of bar ``t`` in UTC.
        """
        n = self.market.n_bars
        if not 0 <= t < n:
            raise IndexError(f"bar {t} is outside the market's {n} bars (0 .. {n - 1})")
        if now is None:
            now = str(np.datetime64(int(self._close_seconds[t]), "s")).replace("T", " ")
        separator = "\n\n" + self._parts["coin_separator"] + "\n\n"
        if account.positions:
            positions = "\n".join(self._position_line(t, p) for p in account.positions)
        else:
            positions = self._parts["no_positions"]
        return self._parts["prompt"].format(
            minutes_since_start=int(minutes_since_start), now=now, invocation=int(invocation), interval=self.interval,
            higher_interval=self.higher_interval, coins=separator.join(self._coin_blocks(t)),
            total_return_pct=_money(account.total_return_pct), available_cash=_money(account.available_cash),
            account_value=_money(account.account_value), initial_capital=_money(account.initial_capital),
            positions=positions, sharpe=NOT_AVAILABLE if account.sharpe is None or not math.isfinite(account.sharpe)
            else repr(round(float(account.sharpe), 3)),
        )


# ---------------------------------------------------------------------- the system prompt
def _example_decision(symbols: Sequence[str]) -> str:
    first = symbols[0]
    lines = [
        "{",
        f'  "{first}": {{"coin": "{first}", "signal": "buy_to_enter", "quantity": <coins>, "leverage": <integer>, '
        '"profit_target": <price>, "stop_loss": <price>, "invalidation_condition": "<text>", '
        '"confidence": <0..1>, "risk_usd": <usd>, "justification": "<one sentence>"}',
    ]
    if len(symbols) > 1:
        second = symbols[1]
        lines[-1] += ","
        lines.append(
            f'  "{second}": {{"coin": "{second}", "signal": "hold", "quantity": <full current size>, '
            '"leverage": <current leverage>, "profit_target": <price>, "stop_loss": <price>, '
            '"invalidation_condition": "<text>", "confidence": <0..1>, "risk_usd": <usd>, "justification": ""}'
        )
    lines.append("}")
    return "\n".join(lines)


def render_system_prompt(symbols: Sequence[str], specs: Sequence[AssetSpec] | Mapping[str, AssetSpec],
                         rules: ExchangeRules, *, house_rules: bool, template: str | Path | None = None) -> str:
    """The system prompt: assets, signals, leverage limits, fees, funding, decision schema, house rules.

    Args:
        symbols: the tradable coins, in prompt order.
        specs: their contract specs, aligned with ``symbols`` or keyed by symbol.
        rules: the exchange preset (fees, funding interval, minimum order).
        house_rules: include the contest's house rules (one position per coin, no pyramiding);
            otherwise the ``no_house_rules`` part is used.
        template: path of a system-prompt template; default ``policies/prompts/system.md``.
    """
    symbols = list(symbols)
    if not symbols:
        raise ValueError("no symbols given")
    if isinstance(specs, Mapping):
        missing = [s for s in symbols if s not in specs]
        if missing:
            raise ValueError(f"no spec for {missing}; specs given for {sorted(specs)}")
        spec_list = [specs[s] for s in symbols]
    else:
        spec_list = list(specs)
        if [s.symbol for s in spec_list] != symbols:
            raise ValueError(f"specs {[s.symbol for s in spec_list]} do not match symbols {symbols}")
    parts = load_template(template if template is not None else default_template_path("system"), SYSTEM_PARTS)
    asset_table = "\n".join(
        parts["asset_line"].format(
            symbol=s.symbol, max_leverage=s.max_leverage, maintenance_margin_pct=_percent(s.maintenance_margin_rate),
            taker_fee_pct=_percent(s.taker_fee), maker_fee_pct=_percent(s.maker_fee), size_step=f"{s.size_step:g}",
        )
        for s in spec_list
    )
    hours = rules.funding_interval_hours
    return parts["prompt"].format(
        assets=", ".join(symbols), venue=rules.name, quote=rules.quote, asset_table=asset_table,
        max_leverage=max(s.max_leverage for s in spec_list), taker_fee_pct=_percent(rules.taker_fee),
        maker_fee_pct=_percent(rules.maker_fee), take_profit_liquidity=rules.take_profit_liquidity,
        min_notional=f"{rules.min_notional:g}", funding_interval="hour" if hours == 1 else f"{hours} hours",
        baseline_funding_rate=f"{rules.baseline_funding_rate:g}",
        rules=parts["house_rules"] if house_rules else parts["no_house_rules"], example=_example_decision(symbols),
    )


def _rebuild_renderer(market: MarketData, arguments: dict) -> PromptRenderer:
    return PromptRenderer(market, **arguments)
