"""Built-in strategies: each turns bars and parameters into Signals for the kernel.

Indicators are cached per dataset (an SMA of 20 bars serves every grid point
that uses it), and signals are found with array operations.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from app.optimization.backtest import (
    BUY_IF_FLAT,
    CLOSE,
    CLOSE_AND_BUY,
    CLOSE_AND_SELL,
    Bars,
    Signals,
)

TIE = 1e-9  # relative difference of two averages below which they count as equal


class StrategyError(ValueError):
    """Parameters this strategy cannot run with on these bars (the task fails with this message)."""


class Indicators:
    """Indicator arrays of one dataset, computed once each."""

    def __init__(self, bars: Bars) -> None:
        self.bars = bars
        self._cache: dict[tuple, np.ndarray] = {}

    def _window(self, n: int) -> None:
        if not 1 <= n < len(self.bars):
            raise StrategyError(f"A window of {n} bars does not fit {len(self.bars)} bars of data.")

    def sma(self, n: int) -> np.ndarray:
        key = ("sma", n)
        if key not in self._cache:
            self._window(n)
            out = np.full(len(self.bars), np.nan)
            out[n - 1 :] = sliding_window_view(self.bars.close, n).mean(axis=1)
            self._cache[key] = out
        return self._cache[key]

    def rsi(self, period: int) -> np.ndarray:
        """Cutler's RSI: simple averages of gains and losses over `period` bars."""
        key = ("rsi", period)
        if key not in self._cache:
            self._window(period + 1)
            change = np.diff(self.bars.close)
            gains = sliding_window_view(np.clip(change, 0, None), period).mean(axis=1)
            losses = sliding_window_view(np.clip(-change, 0, None), period).mean(axis=1)
            out = np.full(len(self.bars), np.nan)
            with np.errstate(divide="ignore", invalid="ignore"):
                out[period:] = np.where(losses == 0, 100.0, 100 - 100 / (1 + gains / losses))
            self._cache[key] = out
        return self._cache[key]


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
    diff = fast - slow
    # averages equal but for rounding are a tie (no cross), however each library happens to sum them
    diff[np.abs(diff) <= TIE * np.abs(slow)] = 0
    before, now = diff[start - 1 : -1], diff[start:]
    return _events(start, ((before < 0) & (now > 0), CLOSE_AND_BUY), ((before > 0) & (now < 0), CLOSE_AND_SELL))


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
            _rsi_reversion,
        ),
    )
}
