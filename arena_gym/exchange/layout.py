"""Index layout of the packed arrays the compiled exchange kernel reads and writes.

Plain integers, importable without numba: the kernel, the parameter builder, the account state
and the ledger all use these names for rows of their packed arrays.
"""

# per-position fields of ``pos``
P_SIZE, P_ENTRY, P_LEVERAGE, P_MARGIN, P_STOP, P_TAKE, P_MARK, P_UPNL, P_FUNDING = range(9)
N_POS_FIELDS = 9
# order fields of ``orders[field, account, asset]`` (see :class:`~arena_gym.exchange.orders.Orders`)
O_SIZE, O_LEVERAGE, O_STOP_LOSS, O_TAKE_PROFIT = range(4)
N_ORDER_FIELDS = 4
# replay hooks ``hooks[field, account, asset]``: fill price and fee rate (NaN: the usual one)
H_FILL_PRICE, H_FEE_RATE = range(2)
N_HOOK_FIELDS = 2
# per-account money of ``acc``
A_CAPITAL, A_COLLATERAL, A_REALIZED, A_FEES, A_FUNDING, A_FORFEITED = range(6)
N_ACC_FIELDS = 6
# per-account counters of ``iacc``
I_FILLS, I_LIQUIDATIONS, I_BAR = range(3)
N_IACC_FIELDS = 3
# market fields of ``bars``
B_OPEN, B_HIGH, B_LOW, B_CLOSE, B_PREV_VOLUME, B_FUNDING_RATE, B_FUNDING_PRICE = range(7)
N_BAR_FIELDS = 7
# per-asset parameters of ``asset_par``
AP_MAX_LEVERAGE, AP_SIZE_STEP, AP_MIN_NOTIONAL, AP_DEFAULT_LEVERAGE = range(4)
N_ASSET_PARAMS = 4
# exchange-wide parameters of ``scal``
(S_ISOLATED, S_TP_MAKER, S_FORFEIT_ON_LIQUIDATION, S_BACKSTOP, S_BANKRUPT_BELOW, S_HALF_SPREAD, S_IMPACT,
 S_MAX_SLIPPAGE, S_MIN_VOLUME, S_LEDGER_LEVEL) = range(10)
N_SCALARS = 10
# tiers[field, asset, tier]: defined with the tier rule in the venue
from ..venue.formulas import T_AMOUNT, T_FLOOR, T_RATE  # noqa: E402,F401
# report counters rep[field, account]
R_LIQUIDATED, R_STOPS, R_TARGETS, R_FILLS = range(4)
N_REPORT_FIELDS = 4
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
#     those liquidated past the backstop;
# W_TAKER, W_MAKER: the fee rates of the bar being run;
# W_REALIZED, W_FEE: realized PnL and fee of each position a close booked;
# W_MARGIN_HELD: the isolated margin a liquidated position brought to its settlement;
# W_FEE_BOUND: fee plus slippage fraction the margin check reserves; W_MARGIN_PER_COIN: initial margin
#     per coin at the open; W_MARGIN_FLAGS: the margin check's order flags (scaled / refused)
(W_TARGET, W_LEV, W_LEV_OUT, W_STOP, W_TAKE, W_KEPT, W_ADD, W_MASK, W_PRICE, W_BACKSTOP, W_TAKER, W_MAKER,
 W_REALIZED, W_FEE, W_MARGIN_HELD, W_FEE_BOUND, W_MARGIN_PER_COIN, W_MARGIN_FLAGS) = range(18)
N_WORK_ROWS = 18
