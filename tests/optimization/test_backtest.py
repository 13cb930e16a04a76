"""The kernel's trade list and equity curve against backtesting.py's (returns and trade
counts on many grid points and datasets: test_fidelity.py), the RSI strategy's rules,
and the CSV validation."""

import math

import numpy as np
import pytest
from backtesting import Backtest
from backtesting.test import GOOG

from app.core.errors import InvalidInput
from app.optimization import datasets
from app.optimization.backtest import simulate
from app.optimization.strategies import STRATEGIES, Indicators, StrategyError
from tests.optimization.oracle import SmaCross

pytestmark = pytest.mark.filterwarnings(
    "ignore:Some trades remain open", "ignore::DeprecationWarning", "ignore:.*dayofweek"
)


def goog_bars():
    return datasets.parse_csv(GOOG.to_csv(index_label="Date"))


def test_trade_list_and_equity_curve_match_backtesting_py():
    bars = goog_bars()
    result = simulate(bars, STRATEGIES["sma_cross"].signals(Indicators(bars), {"n1": 10, "n2": 20}), 10_000)
    stats = Backtest(GOOG, SmaCross, cash=10_000).run()
    theirs = stats["_trades"]
    assert [t.size for t in result.trades] == theirs["Size"].tolist()
    assert [t.entry_bar for t in result.trades] == theirs["EntryBar"].tolist()
    assert [t.exit_bar for t in result.trades] == theirs["ExitBar"].tolist()
    assert np.allclose([t.pnl for t in result.trades], theirs["PnL"])
    assert np.allclose(result.equity, stats["_equity_curve"]["Equity"].values)


def test_rsi_reversion_goes_long_below_lower_and_exits_above_upper():
    bars = datasets.demo_series()
    params = {"period": 14, "lower": 30, "upper": 70}
    rsi = Indicators(bars).rsi(14)
    result = simulate(bars, STRATEGIES["rsi_reversion"].signals(Indicators(bars), params), 10_000)
    assert result.trades and all(t.size > 0 for t in result.trades)
    for trade in result.trades:
        assert rsi[trade.entry_bar - 1] < 30 <= rsi[trade.entry_bar - 2]  # decided on the bar before the fill
        assert rsi[trade.exit_bar - 1] > 70
        assert trade.entry_price == bars.open[trade.entry_bar] and trade.exit_price == bars.open[trade.exit_bar]
    metrics = result.metrics()
    assert set(metrics) == {"return_pct", "sharpe", "max_drawdown_pct", "trades", "win_rate_pct"}
    assert metrics["max_drawdown_pct"] <= 0 and 0 <= metrics["win_rate_pct"] <= 100
    assert math.isfinite(metrics["sharpe"])


def test_a_window_longer_than_the_data_fails_clearly():
    bars = datasets.demo_series(50)
    with pytest.raises(StrategyError, match="does not fit 50 bars"):
        STRATEGIES["sma_cross"].signals(Indicators(bars), {"n1": 5, "n2": 60})


def test_csv_validation_reports_every_bad_row():
    text = (
        "date,open,high,low,close,volume,extra\n"
        "2024-01-02,10,11,9,10.5,100,x\n"
        "2024-01-03,10,9,9.5,10,100,x\n"  # high below low
        "2024-01-04,ten,11,9,10,100,x\n"
        "2024-01-04,10,11,9,10,100,x\n"
        "2024-01-05,10,11,9,10,-1,x\n"
        "01/06/2024,10,11,9,10,1,x\n"
    )
    with pytest.raises(InvalidInput) as caught:
        datasets.parse_csv(text)
    report = caught.value.details["bad_rows"]
    assert [r["line"] for r in report] == [3, 4, 6, 7]
    assert "High must be the highest" in report[0]["message"] and "'ten' is not a number" in report[1]["message"]
    assert "Volume must be positive or zero" in report[2]["message"] and "ISO 8601" in report[3]["message"]
    with pytest.raises(InvalidInput, match="lacks Volume"):
        datasets.parse_csv("Date,Open,High,Low,Close\n2024-01-01,1,1,1,1\n")
    with pytest.raises(InvalidInput) as caught:
        datasets.parse_csv(
            "Date,Open,High,Low,Close,Volume\n2024-01-02,1,1,1,1,1\n2024-01-01,1,1,1,1,1\n2024-01-03,1,1,1,1,1\n"
        )
    assert caught.value.details["bad_rows"] == [
        {"line": 3, "message": "date 2024-01-01 does not come after 2024-01-02"}
    ]


def test_canonical_csv_round_trips_and_demo_series_is_seeded():
    bars = goog_bars()
    text = datasets.to_csv(bars)
    again = datasets.parse_csv(text)
    assert np.array_equal(again.close, bars.close) and again.dates == bars.dates
    fast = datasets.from_canonical(text)
    assert all(np.array_equal(getattr(fast, c), getattr(bars, c)) for c in ("open", "high", "low", "close", "volume"))
    assert fast.dates == bars.dates
    assert datasets.checksum(text) == datasets.checksum(datasets.to_csv(again))
    demo = datasets.demo_series()
    assert datasets.to_csv(demo) == datasets.to_csv(datasets.demo_series())
    datasets.parse_csv(datasets.to_csv(demo))  # the demo series passes its own validation
