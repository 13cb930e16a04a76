"""The kernel's trade list and equity curve against backtesting.py's (returns and trade
counts on many grid points and datasets: test_fidelity.py), a run out of money, the Sharpe
ratio, a batch with points that cannot run, the RSI strategy's rules, and the CSV validation."""

import math

import numpy as np
import pandas as pd
import pytest
from backtesting import Backtest
from backtesting.test import GOOG

from app.core.errors import InvalidInput
from app.optimization import datasets
from app.optimization.strategies import STRATEGIES, Indicators, StrategyError
from tests.optimization.oracle import SmaCross, compare

pytestmark = pytest.mark.filterwarnings(
    "ignore:Some trades remain open", "ignore::DeprecationWarning", "ignore:.*dayofweek"
)


def goog_bars():
    return datasets.parse_csv(GOOG.to_csv(index_label="Date"))


def test_trade_list_and_equity_curve_match_backtesting_py():
    bars = goog_bars()
    result = STRATEGIES["sma_cross"].backtest(Indicators(bars), {"n1": 10, "n2": 20}, 10_000)
    stats = Backtest(GOOG, SmaCross, cash=10_000).run()
    theirs = stats["_trades"]
    assert [t.size for t in result.trades] == theirs["Size"].tolist()
    assert [t.entry_bar for t in result.trades] == theirs["EntryBar"].tolist()
    assert [t.exit_bar for t in result.trades] == theirs["ExitBar"].tolist()
    assert np.allclose([t.pnl for t in result.trades], theirs["PnL"])
    assert np.allclose(result.equity, stats["_equity_curve"]["Equity"].values)


def test_a_short_run_out_of_money_ends_as_in_backtesting_py():
    """A short taken on the way down, then the price jumps ninefold in two bars: equity goes below
    zero at bar 41's close, where the trade closes, and stays 0 (backtesting.py's broker)."""
    close = np.concatenate(
        [np.linspace(100, 120, 10), np.linspace(120, 60, 30), np.linspace(60, 1000, 3), np.linspace(1000, 990, 30)]
    )
    frame = pd.DataFrame(
        {"Open": close * 0.999, "High": close * 1.01, "Low": close * 0.99, "Close": close, "Volume": 1000.0},
        index=pd.date_range("2020-01-01", periods=len(close), freq="D"),
    )
    for commission in (0.0, 0.002):
        report = compare(frame, "sma_cross", [{"n1": 2, "n2": 5}, {"n1": 3, "n2": 10}], 10_000, commission)
        assert report["mismatches"] == 0, report
    bars = datasets.parse_csv(frame.to_csv(index_label="Date"))
    result = STRATEGIES["sma_cross"].backtest(Indicators(bars), {"n1": 3, "n2": 10}, 10_000)
    (trade,) = result.trades
    assert (trade.entry_bar, trade.exit_bar, trade.size, trade.exit_price) == (15, 41, -91, close[41])
    assert result.equity[40] > 0 and not result.equity[41:].any()
    assert result.metrics == {
        "return_pct": -100.0,
        "sharpe": None,  # returns after the end are 0 / 0
        "max_drawdown_pct": -100.0,
        "trades": 1,
        "win_rate_pct": 0.0,
    }


def test_sharpe_is_numpys_mean_over_std_of_the_per_bar_returns():
    """The kernel sums as NumPy does (pairwise); measured bit for bit equal, held to 1e-9 relative."""
    bars = goog_bars()
    indicators = Indicators(bars)
    for strategy, params, start in (
        ("sma_cross", {"n1": 10, "n2": 20}, 20),
        ("sma_cross", {"n1": 3, "n2": 200}, 200),
        ("rsi_reversion", {"period": 14, "lower": 30, "upper": 70}, 15),
    ):
        result = STRATEGIES[strategy].backtest(indicators, params, 10_000, commission=0.001)
        live = result.equity[start:]
        returns = live[1:] / live[:-1] - 1
        assert result.metrics["sharpe"] == pytest.approx(returns.mean() / returns.std() * math.sqrt(252), rel=1e-9)


def test_a_batch_fails_only_the_points_that_cannot_run():
    bars = datasets.demo_series(50)
    indicators, sma, rsi = Indicators(bars), STRATEGIES["sma_cross"], STRATEGIES["rsi_reversion"]
    points = [{"n1": 5, "n2": 20}, {"n1": 5, "n2": 60}, {"n1": 70, "n2": 80}, {"n1": 10, "n2": 30}]
    results = sma.metrics(indicators, sma.columns(points), 10_000)
    assert results.errors == {
        1: "A window of 60 bars does not fit 50 bars of data.",
        2: "A window of 70 bars does not fit 50 bars of data.",  # the first window that does not fit
    }
    rows = results.dicts()
    assert rows[1:3] == [None, None]
    assert [rows[0], rows[3]] == [sma.backtest(indicators, p, 10_000).metrics for p in (points[0], points[3])]
    misfit = rsi.metrics(indicators, rsi.columns([{"period": 49, "lower": 30, "upper": 70}]), 10_000)
    assert misfit.errors == {0: "A window of 50 bars does not fit 50 bars of data."}  # the RSI needs period + 1 bars
    assert len(sma.metrics(indicators, sma.columns([]), 10_000)) == 0


def test_rsi_reversion_goes_long_below_lower_and_exits_above_upper():
    bars = datasets.demo_series()
    params = {"period": 14, "lower": 30, "upper": 70}
    rsi = Indicators(bars).rsi(14)
    result = STRATEGIES["rsi_reversion"].backtest(Indicators(bars), params, 10_000)
    assert result.trades and all(t.size > 0 for t in result.trades)
    for trade in result.trades:
        assert rsi[trade.entry_bar - 1] < 30 <= rsi[trade.entry_bar - 2]  # decided on the bar before the fill
        assert rsi[trade.exit_bar - 1] > 70
        assert trade.entry_price == bars.open[trade.entry_bar] and trade.exit_price == bars.open[trade.exit_bar]
    metrics = result.metrics
    assert set(metrics) == {"return_pct", "sharpe", "max_drawdown_pct", "trades", "win_rate_pct"}
    assert metrics["max_drawdown_pct"] <= 0 and 0 <= metrics["win_rate_pct"] <= 100
    assert math.isfinite(metrics["sharpe"])


def test_a_window_longer_than_the_data_fails_clearly():
    bars = datasets.demo_series(50)
    with pytest.raises(StrategyError, match="does not fit 50 bars"):
        STRATEGIES["sma_cross"].backtest(Indicators(bars), {"n1": 5, "n2": 60}, 10_000)


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


def test_a_worker_on_optimize_warms_the_one_compiled_kernel_when_it_starts(app):
    from app.core.capability import registry
    from app.optimization import backtest, jobs

    assert (
        registry().warmers(["optimize"])
        == registry().warmers(["default", "optimize"])
        == ("app.optimization.jobs.warm",)
    )
    assert registry().warmers(["default"]) == ()
    jobs.warm()
    bars = datasets.demo_series(300)
    indicators = Indicators(bars)
    rsi = STRATEGIES["rsi_reversion"]
    rsi.metrics(indicators, rsi.columns([{"period": 14, "lower": 30, "upper": 70}]), 10_000, 0.001)
    STRATEGIES["sma_cross"].backtest(indicators, {"n1": 5, "n2": 20}, 10_000)
    assert len(backtest._batch.signatures) == 1  # batches and single runs of both strategies: one compile
