"""Hand-computed exchange scenarios: every number checked against arithmetic done by hand."""

from __future__ import annotations

import numpy as np
import pytest

from arena_gym.exchange import Exchange, OrderFlag, Orders
from markets import bars_market, flat_bars

NAN = np.nan


def order(n_assets: int, **fields) -> Orders:
    """One account's orders; each keyword is a dict {asset index: value} for that Orders field."""
    o = Orders.hold(1, n_assets)
    for name, values in fields.items():
        for asset, value in values.items():
            getattr(o, name)[0, asset] = value
    return o


def exchange(market, capital=10_000.0, **kw) -> Exchange:
    ex = Exchange(market, 1, capital, slippage="none", **kw)
    ex.reset(0)
    return ex


def test_entry_and_exit_fees_are_taker_rate_on_fill_notional():
    m = bars_market({"BTC": flat_bars(100_000.0, 2) + flat_bars(101_000.0, 3)})
    ex = exchange(m)
    ex.step(order(1, size={0: 0.1}, leverage={0: 10}))            # fills at bar 1 open 100,000
    assert ex.state.fees_paid[0] == pytest.approx(0.1 * 100_000 * 0.00045)   # 4.5
    assert ex.state.collateral[0] == pytest.approx(10_000 - 4.5)
    ex.step(None)                                                  # bar 2 (closes at 101,000)
    assert ex.state.unrealized_pnl[0, 0] == pytest.approx(0.1 * 1_000)
    assert ex.state.equity[0] == pytest.approx(10_000 - 4.5 + 100)
    ex.step(order(1, size={0: 0.0}))                               # fills at bar 3 open 101,000
    assert ex.state.fees_paid[0] == pytest.approx(4.5 + 4.545)
    assert ex.state.realized_pnl[0] == pytest.approx(100.0)
    assert ex.state.collateral[0] == pytest.approx(10_090.955)
    assert ex.state.size[0, 0] == 0
    ledger = ex.ledger.frame()
    assert list(ledger["fee"]) == pytest.approx([4.5, 4.545])
    assert list(ledger["quantity"]) == pytest.approx([0.1, -0.1])


@pytest.mark.parametrize("side", [1.0, -1.0])
def test_funding_over_several_hours_long_and_short(side):
    # rates settle at each bar's open; the position exists from the open of bar 1 (after bar 1's settlement)
    rates = [0.0, 5e-4, 1e-4, -5e-5, 2e-5, 0.0]
    m = bars_market({"ETH": flat_bars(4_000.0, 6)}, funding={"ETH": rates}, fees=(0.0, 0.0))
    ex = exchange(m)
    ex.step(order(1, size={0: side * 1.0}, leverage={0: 5}))   # bar 1: its 5e-4 settles before the fill
    assert ex.state.funding_paid[0] == 0.0
    for _ in range(3):                                           # bars 2, 3, 4
        ex.step(None)
    paid = side * 1.0 * 4_000 * (1e-4 - 5e-5 + 2e-5)            # long pays +0.28, short receives 0.28
    assert ex.state.funding_paid[0] == pytest.approx(paid)
    assert ex.state.collateral[0] == pytest.approx(10_000 - paid)
    rows = ex.ledger.frame().query("kind == 'funding'")
    assert list(rows["funding"]) == pytest.approx([side * 0.4, side * -0.2, side * 0.08])
    assert list(rows["bar"]) == [2, 3, 4]


def test_isolated_20x_btc_long_liquidates_at_103921_85():
    # a worked example of the isolated liquidation price: long 0.62 BTC at 107,982.5 with 3,323 margin, mmr 1.25 %
    liq = (107_982.5 - 3_323 / 0.62) / (1 - 0.0125)
    assert liq == pytest.approx(103_921.85, abs=0.01)
    bars = flat_bars(107_982.5, 3) + [(107_000.0, 107_100.0, 103_900.0, 104_500.0)] + flat_bars(104_500.0, 2)
    m = bars_market({"BTC": bars}, fees=(0.0, 0.0))
    ex = exchange(m, margin_mode="isolated")
    ex.step(order(1, size={0: 0.62}, leverage={0: 20}))
    assert ex.state.isolated_margin[0, 0] == pytest.approx(0.62 * 107_982.5 / 20)   # 3,347.4575
    assert ex.liquidation_price()[0, 0] == pytest.approx((107_982.5 - 0.62 * 107_982.5 / 20 / 0.62) / 0.9875)
    ex.adjust_isolated_margin(0, 0, 3_323 - 0.62 * 107_982.5 / 20)
    assert ex.liquidation_price()[0, 0] == pytest.approx(103_921.85, abs=0.01)
    ex.step(None)                                 # bar 2: flat, nothing happens
    assert ex.state.size[0, 0] == 0.62
    report = ex.step(None)                        # bar 3: low 103,900 crosses the liquidation price
    assert report.liquidated[0] == 1
    fill = ex.ledger.frame().query("kind == 'liquidation'")
    assert fill["price"].iloc[0] == pytest.approx(liq)
    loss = 0.62 * (liq - 107_982.5)
    # the trader keeps margin + loss (= maintenance margin at the liquidation price)
    assert ex.state.collateral[0] == pytest.approx(10_000 + loss)
    assert 3_323 + loss == pytest.approx(0.0125 * 0.62 * liq)
    assert not ex.state.closed[0]                 # isolated: the account lives on


def test_cross_account_with_two_positions_liquidates_when_equity_meets_maintenance():
    btc = flat_bars(100_000.0, 2) + [(100_000.0, 100_000.0, 90_000.0, 91_000.0)] + flat_bars(91_000.0, 2)
    eth = flat_bars(4_000.0, 2) + [(4_000.0, 4_000.0, 3_300.0, 3_400.0)] + flat_bars(3_400.0, 2)
    m = bars_market({"BTC": btc, "ETH": eth}, fees=(0.0, 0.0))
    ex = exchange(m, capital=2_000.0)
    ex.step(order(2, size={0: 0.1, 1: 2.0}, leverage={0: 20, 1: 20}))
    mm = ex.maintenance_margin()[0]
    assert mm == pytest.approx([0.1 * 100_000 * 0.0125, 2 * 4_000 * 0.02])          # 125 + 160
    report = ex.step(None)
    # along the bar: E(s) = 2000 - 2400 s, MM(s) = 285 - 40.5 s  ->  s = 1715 / 2359.5
    s = 1_715 / 2_359.5
    fills = ex.ledger.frame().query("kind == 'liquidation'").sort_values("asset")
    assert list(fills["price"]) == pytest.approx([100_000 - 10_000 * s, 4_000 - 700 * s])
    assert report.liquidated[0] == 2
    assert ex.state.equity[0] == pytest.approx(285 - 40.5 * s)          # what is left stays with the trader
    assert ex.state.closed[0]


def test_cross_position_not_liquidated_while_equity_covers_maintenance():
    btc = flat_bars(100_000.0, 2) + [(100_000.0, 100_000.0, 96_300.0, 97_000.0)] + flat_bars(97_000.0, 2)
    m = bars_market({"BTC": btc}, fees=(0.0, 0.0))
    ex = exchange(m, capital=1_000.0)
    ex.step(order(1, size={0: 0.2}, leverage={0: 20}))
    assert ex.liquidation_price()[0, 0] == pytest.approx(19_000 / 0.1975)         # 96,202.53
    ex.step(None)                                                                 # low 96,300 > 96,202.53
    assert ex.state.size[0, 0] == 0.2 and not ex.state.closed[0]


@pytest.mark.parametrize("gap_open, kept, forfeited", [
    (96_000.0, 200.0, 0.0),      # equity 200 < maintenance 240 but >= 2/3 of it (160): the trader keeps 200
    (96_150.0, 230.0, 0.0),      # equity 230 < maintenance 240.375, >= 160.25: keeps 230
    (94_000.0, 0.0, -200.0),     # equity -200: the shortfall is absorbed, the account ends at 0
])
def test_gap_through_liquidation_closes_at_the_bar_open(gap_open, kept, forfeited):
    btc = flat_bars(100_000.0, 2) + [(gap_open, gap_open, gap_open - 500, gap_open)] + flat_bars(gap_open, 2)
    m = bars_market({"BTC": btc}, fees=(0.0, 0.0))
    ex = exchange(m, capital=1_000.0)
    ex.step(order(1, size={0: 0.2}, leverage={0: 20}))
    ex.step(None)
    fill = ex.ledger.frame().query("kind == 'liquidation'")
    assert fill["price"].iloc[0] == gap_open
    equity_at_open = 1_000 + 0.2 * (gap_open - 100_000)
    maintenance = 0.2 * gap_open * 0.0125
    assert ex.state.equity[0] == pytest.approx(kept)
    assert ex.state.forfeited[0] == pytest.approx(forfeited)
    assert ex.state.equity[0] >= 0 and ex.state.closed[0]
    assert equity_at_open < maintenance


def test_backstop_forfeits_the_rest_below_two_thirds_of_maintenance():
    gap_open = 95_700.0      # equity 140 < 2/3 x (0.2 x 95,700 x 0.0125 = 239.25) = 159.5: backstop
    btc = flat_bars(100_000.0, 2) + [(gap_open, gap_open, gap_open - 500, gap_open)] + flat_bars(gap_open, 2)
    m = bars_market({"BTC": btc}, fees=(0.0, 0.0))
    ex = exchange(m, capital=1_000.0)
    ex.step(order(1, size={0: 0.2}, leverage={0: 20}))
    ex.step(None)
    assert ex.state.forfeited[0] == pytest.approx(140.0)
    assert ex.state.equity[0] == 0.0


def test_bar_hitting_both_stop_and_target_exits_at_the_stop():
    eth = flat_bars(4_000.0, 2) + [(4_000.0, 4_150.0, 3_850.0, 4_050.0)] + flat_bars(4_050.0, 2)
    m = bars_market({"ETH": eth})
    ex = exchange(m)
    ex.step(order(1, size={0: 1.0}, leverage={0: 10}, stop_loss={0: 3_900.0}, take_profit={0: 4_100.0}))
    assert ex.state.stop_loss[0, 0] == 3_900.0 and ex.state.take_profit[0, 0] == 4_100.0
    report = ex.step(None)
    assert report.stops[0] == 1 and report.targets[0] == 0
    exit_row = ex.ledger.frame().query("kind == 'stop_loss'")
    assert exit_row["price"].iloc[0] == 3_900.0
    assert ex.state.realized_pnl[0] == pytest.approx(-100.0)
    assert ex.state.fees_paid[0] == pytest.approx(4_000 * 0.00045 + 3_900 * 0.00045)


def test_take_profit_gapped_through_fills_at_the_open():
    eth = flat_bars(4_000.0, 2) + [(4_200.0, 4_250.0, 4_190.0, 4_210.0)] + flat_bars(4_210.0, 2)
    ex = exchange(bars_market({"ETH": eth}, fees=(0.0, 0.0)))
    ex.step(order(1, size={0: -1.0}, leverage={0: 10}, stop_loss={0: 4_100.0}))    # short, stop above
    ex.step(None)                                                                    # opens at 4,200 > stop
    row = ex.ledger.frame().query("kind == 'stop_loss'")
    assert row["price"].iloc[0] == 4_200.0 and ex.state.realized_pnl[0] == pytest.approx(-200.0)


def test_long_to_short_flip_realizes_the_long_and_opens_the_short():
    eth = flat_bars(4_000.0, 2) + flat_bars(4_100.0, 3)
    ex = exchange(bars_market({"ETH": eth}))
    ex.step(order(1, size={0: 1.0}, leverage={0: 10}))
    ex.step(None)
    report = ex.step(order(1, size={0: -2.0}))                  # fills at 4,100
    s = ex.state
    assert s.size[0, 0] == -2.0 and s.entry[0, 0] == 4_100.0
    assert s.realized_pnl[0] == pytest.approx(100.0)
    assert s.fees_paid[0] == pytest.approx(4_000 * 0.00045 + 3 * 4_100 * 0.00045)
    assert s.opened_bar[0, 0] == 3 and report.fills[0] == 1
    assert s.leverage[0, 0] == 10


def test_order_too_large_for_margin_is_scaled_down_by_one_factor():
    ex = exchange(bars_market({"BTC": flat_bars(100_000.0, 4)}), capital=1_000.0)
    report = ex.step(order(1, size={0: 1.0}, leverage={0: 10}))
    phi = 1_000 / (10_000 + 45)            # equity / (initial margin + fee) per BTC
    assert report.margin_scale[0] == pytest.approx(phi)
    assert ex.state.size[0, 0] == pytest.approx(np.trunc(phi / 1e-5) * 1e-5)        # 0.09955 BTC
    assert report.flags[0, 0] & OrderFlag.SCALED_BY_MARGIN
    margin_used = ex.margin_in_use()[0, 0] + ex.state.fees_paid[0]
    assert margin_used <= 1_000 + 1e-9


def test_order_refused_when_even_the_minimum_does_not_fit():
    ex = exchange(bars_market({"BTC": flat_bars(100_000.0, 4)}), capital=0.5)
    report = ex.step(order(1, size={0: 0.01}, leverage={0: 10}))
    assert report.flags[0, 0] & OrderFlag.REFUSED_BY_MARGIN
    assert ex.state.size[0, 0] == 0 and ex.state.fees_paid[0] == 0


def test_validation_clamps_leverage_rounds_sizes_and_drops_small_or_bad_orders():
    m = bars_market({"BTC": flat_bars(100_000.0, 4), "DOGE": flat_bars(0.2, 4), "ETH": flat_bars(4_000.0, 4)})
    ex = exchange(m)
    report = ex.step(order(3, size={0: 0.0123456, 1: 40.0, 2: 0.5}, leverage={0: 55, 1: 3, 2: 2.7},
                           stop_loss={2: 4_100.0}))
    s = ex.state
    assert s.leverage[0, 0] == 40 and report.flags[0, 0] & OrderFlag.LEVERAGE_CLAMPED
    assert s.size[0, 0] == pytest.approx(0.01234)                                 # 5 size decimals, toward zero
    assert s.size[0, 1] == 0 and report.flags[0, 1] & OrderFlag.BELOW_MIN_NOTIONAL  # $8 < $10
    assert s.leverage[0, 2] == 2 and report.flags[0, 2] & OrderFlag.LEVERAGE_CLAMPED
    assert np.isnan(s.stop_loss[0, 2]) and report.flags[0, 2] & OrderFlag.STOP_INVALID   # long stop above price


def test_full_close_is_allowed_below_minimum_notional():
    ex = exchange(bars_market({"DOGE": flat_bars(0.2, 5)}, fees=(0.0, 0.0)))
    ex.step(order(1, size={0: 100.0}, leverage={0: 5}))        # $20
    ex.step(order(1, size={0: 30.0}))                          # reduce by $14
    report = ex.step(order(1, size={0: 0.0}))                  # close $6 < $10: still allowed
    assert ex.state.size[0, 0] == 0 and report.flags[0, 0] == 0


def test_binance_preset_closes_liquidations_at_bankruptcy_price():
    btc = flat_bars(100_000.0, 2) + [(100_000.0, 100_000.0, 90_000.0, 91_000.0)] + flat_bars(91_000.0, 2)
    m = bars_market({"BTC": btc}, rules="binance-usdm", fees=(0.0, 0.0))
    ex = Exchange(m, 1, 1_000.0, slippage="none", rules="binance-usdm")
    ex.reset(0)
    ex.step(order(1, size={0: 0.2}, leverage={0: 20}))
    assert ex.maintenance_margin()[0, 0] == pytest.approx(0.2 * 100_000 * 0.004)   # tier 1 of BTCUSDT
    ex.step(None)
    assert ex.state.closed[0] and ex.state.equity[0] == 0.0 and ex.state.forfeited[0] > 0


def test_binance_tiered_maintenance_uses_the_tier_of_the_notional():
    from arena_gym.market import load_rules

    btc = load_rules("binance-usdm").spec("BTC")
    assert btc.maintenance_margin(40_000) == pytest.approx(160.0)
    assert btc.maintenance_margin(100_000) == pytest.approx(100_000 * 0.005 - 50)
    assert btc.maintenance_margin(1_000_000) == pytest.approx(1_000_000 * 0.01 - 3_050)


def test_trades_from_ledger_split_a_flip_and_attribute_fees_and_funding():
    from arena_gym.exchange import trades_from_ledger

    eth = flat_bars(4_000.0, 3) + flat_bars(4_100.0, 3) + flat_bars(4_000.0, 3)
    m = bars_market({"ETH": eth}, funding={"ETH": [1e-4] * 9})
    ex = exchange(m)
    ex.step(order(1, size={0: 1.0}, leverage={0: 10}))     # bar 1: buy 1 @ 4,000 (fee 1.8)
    ex.step(None)                                           # bar 2: funding 0.4 paid
    ex.step(None)                                           # bar 3: funding 0.41 paid (open 4,100)
    ex.step(order(1, size={0: -2.0}))                       # bar 4: funding 0.41, sell 3 @ 4,100 (fee 5.535)
    ex.step(None)                                           # bar 5: short 2 receives 0.82
    ex.step(order(1, size={0: 0.0}))                        # bar 6: funding -0.8, buy 2 @ 4,000 (fee 3.6)
    t = trades_from_ledger(ex.ledger, m.timestamps, m.symbols)
    assert list(t["side"]) == [1, -1]
    long, short = t.iloc[0], t.iloc[1]
    assert (long["entry_price"], long["exit_price"], long["size"]) == (4_000.0, 4_100.0, 1.0)
    assert long.gross_pnl == pytest.approx(100.0)
    assert long.fees == pytest.approx(1.8 + 5.535 / 3)
    assert long.funding == pytest.approx(0.4 + 0.41 + 0.41)
    assert long.net_pnl == pytest.approx(100.0 - 1.8 - 5.535 / 3 - 1.22)
    assert long.holding_bars == 3 and long.leverage == 10 and long.exit_reason == "order"
    assert (short["entry_price"], short["exit_price"], short["size"]) == (4_100.0, 4_000.0, 2.0)
    assert short.gross_pnl == pytest.approx(200.0)
    assert short.fees == pytest.approx(5.535 * 2 / 3 + 3.6)
    assert short.funding == pytest.approx(-0.82 - 0.8)
    assert t["net_pnl"].sum() == pytest.approx(ex.state.equity[0] - 10_000)


def test_isolated_open_profit_cannot_fund_new_margin():
    btc = flat_bars(100_000.0, 2) + flat_bars(200_000.0, 4)
    eth = flat_bars(4_000.0, 6)
    ex = exchange(bars_market({"BTC": btc, "ETH": eth}, fees=(0.0, 0.0)), capital=1_000.0, margin_mode="isolated")
    ex.step(order(2, size={0: 0.05}, leverage={0: 5}))          # all 1,000 of collateral is BTC's margin
    ex.step(None)                                                 # BTC doubles: +5,000 open profit
    assert ex.state.unrealized_pnl[0, 0] == pytest.approx(5_000.0) and ex.available_margin()[0] == 0
    report = ex.step(order(2, size={1: 10.0}, leverage={1: 10}))   # would need 4,000 of margin
    assert report.flags[0, 1] & OrderFlag.REFUSED_BY_MARGIN
    assert ex.state.size[0, 1] == 0
    assert ex.state.collateral[0] - ex.state.isolated_margin[0].sum() >= 0


def two_position_crash(stop: float | None):
    btc = flat_bars(100_000.0, 2) + [(100_000.0, 100_000.0, 90_000.0, 91_000.0)] + flat_bars(91_000.0, 2)
    eth = flat_bars(4_000.0, 2) + [(4_000.0, 4_000.0, 3_300.0, 3_400.0)] + flat_bars(3_400.0, 2)
    ex = exchange(bars_market({"BTC": btc, "ETH": eth}, fees=(0.0, 0.0)), capital=2_000.0)
    ex.step(order(2, size={0: 0.1, 1: 2.0}, leverage={0: 20, 1: 20}, stop_loss={} if stop is None else {0: stop}))
    ex.step(None)
    return ex


def test_cross_stop_beyond_the_liquidation_point_does_not_fire_first():
    # liquidation at s = 1715 / 2359.5 = 0.727 of the way down; a BTC stop at 91,000 sits at s = 0.9
    plain, stopped = two_position_crash(None), two_position_crash(91_000.0)
    assert stopped.ledger.frame().query("kind == 'stop_loss'").empty
    assert stopped.state.equity[0] == pytest.approx(plain.state.equity[0])
    assert stopped.state.equity[0] == pytest.approx(285 - 40.5 * 1_715 / 2_359.5)


def test_cross_stop_before_the_liquidation_point_fires_then_the_rest_is_checked():
    ex = two_position_crash(95_000.0)                               # s = 0.5 < 0.727: the stop comes first
    stop_row = ex.ledger.frame().query("kind == 'stop_loss'")
    assert stop_row["price"].iloc[0] == 95_000.0
    # ETH alone from the open: E(s) = 1500 - 1400 s, MM(s) = 160 - 28 s  ->  s = 1340 / 1372
    s = 1_340 / 1_372
    liq = ex.ledger.frame().query("kind == 'liquidation'")
    assert list(liq["asset"]) == [1] and liq["price"].iloc[0] == pytest.approx(4_000 - 700 * s)
    assert ex.state.equity[0] == pytest.approx(160 - 28 * s)


def test_engine_maintenance_uses_the_tier_of_each_position():
    m = bars_market({"BTC": flat_bars(100_000.0, 4)}, rules="binance-usdm", fees=(0.0, 0.0))
    ex = Exchange(m, 3, 200_000.0, slippage="none", rules="binance-usdm")
    ex.reset(0)
    o = Orders.hold(3, 1)
    o.size[:, 0] = [0.4, 1.0, 10.0]                                 # $40k, $100k, $1M
    o.leverage[:] = 10
    ex.step(o)
    assert ex.maintenance_margin()[:, 0] == pytest.approx([160.0, 100_000 * 0.005 - 50, 1_000_000 * 0.01 - 3_050])
    # one position, equity E: liquidation where E + size (p - mark) = size p rate - amount
    E = ex.state.equity[2]
    assert E == 200_000.0
    assert ex.liquidation_price()[2, 0] == pytest.approx((10 * 100_000 - E - 3_050) / (10 * (1 - 0.01)))   # 80,500
