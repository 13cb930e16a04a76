"""Built-in strategies: each turns bars and parameters into Signals for the kernel.

Indicators are cached per dataset (an SMA of 20 bars serves every grid point
that uses it), and signals are found with array operations.

The reference is backtesting.py, whose indicators are pandas' `rolling(n).mean()`
and whose `crossover()` compares the floats it gets with strict `<` and `>`. Two
averages that are equal in exact arithmetic come out equal, or a last bit apart,
depending on how they were summed (pandas keeps an online sum with Kahan
compensation), and that last bit decides whether a cross happened. So the
averages are pandas' own, bit for bit, and the comparisons are the same strict
ones: no tolerance.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from app.optimization.backtest import (
    BUY_IF_FLAT,
    CLOSE,
    CLOSE_AND_BUY,
    CLOSE_AND_SELL,
    Bars,
    Signals,
)


class StrategyError(ValueError):
    """Parameters this strategy cannot run with on these bars (the task fails with this message)."""


class Indicators:
    """Indicator arrays of one dataset, computed once each."""

    def __init__(self, bars: Bars) -> None:
        self.bars = bars
        self._closes = pd.Series(bars.close)
        self._cache: dict[tuple, np.ndarray] = {}

    def _window(self, n: int) -> None:
        if not 1 <= n < len(self.bars):
            raise StrategyError(f"A window of {n} bars does not fit {len(self.bars)} bars of data.")

    def sma(self, n: int) -> np.ndarray:
        """backtesting.py's `SMA`: pandas' rolling mean of the closes (NaN on the first n - 1 bars)."""
        key = ("sma", n)
        if key not in self._cache:
            self._window(n)
            self._cache[key] = _rolling_mean(self._closes, n)
        return self._cache[key]

    def rsi(self, period: int) -> np.ndarray:
        """Cutler's RSI: pandas' rolling means of gains and losses over `period` bars
        (100 where there was no loss; NaN on the first `period` bars)."""
        key = ("rsi", period)
        if key not in self._cache:
            self._window(period + 1)
            change = self._closes.diff()
            gains = _rolling_mean(change.clip(lower=0), period)
            losses = _rolling_mean((-change).clip(lower=0), period)
            with np.errstate(divide="ignore", invalid="ignore"):
                self._cache[key] = np.where(losses == 0, 100.0, 100 - 100 / (1 + gains / losses))
        return self._cache[key]


def _rolling_mean(series: pd.Series, n: int) -> np.ndarray:
    return series.rolling(n).mean().to_numpy(dtype=float)


@dataclass(frozen=True)
class Param:
    name: str
    kind: type  # int or float
    minimum: float
    maximum: float
    description: str


@dataclass(frozen=True)
class Strategy:
    name: str
    title: str
    params: tuple[Param, ...]
    constraint: Callable[[dict], bool]
    constraint_text: str
    violation_text: str  # what a skipped point has, for "44,850 skipped (n1 ≥ n2)"
    signals: Callable[[Indicators, dict], Signals]

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


def _events(start: int, *marked: tuple[np.ndarray, int]) -> Signals:
    """Signals from boolean arrays over bars[start:], each with its (nonzero) action code."""
    codes = np.zeros(len(marked[0][0]), dtype=np.int8)
    for mask, action in marked:
        codes[mask] = action
    bars = np.flatnonzero(codes)
    return Signals(start, bars + start, codes[bars])


def _sma_cross(ind: Indicators, p: dict) -> Signals:
    """backtesting.py's SmaCross: on a cross of the fast SMA over the slow one, close and go long;
    under it, close and go short."""
    fast, slow = ind.sma(int(p["n1"])), ind.sma(int(p["n2"]))
    start = max(int(p["n1"]), int(p["n2"]))
    # backtesting.lib.crossover(a, b): a[-2] < b[-2] and a[-1] > b[-1], on the floats themselves
    fast_before, fast_now, slow_before, slow_now = (
        fast[start - 1 : -1],
        fast[start:],
        slow[start - 1 : -1],
        slow[start:],
    )
    return _events(
        start,
        ((fast_before < slow_before) & (fast_now > slow_now), CLOSE_AND_BUY),
        ((slow_before < fast_before) & (slow_now > fast_now), CLOSE_AND_SELL),
    )


def _rsi_reversion(ind: Indicators, p: dict) -> Signals:
    """Long only: buy when RSI falls below `lower` (if flat), close when it rises above `upper`."""
    rsi = ind.rsi(int(p["period"]))
    start = int(p["period"]) + 1
    before, now = rsi[start - 1 : -1], rsi[start:]
    return _events(
        start,
        ((before >= p["lower"]) & (now < p["lower"]), BUY_IF_FLAT),
        ((before <= p["upper"]) & (now > p["upper"]), CLOSE),
    )


STRATEGIES = {
    s.name: s
    for s in (
        Strategy(
            "sma_cross",
            "SMA crossover",
            (Param("n1", int, 1, 1000, "fast SMA window (bars)"), Param("n2", int, 2, 1000, "slow SMA window (bars)")),
            lambda p: p["n1"] < p["n2"],
            "n1 < n2",
            "n1 ≥ n2",
            _sma_cross,
        ),
        Strategy(
            "rsi_reversion",
            "RSI mean reversion",
            (
                Param("period", int, 2, 500, "RSI window (bars)"),
                Param("lower", float, 0, 100, "buy below"),
                Param("upper", float, 0, 100, "sell above"),
            ),
            lambda p: p["lower"] < p["upper"],
            "lower < upper",
            "lower ≥ upper",
            _rsi_reversion,
        ),
    )
}
