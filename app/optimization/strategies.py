"""Built-in strategies: each names the kernel's rule it follows and, per grid point,
the indicator series and thresholds the rule reads (backtest.Inputs).

Indicators are cached per dataset (an SMA of 20 bars serves every grid point
that uses it); the kernel compares them bar by bar in compiled code.

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

from app.optimization import backtest
from app.optimization.backtest import BANDS, CROSS, Bars, Inputs, Metrics, Result


class StrategyError(ValueError):
    """Parameters this strategy cannot run with on these bars (the task fails with this message)."""


@dataclass(frozen=True)
class Rows:
    """Each point's rows of `Indicators.table` per column (-1 for a window that does not fit)."""

    columns: list[np.ndarray]
    errors: dict[int, str]  # point -> why it cannot run


class Indicators:
    """Indicator series of one dataset, each computed once, as the rows of one table (the kernel
    reads them there: a batch of points passes row numbers, never copies of the series)."""

    def __init__(self, bars: Bars) -> None:
        self.bars = bars
        self._closes = pd.Series(bars.close)
        self._rows: dict[tuple, int] = {}
        self.table = np.empty((0, len(bars)))  # grows by doubling; a row never changes once written

    def misfit(self, n: int) -> str | None:
        """Why a window of n bars cannot run on these bars, or None."""
        return None if 1 <= n < len(self.bars) else f"A window of {n} bars does not fit {len(self.bars)} bars of data."

    def _row(self, key: tuple, window: int, compute: Callable[[], np.ndarray]) -> int:
        row = self._rows.get(key)
        if row is None:
            why = self.misfit(window)
            if why:
                raise StrategyError(why)
            row = len(self._rows)
            if row == len(self.table):
                grown = np.empty((max(8, 2 * row), len(self.bars)))
                grown[:row] = self.table[:row]
                self.table = grown
            self.table[row] = compute()
            self._rows[key] = row
        return row

    def sma_row(self, n: int) -> int:
        """backtesting.py's `SMA`: pandas' rolling mean of the closes (NaN on the first n - 1 bars)."""
        return self._row(("sma", n), n, lambda: _rolling_mean(self._closes, n))

    def rsi_row(self, period: int) -> int:
        """Cutler's RSI: pandas' rolling means of gains and losses over `period` bars
        (100 where there was no loss; NaN on the first `period` bars)."""

        def compute() -> np.ndarray:
            change = self._closes.diff()
            gains = _rolling_mean(change.clip(lower=0), period)
            losses = _rolling_mean((-change).clip(lower=0), period)
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(losses == 0, 100.0, 100 - 100 / (1 + gains / losses))

        return self._row(("rsi", period), period + 1, compute)

    def sma(self, n: int) -> np.ndarray:
        row = self.sma_row(n)  # first: it may grow the table
        return self.table[row]

    def rsi(self, period: int) -> np.ndarray:
        row = self.rsi_row(period)
        return self.table[row]

    def rows(self, row: Callable[[int], int], *columns: np.ndarray, reach: int = 0) -> Rows:
        """The rows `row` (self.sma_row, self.rsi_row) gives each distinct window of the columns (one
        window per point each); -1 and the reason for the points of a window that does not fit (a
        window w needs w + reach bars)."""
        windows, inverse = np.unique(np.concatenate(columns), return_inverse=True)
        misfits = [self.misfit(w + reach) for w in windows.tolist()]
        numbers = np.array([-1 if why else row(w) for w, why in zip(windows.tolist(), misfits, strict=True)])
        table = numbers[inverse].reshape(len(columns), -1)
        errors = {}
        for point in np.flatnonzero((table < 0).any(axis=0)).tolist():
            column = int(np.argmax(table[:, point] < 0))  # the first window that does not fit
            errors[point] = misfits[int(inverse[column * table.shape[1] + point])]
        return Rows(list(table), errors)


def _rolling_mean(series: pd.Series, n: int) -> np.ndarray:
    return series.rolling(n).mean().to_numpy(dtype=float)


@dataclass(frozen=True)
class Param:
    name: str
    kind: type  # int or float
    minimum: float
    maximum: float
    description: str

    @property
    def dtype(self) -> type:
        """The NumPy type of this parameter's arrays."""
        return np.int64 if self.kind is int else np.float64


@dataclass(frozen=True)
class Strategy:
    name: str
    title: str
    params: tuple[Param, ...]
    constraint: Callable[[dict], bool]
    constraint_text: str
    violation_text: str  # what a skipped point has, for "44,850 skipped (n1 ≥ n2)"
    rule: int  # backtest.CROSS or backtest.BANDS
    # what the rule reads for a batch of points, given as one array per parameter (`columns`)
    inputs: Callable[[Indicators, list[np.ndarray]], Inputs]

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def columns(self, points: list[dict]) -> list[np.ndarray]:
        """Points given as dicts, as one array per parameter (in `params` order), as a batch is given."""
        return [np.array([point[p.name] for point in points], dtype=float).astype(p.dtype) for p in self.params]

    def backtest(self, indicators: Indicators, params: dict, cash: float, commission: float = 0.0) -> Result:
        """One point with its equity curve and trades."""
        inputs = self.inputs(indicators, self.columns([params]))
        if inputs.errors:
            raise StrategyError(inputs.errors[0])
        return backtest.simulate(indicators.bars, self.rule, inputs, cash, commission)

    def metrics(
        self, indicators: Indicators, columns: list[np.ndarray], cash: float, commission: float = 0.0
    ) -> Metrics:
        """The metrics of a batch of points, one array per parameter (`columns`), in one compiled
        call; its `errors` say why a point cannot run."""
        return backtest.metrics(indicators.bars, self.rule, self.inputs(indicators, columns), cash, commission)


def _sma_cross(ind: Indicators, columns: list[np.ndarray]) -> Inputs:
    """backtesting.py's SmaCross: on a cross of the fast SMA over the slow one, close and go long;
    under it, close and go short."""
    n1, n2 = (c.astype(np.int64, copy=False) for c in columns)
    rows = ind.rows(ind.sma_row, n1, n2)
    return Inputs(ind.table, np.maximum(n1, n2), *rows.columns, errors=rows.errors)


def _rsi_reversion(ind: Indicators, columns: list[np.ndarray]) -> Inputs:
    """Long only: buy when RSI falls below `lower` (if flat), close when it rises above `upper`."""
    period, lower, upper = columns
    period = period.astype(np.int64, copy=False)
    rows = ind.rows(ind.rsi_row, period, reach=1)
    return Inputs(
        ind.table,
        period + 1,
        *rows.columns,
        lower=lower.astype(float, copy=False),
        upper=upper.astype(float, copy=False),
        errors=rows.errors,
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
            CROSS,
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
            BANDS,
            _rsi_reversion,
        ),
    )
}
