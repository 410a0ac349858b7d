"""`PerpTradingEnv`: one leveraged perpetual-futures account as a Gymnasium environment."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ..market.data import MarketData
from ..text_format import utc_minute
from .actions import action_space
from .config import EnvConfig
from .core import PerpCore, Position
from .features import observation_names
from .recorded_fills import FillTape, RecordedFills, TapeReader, tape_fee_rates
from .snapshot import account_snapshot
from .frame import draw_frame
from .viewer import EpisodeTrace, draw_episode, save_figure

#: Characters a text observation may contain (ASCII, whitespace, and the typography of the
#: shipped prompt templates); an edited template may add more.
TEXT_CHARSET = frozenset(chr(c) for c in range(32, 127)) | set("\n\t\u2011\u2019\u2192\u2013\u2014\u2026")
MAX_PROMPT_CHARS = 200_000


def default_market() -> MarketData:
    """The embedded synthetic market (six contest coins, 1h bars, seed 0; no network)."""
    from ..market.synthetic import synthetic_market

    return synthetic_market(seed=0)


class PerpTradingEnv(gym.Env):
    """Trade the perpetual futures of several assets with one account, with fees, funding,
    margin and liquidation (Hyperliquid rules by default).

    ## Description
    Each step the policy sees the market up to the close of bar ``t`` and its account; its
    orders fill at the open of bar ``t + 1`` plus slippage; then ``bars_per_decision`` bars are
    simulated (stops, liquidation and targets intrabar, funding at settlements, mark at close).
    The exchange rules are in :mod:`arena_gym.exchange.kernel`.

    ## Action space (``action_mode``)
    | mode              | space                       | meaning                                                  |
    |-------------------|-----------------------------|----------------------------------------------------------|
    | `target`          | `Box(-1, 1, (A,), float32)` | target exposure per asset, fraction of cap x equity      |
    | `target_leverage` | `Box((2, A), float32)`      | row 0 as `target`, row 1 each order's leverage [1, max]  |
    | `discrete`        | `MultiDiscrete([3] * A)`    | 0 short, 1 flat, 2 long (weight +-1/A each)              |
    | `decision`        | `Text`                      | the contest's JSON decision (also dict or objects)       |

    ## Observation space
    ``observation_mode="numeric"``: ``Box(-10, 10, (lookback*A*2 + A*10 + A*4 + 3,), float32)``
    (279 for six assets and the default lookback of 16): two scale-free window features (log
    return, range) per asset over the lookback window, oldest first; ten market features per
    asset at the last closed bar; four account features per asset and three global ones (see
    :mod:`arena_gym.env.features`).
    ``"text"``: the contest's user prompt (a string). ``"both"``: a dict of the two.

    ## Reward
    ``log(equity_t+1 / equity_t)`` by default (see :mod:`arena_gym.env.rewards`).

    ## Episode end
    ``terminated`` when the account is liquidated (cross margin) or bankrupt; ``truncated``
    after ``episode_length`` decisions or at the end of the data split.

    ## Info
    Flat scalars: equity, collateral, unrealized/realized PnL, fees and funding paid (cumulative),
    gross leverage, fills / liquidated / stop and take-profit fills this step, margin scale,
    ``actions_clipped`` (target weights outside [-1, 1] and leverages outside [1, max], clipped), bar, step and
    ``orders_<flag>`` counts of validation outcomes this step. Open positions:
    :meth:`positions`; prices and account as plain data: :meth:`snapshot`; full history:
    :meth:`ledger_frame`. ``gymnasium.make`` wraps the env: reach these methods through
    ``env.unwrapped``.

    ## Rendering
    ``render_mode="ansi"``: a text summary of the account. ``"rgb_array"``: an ``(H, W, 3)``
    uint8 picture of the episode so far (prices with entries, exits and liquidations, exposure,
    equity; drawn with NumPy, see :mod:`arena_gym.env.frame`). :meth:`render_all` draws the
    episode as a labelled Matplotlib figure in any mode (the ``report`` extra).

    ## Arguments
    ``market`` (a :class:`~arena_gym.market.MarketData`; default: the embedded synthetic
    market), ``config`` (an :class:`EnvConfig`) and/or its fields as keyword arguments.
    ``recorded_fills`` (a :class:`~arena_gym.env.recorded_fills.FillTape`) builds an env that
    replays a recorded trade log as traded, at its recorded prices, and takes only
    :class:`~arena_gym.env.recorded_fills.RecordedFills` actions (see that module).
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(self, market: MarketData | None = None, config: EnvConfig | None = None, *,
                 render_mode: str | None = None, recorded_fills: FillTape | None = None, **params: Any) -> None:
        config = replace(config, **params) if config is not None else EnvConfig(**params)
        self.config = config
        self.core = PerpCore(market if market is not None else default_market(), 1, config)
        self.market = self.core.market
        self._tape = None if recorded_fills is None else self._tape_reader(recorded_fills)
        self.action_space = action_space(config.action_mode, self.market.n_assets,
                                         max_leverage=[a.max_leverage for a in self.market.assets])
        numeric = spaces.Box(-10.0, 10.0, shape=(self.core.obs_dim,), dtype=np.float32)
        text = spaces.Text(max_length=MAX_PROMPT_CHARS, min_length=1, charset=TEXT_CHARSET)
        self.observation_space = {"numeric": numeric, "text": text,
                                  "both": spaces.Dict({"numeric": numeric, "text": text})}[config.observation_mode]
        self._text = None
        self._decoder = None
        if config.observation_mode != "numeric" or config.action_mode == "decision":
            from .llm_io import DecisionDecoder, TextObserver

            self._text = TextObserver(self.core, template=config.extra.get("prompt_template"),
                                      system_template=config.extra.get("system_template"))
            if config.action_mode == "decision":
                self._decoder = DecisionDecoder(self.core)
        self.last_decision = None
        self.records: list[dict] = []
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.render_mode = render_mode
        self._last_info: dict[str, Any] = {}
        self._numeric = None
        self._trace = EpisodeTrace()

    @property
    def observation_names(self) -> tuple[str, ...] | None:
        """Name of each element of the numeric observation, in order (``None`` in text mode); see
        :func:`arena_gym.env.features.observation_names`."""
        if self.config.observation_mode == "text":
            return None
        return observation_names(self.market.symbols, self.config.lookback)

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        start = (options or {}).get("start")
        starts = self.core.sample_starts(self.np_random, 1) if start is None else np.array([self.core.start_bar(start)])
        core = self.core
        core.reset_rows(np.array([0]), starts)
        core.reset_info()
        self.last_decision = None
        self.records = []
        if self._text is not None:
            self._text.reset()
        if self._tape is not None:
            self._tape.reset()
        s = core.exchange.state
        self._trace.start(int(s.bar[0]), float(s.equity[0]), s.size[0], float(s.initial_capital[0]))
        self._numeric = core.observe()[0].copy() if self.config.observation_mode != "text" else None
        self._last_info = core.info_of(0)
        return self._observe(), dict(self._last_info)

    def step(self, action) -> tuple[Any, float, bool, bool, dict]:
        """Execute ``action`` (see the action space table) and simulate ``bars_per_decision`` bars."""
        core = self.core
        prev_equity = float(core.prev_equity[0]) if self._text is not None else 0.0
        if isinstance(action, RecordedFills) or self._tape is not None:
            decision = None
            obs = self._step_recorded(action)
        elif self._decoder is not None:
            decision = self._decoder.decode(action)
            obs = core.step_orders(decision.orders, decision.flags, len(decision.fallbacks), decision.parsed.invalid)
        else:
            decision = None
            obs = core.step(np.asarray(action)[None, ...])
        self.last_decision = decision
        if self._text is not None:
            self._text.after_step(prev_equity, decision)
        info = core.info_of(0)
        self._last_info = info
        reward = float(core.reward[0])
        self.records.append(self._record(action, reward, info))
        self._trace.add(info["bar"], info["equity"], core.exchange.state.size[0], info["liquidated"])
        self._numeric = obs[0].copy()
        return self._observe(), reward, bool(core.terminated[0]), bool(core.truncated[0]), dict(info)

    def _tape_reader(self, tape: FillTape) -> TapeReader:
        m, rules = self.market, self.core.rules
        taker = np.array([a.taker_fee for a in m.assets])
        maker = np.array([a.maker_fee for a in m.assets])
        rates = tape_fee_rates(tape, m.symbols, taker, maker, rules.fee_schedule)
        close = m.timestamps.astype(np.int64) + m.bar_seconds * 1_000_000_000
        return TapeReader(tape, m.symbols, rates, close)

    def _step_recorded(self, action) -> np.ndarray:
        """One step of a recorded trade log replayed as traded (:mod:`.recorded_fills`)."""
        if self._tape is None:
            raise ValueError("recorded fills are accepted only by an env built with a fill tape of a recorded "
                             "trade log (PerpTradingEnv(..., recorded_fills=tape)); a policy's orders fill at the "
                             "next open")
        if not isinstance(action, RecordedFills):
            raise ValueError(f"an env replaying a fill tape takes RecordedFills actions, got {type(action).__name__}")
        core = self.core
        orders, price, fee, maker = self._tape.hooks(action, int(core.exchange.state.bar[0]) + 1)
        return core.step_orders(orders, replay_hooks=(price, fee, maker))

    def render(self) -> str | np.ndarray | None:
        """The ``render_mode``'s picture of the current episode (see Rendering above)."""
        if self.render_mode == "rgb_array":
            return draw_frame(self._trace, self.market)
        if self.render_mode != "ansi":
            return None
        info = self._last_info
        lines = [f"{utc_minute(self.market.timestamps[int(info['bar'])])}  equity {info['equity']:.2f}  "
                 f"fees {info['fees_paid']:.2f}  funding {info['funding_paid']:.2f}"]
        for p in self.positions():
            lines.append(f"  {p.symbol:<5} {p.size:+.6g} @ {p.entry_price:.6g}  mark {p.mark_price:.6g}  "
                         f"uPnL {p.unrealized_pnl:+.2f}  liq {p.liquidation_price:.6g}  lev {p.leverage:g}x")
        return "\n".join(lines)

    def render_all(self, path=None, title: str | None = None):
        """The episode so far as a Matplotlib figure (prices with entries, exits and liquidations,
        exposure, equity; see :mod:`arena_gym.env.viewer`); also written to ``path`` (e.g. a
        ``.png``) when given."""
        fig = draw_episode(self._trace, self.market, title)
        if path is not None:
            save_figure(fig, path)
        return fig

    def snapshot(self) -> dict[str, Any]:
        """Current prices and the account as plain data, for rule-based policies that should not
        parse the prompt (see :func:`arena_gym.env.snapshot.account_snapshot`)."""
        return account_snapshot(self.core)

    @property
    def system_prompt(self) -> str | None:
        """The system prompt for LLM policies (``None`` in purely numeric mode)."""
        return None if self._text is None else self._text.system_prompt

    def _observe(self):
        mode = self.config.observation_mode
        if mode == "numeric":
            return self._numeric
        text = self._text.observe()
        return text if mode == "text" else {"numeric": self._numeric, "text": text}

    def _record(self, action, reward: float, info: dict) -> dict:
        """One step's record: the same keys for every action mode (see :meth:`records_frame`)."""
        if isinstance(action, np.ndarray):
            shown = action.tolist()
        elif hasattr(action, "text"):
            shown = action.text
        elif isinstance(action, RecordedFills):
            shown = action.to_record()
        else:
            shown = action if isinstance(action, (str, dict, list)) else repr(action)
        decision = self.last_decision
        return {
            "step": info["step"], "bar": info["bar"], "time": self.market.bar_times[info["bar"]],
            "action": shown, "reward": reward, **{k: info[k] for k in ("equity", "fees_paid", "funding_paid", "fills",
                                                                      "liquidated", "decision_fallbacks",
                                                                      "invalid_output")},
            "decision": None if decision is None else decision.to_record(),
            "error": getattr(action, "error", None),
        }

    def records_frame(self):
        """The per-step records of the current episode as a DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.records)

    def market_extended(self) -> None:
        """Take the bars the market gained in place (:meth:`~arena_gym.market.MarketData.append`,
        called on the market this env was built on): the episode carries on, and can now step
        onto them. Observations, prompts and fills equal those of an env built on the longer
        market."""
        self.core.market_extended()
        if self._text is not None:
            self._text.market_extended()

    # ------------------------------------------------------------------ accessors
    @property
    def account(self):
        """This env's account state (an :class:`~arena_gym.exchange.AccountState` with one row):
        sizes (coins), marks, collateral, ... Read it; orders go through :meth:`step`."""
        return self.core.exchange.state

    def positions(self) -> list[Position]:
        """Open positions: size, entry, mark, leverage, margin, liquidation price, uPnL, stop, target."""
        return self.core.positions(0)

    def ledger_frame(self):
        """Every fill, fee, funding payment, liquidation and forfeit so far, as a DataFrame: of
        the current episode by default (``ledger="episode"``), of every episode with
        ``ledger="full"`` (see :class:`~arena_gym.env.config.EnvConfig`)."""
        return self.core.exchange.ledger.frame(self.market.timestamps, self.market.symbols)

    def trades(self, include_open: bool = True):
        """Round-trip trades of the episodes the ledger holds (the current one by default; open
        positions valued at the last mark)."""
        return self.core.trades(include_open)
