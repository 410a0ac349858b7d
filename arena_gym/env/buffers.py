"""Layout of the environment's preallocated step buffers (plain integers, importable without numba).

The compiled step (:mod:`arena_gym.env.compiled`) writes every account's reward, episode end,
``info`` values and observation into buffers owned by :class:`~arena_gym.env.core.PerpCore`,
allocated once. They reach it in three bundles (tuples of blocks):

* ``env = (env_par, env_int)``: the environment's parameters, a float and an integer array,
  read-only (``E_*`` rows below);
* ``accounts = (acct_f, acct_i, acct_b, decoder_flags)``:

  - ``acct_f[row, account]`` (float64): the previous equity, the reward, then ``info_f``, the
    money and ratio keys of ``info``;
  - ``acct_i[row, account]`` (int64): decisions taken in the episode, target weights clipped,
    the decision decoder's counts (``decisions``), then ``info_i``, the counts, the bar and step,
    and the two flags stored as 0 / 1;
  - ``acct_b[row, account]`` (bool): restarted (see the vector env), terminated, truncated;
  - ``decoder_flags[account, asset]`` (int64): the ``OrderFlag`` bits the decision decoder set
    (added to the exchange's own; zeros for numeric actions);

* ``observation = (obs, windows, current, holding)``: the observation buffer ``obs[account,
  value]`` (float32) and the feature tables it is written from (:mod:`arena_gym.env.features`).

:func:`account_views` gives each part of the per-account blocks its own name (views, no
copies). ``INFO_KEYS`` is the order users see; ``INFO_ROWS`` says where each key lives.
"""

from __future__ import annotations

from ..exchange.orders import FLAG_NAMES

#: Keys of the per-step ``info`` (flat scalars in the single env, (N,) arrays in the vector env).
INFO_KEYS = ("equity", "collateral", "unrealized_pnl", "realized_pnl", "fees_paid", "funding_paid", "gross_leverage",
             "fills", "liquidated", "liquidations", "stop_fills", "take_profit_fills", "margin_scale", "actions_clipped",
             "decision_fallbacks", "invalid_output", "bar", "step") + \
            tuple(f"orders_{name}" for name in FLAG_NAMES)

#: Rows of ``info_f`` (float64).
FLOAT_INFO = ("equity", "collateral", "unrealized_pnl", "realized_pnl", "fees_paid", "funding_paid", "gross_leverage",
              "margin_scale")
#: Rows of ``info_i`` (int64); the ``BOOL_INFO`` keys among them hold 0 / 1.
INT_INFO = ("fills", "liquidated", "liquidations", "stop_fills", "take_profit_fills", "actions_clipped",
            "decision_fallbacks", "invalid_output", "bar", "step") + tuple(f"orders_{name}" for name in FLAG_NAMES)
BOOL_INFO = ("liquidated", "invalid_output")

(IF_EQUITY, IF_COLLATERAL, IF_UNREALIZED, IF_REALIZED, IF_FEES, IF_FUNDING, IF_GROSS_LEVERAGE,
 IF_MARGIN_SCALE) = range(len(FLOAT_INFO))
(II_FILLS, II_LIQUIDATED, II_LIQUIDATIONS, II_STOP_FILLS, II_TAKE_PROFIT_FILLS, II_ACTIONS_CLIPPED,
 II_DECISION_FALLBACKS, II_INVALID_OUTPUT, II_BAR, II_STEP, II_FIRST_FLAG) = range(11)
N_FLAGS = len(FLAG_NAMES)

#: ``key -> (buffer, row)``: buffer 0 is ``info_f``, 1 is ``info_i``.
INFO_ROWS = {key: (0, FLOAT_INFO.index(key)) if key in FLOAT_INFO else (1, INT_INFO.index(key)) for key in INFO_KEYS}

# the decision decoder's counts of a step, ``decisions[row, account]`` (int64; zeros for numeric
# actions): fallback orders used, and whether the output was invalid (0 / 1)
D_FALLBACKS, D_INVALID_OUTPUT = range(2)
N_DECISION_ROWS = 2

# rows of the per-account blocks (module docstring); ``info_f`` and ``info_i`` start at V_INFO_F
# and V_INFO_I
V_PREV_EQUITY, V_REWARD, V_INFO_F = range(3)
N_ACCOUNT_FLOATS = V_INFO_F + len(FLOAT_INFO)
V_STEPS, V_CLIPPED, V_DECISIONS = range(3)
V_INFO_I = V_DECISIONS + N_DECISION_ROWS
N_ACCOUNT_INTS = V_INFO_I + len(INT_INFO)
V_RESTARTED, V_TERMINATED, V_TRUNCATED = range(3)
N_ACCOUNT_FLAGS = 3

# environment parameters: ``env_par`` (float64) and ``env_int`` (int64)
E_LEVERAGE_CAP, E_DEADBAND = range(2)
N_ENV_PARAMS = 2
# (E_WINDOW_WIDTH, E_CURRENT_WIDTH: values per bar of the window and current feature tables)
(E_EPISODE_LENGTH, E_SPLIT_END, E_LOOKBACK, E_REWARD, E_BARS_PER_DECISION, E_ACTION_MODE, E_WINDOW_WIDTH,
 E_CURRENT_WIDTH) = range(8)
N_ENV_INTS = 8
#: Action modes decoded by the compiled step (``E_ACTION_MODE``; see :mod:`arena_gym.env.actions`).
MODE_TARGET, MODE_DISCRETE, MODE_TARGET_LEVERAGE = 0, 1, 2
#: ``E_REWARD``: a built-in reward's position in ``rewards.REWARDS`` (computed by the compiled
#: step), or this for a Python callable.
REWARD_PYTHON = -1


def account_views(acct_f, acct_i, acct_b):
    """The parts of the per-account blocks, as views: ``(prev_equity, reward, info_f, steps,
    clipped, decisions, info_i, restarted, terminated, truncated)``. Plain NumPy slicing, so the
    compiled step compiles this same function."""
    return (acct_f[V_PREV_EQUITY], acct_f[V_REWARD], acct_f[V_INFO_F:], acct_i[V_STEPS], acct_i[V_CLIPPED],
            acct_i[V_DECISIONS:V_INFO_I], acct_i[V_INFO_I:], acct_b[V_RESTARTED], acct_b[V_TERMINATED],
            acct_b[V_TRUNCATED])


# statuses returned by the compiled step
OK, NON_FINITE_ACTION, BAD_DISCRETE_ACTION, PAST_THE_DATA = range(4)
