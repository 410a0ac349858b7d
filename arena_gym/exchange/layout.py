"""Index layout of the packed arrays the compiled exchange kernel reads and writes.

Plain integers, importable without numba: the kernel, the parameter builder, the account state
and the ledger all use these names for rows of their packed arrays.

The exchange's data travels to the kernel in four bundles, each a tuple of blocks, each block
one array of one dtype whose rows are named here (see
:class:`~arena_gym.exchange.engine.KernelBundles`):

* ``params = (bars, par_f, par_i)``: the market's ``bars`` table and the parameters, ``par_f``
  (float64) and ``par_i`` (int64), read-only and flat; their parts are read through
  :func:`param_views`;
* ``book = (pos, pos_i, acc, iacc, closed)``, the account book: ``pos[P_*, account, asset]``
  (float64), ``pos_i[PI_*, account, asset]`` (int64: opening bar, and the step's order flags and
  maker marks), ``acc[A_*, account]`` (float64), ``iacc[I_* | R_*, account]`` (int64: counters,
  episode, the step's report), ``closed[account]``;
* ``step = (orders, work)``: the step's input ``orders[O_* | H_*, account, asset]`` (float64:
  orders and replay hooks) and the scratch ``work[slot, W_*, asset]`` (float64; one slot, or one
  per account when accounts run on several threads);
* ``ledger = (led_f, led_i, rows)``: ``led_f[LF_*, row]``, ``led_i[LI_*, row]`` and the row count.
"""

# per-position fields of ``pos``
P_SIZE, P_ENTRY, P_LEVERAGE, P_MARGIN, P_STOP, P_TAKE, P_MARK, P_UPNL, P_FUNDING = range(9)
N_POS_FIELDS = 9
# per-position integers of ``pos_i``: the bar a position was opened at (-1 when flat), the
# ``OrderFlag`` bits of the step's validation, and 1 where a replayed fill is a maker fill
PI_OPENED, PI_FLAGS, PI_MAKER = range(3)
N_POS_INT_FIELDS = 3
# step input ``orders[field, account, asset]``: the order fields (see
# :class:`~arena_gym.exchange.orders.Orders`; NaN = none), then the replay hooks: fill price and
# fee rate (NaN: the usual one)
O_SIZE, O_LEVERAGE, O_STOP_LOSS, O_TAKE_PROFIT, H_FILL_PRICE, H_FEE_RATE = range(6)
N_ORDER_FIELDS = 4
N_ORDER_ROWS = 6
# per-account floats of ``acc``: money, then the margin scale of the last step (1 = none)
A_CAPITAL, A_COLLATERAL, A_REALIZED, A_FEES, A_FUNDING, A_FORFEITED, A_MARGIN_SCALE = range(7)
N_ACC_FIELDS = 7
# per-account integers of ``iacc``: counters, the ledger's episode number, then the report of the
# last step (``R_*``: positions liquidated, stop and take-profit fills, all fills)
I_FILLS, I_LIQUIDATIONS, I_BAR, I_EPISODE, R_LIQUIDATED, R_STOPS, R_TARGETS, R_FILLS = range(8)
N_IACC_FIELDS = 8
N_REPORT_FIELDS = 4
# market fields of ``bars``
B_OPEN, B_HIGH, B_LOW, B_CLOSE, B_PREV_VOLUME, B_FUNDING_RATE, B_FUNDING_PRICE = range(7)
N_BAR_FIELDS = 7
# per-asset parameters of ``asset_par``
AP_MAX_LEVERAGE, AP_SIZE_STEP, AP_MIN_NOTIONAL, AP_DEFAULT_LEVERAGE = range(4)
N_ASSET_PARAMS = 4
# exchange-wide numbers: the first entries of ``par_f`` (``scal``)
S_BACKSTOP, S_BANKRUPT_BELOW, S_HALF_SPREAD, S_IMPACT, S_MAX_SLIPPAGE, S_MIN_VOLUME = range(6)
N_SCALARS = 6
# exchange-wide integers: the first entries of ``par_i``: the sizes of the parameter tables
# (assets, maintenance tiers per asset, fee tiers), then the switches (0 / 1) and the ledger level
(Q_ASSETS, Q_TIERS, Q_FEE_TIERS, Q_ISOLATED, Q_TP_MAKER, Q_FORFEIT_ON_LIQUIDATION, Q_LEDGER_LEVEL) = range(7)
N_INT_SCALARS = 7
# tiers[field, asset, tier]: defined with the tier rule in the venue
from ..venue.formulas import T_AMOUNT, T_FLOOR, T_RATE  # noqa: E402,F401
# ledger columns
LF_QUANTITY, LF_PRICE, LF_FEE, LF_REALIZED, LF_FUNDING, LF_LEVERAGE = range(6)
LI_KIND, LI_ACCOUNT, LI_EPISODE, LI_ASSET, LI_BAR, LI_MAKER = range(6)
N_LEDGER_FIELDS = 6
# ledger kinds (same order as ``ledger.KINDS``) and levels
K_ORDER, K_STOP_LOSS, K_TAKE_PROFIT, K_LIQUIDATION, K_FUNDING, K_FORFEIT = range(6)
LEDGER_OFF, LEDGER_FILLS, LEDGER_FULL = 0, 1, 2
# order flags (same bits as ``orders.OrderFlag``)
F_LEVERAGE_CLAMPED, F_BELOW_MIN_NOTIONAL, F_SCALED_BY_MARGIN, F_REFUSED_BY_MARGIN = 1, 2, 4, 8
F_STOP_INVALID, F_TARGET_INVALID, F_NON_FINITE, F_SIZE_ROUNDED_TO_ZERO, F_ACCOUNT_CLOSED = 16, 32, 128, 256, 512
# scratch rows of ``work[row, asset]``, each with one meaning:
# W_TARGET, W_LEV, W_LEV_OUT, W_STOP, W_TAKE: validated target size, requested and resulting leverage,
#     stop and take-profit levels of an account's orders;
# W_KEPT, W_ADD: the part of the current size a target keeps, and the exposure it adds (margin check);
# W_MASK: 1 for the positions an event closes; W_PRICE: the price they close at; W_BACKSTOP: 1 for
#     those liquidated past the backstop (written by the liquidation steps only);
# W_TAKER, W_MAKER: the fee rates of the bar being run;
# W_REALIZED, W_FEE: realized PnL and fee of each position a close booked;
# W_MARGIN_HELD: the isolated margin a liquidated position brought to its settlement;
# W_FEE_BOUND: fee plus slippage fraction the margin check reserves; W_MARGIN_PER_COIN: initial margin
#     per coin at the open; W_MARGIN_FLAGS: the margin check's order flags (scaled / refused)
(W_TARGET, W_LEV, W_LEV_OUT, W_STOP, W_TAKE, W_KEPT, W_ADD, W_MASK, W_PRICE, W_BACKSTOP, W_TAKER, W_MAKER,
 W_REALIZED, W_FEE, W_MARGIN_HELD, W_FEE_BOUND, W_MARGIN_PER_COIN, W_MARGIN_FLAGS) = range(18)
N_WORK_ROWS = 18


def param_views(par_f, par_i):
    """The parts of the parameter blocks, as views: ``(scal, asset_par, tiers, fees, fee_tier)``
    (layouts above and in :class:`~arena_gym.exchange.params.ExchangeParams`); the integer
    switches are read from ``par_i`` directly (``Q_*``). Plain NumPy slicing, so the kernel
    compiles this same function."""
    A, K, F = par_i[Q_ASSETS], par_i[Q_TIERS], par_i[Q_FEE_TIERS]
    start = N_SCALARS
    scal = par_f[:start]
    end = start + N_ASSET_PARAMS * A
    asset_par = par_f[start:end].reshape((N_ASSET_PARAMS, A))
    start, end = end, end + 3 * A * K
    tiers = par_f[start:end].reshape((3, A, K))
    start, end = end, end + 2 * F * A
    fees = par_f[start:end].reshape((2, F, A))
    fee_tier = par_i[N_INT_SCALARS:]
    return scal, asset_par, tiers, fees, fee_tier
