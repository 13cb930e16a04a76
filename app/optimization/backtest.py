"""The backtest kernel: backtesting.py's broker semantics, compiled with numba.

One compiled loop per grid point walks the bars: it fills the order decided on the
previous bar at this bar's open, values the position at the close, tracks the
drawdown, and decides on this bar with the strategy's rule (a crossover of two
indicator series, or a series crossing two thresholds), with the strict float
comparisons of backtesting.py. The indicator series themselves are pandas'
(strategies.Indicators, bit for bit the reference's) and only read here. A batch of
points of one strategy runs in one call and returns a table of metrics; a point whose
equity curve and trades are wanted (a Top-N result, a test) runs the same loop with
output arrays, so the two cannot drift.

Orders fill at the next bar's open; a new position takes all available cash in whole
units (as `Strategy.buy()` does by default); the optional relative commission is
charged on entry and on exit. Kept from backtesting.py 0.6 (the reference in the
tests): equity before the first tradable bar equals the starting cash; an order
placed on the last bar never fills; a position still open at the end is valued at
the last close but not counted as a trade; equity at or below zero closes the
position at that bar's close and ends the run.

No fastmath: every float operation is the one the reference (and NumPy, for the
Sharpe ratio's mean and standard deviation) performs, in the same order.
"""

import math
import sys
from dataclasses import dataclass, field
from typing import NamedTuple

import numba
import numpy as np

# Strategy.buy()'s default size: "all of the available margin", a hair below 1.
FULL_EQUITY = 1 - sys.float_info.epsilon
BARS_PER_YEAR = 252
SQRT_BARS_PER_YEAR = math.sqrt(BARS_PER_YEAR)

# The rules a strategy's signals follow (Inputs says on which series and thresholds).
CROSS = 0  # x crosses over y: close and go long; y crosses over x: close and go short
BANDS = 1  # x rises above `upper`: close; x falls below `lower`: go long unless a position is open

# What the rule decided at a bar (the order fills at the next bar's open).
_NOTHING, _CLOSE_AND_BUY, _CLOSE_AND_SELL, _CLOSE, _BUY_IF_FLAT = 0, 1, 2, 3, 4
# columns of the metrics table and of the trades table
RETURN_PCT, SHARPE, MAX_DRAWDOWN_PCT, TRADES, WIN_RATE_PCT = range(5)
_TRADE_COLUMNS = 6  # entry bar, exit bar, size, entry price, exit price, commission


@dataclass(frozen=True)
class Bars:
    dates: list[str]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.close)


@dataclass(frozen=True)
class Inputs:
    """What the rule reads, for a batch of grid points of one strategy: per point its first bar
    (where its indicators are warm), the rows of `series` it compares and its thresholds."""

    series: np.ndarray  # indicator series, a row each (one value per bar)
    start: np.ndarray
    x: np.ndarray  # row of `series`; -1: the point cannot run (see errors)
    y: np.ndarray | None = None  # CROSS: the series x crosses
    lower: np.ndarray | None = None  # BANDS: the thresholds
    upper: np.ndarray | None = None
    errors: dict[int, str] = field(default_factory=dict)  # point -> why it cannot run


class Trade(NamedTuple):
    entry_bar: int
    exit_bar: int
    size: int  # negative when short
    entry_price: float
    exit_price: float
    commission: float  # entry and exit together

    @property
    def pnl(self) -> float:
        return self.size * (self.exit_price - self.entry_price) - self.commission

    @property
    def return_pct(self) -> float:
        gross = math.copysign(1, self.size) * (self.exit_price / self.entry_price - 1)
        return (gross - self.commission / (abs(self.size) * self.entry_price)) * 100


@dataclass(frozen=True)
class Result:
    equity: np.ndarray
    trades: list[Trade]
    metrics: dict[str, float | int | None]


def _compiled(function):
    """njit without fastmath and with NumPy's float error model (0/0 is NaN, as in the arrays the
    reference computes), cached on disk where numba finds a writable place (the package's
    __pycache__, else the user's cache directory, or NUMBA_CACHE_DIR), so a process loads the
    machine code instead of compiling it; where there is none (a read-only install without a
    home), each process compiles once."""
    try:
        return numba.njit(cache=True, error_model="numpy")(function)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        return numba.njit(error_model="numpy")(function)


@_compiled
def _block_sum(values, first, count):
    """NumPy's sum of at most 128 floats: eight accumulators, then the rest one by one."""
    if count < 8:
        total = 0.0
        for i in range(first, first + count):
            total += values[i]
        return total
    r0, r1, r2, r3 = values[first], values[first + 1], values[first + 2], values[first + 3]
    r4, r5, r6, r7 = values[first + 4], values[first + 5], values[first + 6], values[first + 7]
    i = first + 8
    blocks_end = first + count - count % 8
    while i < blocks_end:
        r0 += values[i]
        r1 += values[i + 1]
        r2 += values[i + 2]
        r3 += values[i + 3]
        r4 += values[i + 4]
        r5 += values[i + 5]
        r6 += values[i + 6]
        r7 += values[i + 7]
        i += 8
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < first + count:
        total += values[i]
        i += 1
    return total


@_compiled
def _pairwise_sum(values, count):
    """NumPy's float sum of values[:count] (`ndarray.sum()`, so the mean and standard deviation
    are bit for bit `ndarray.mean()` and `ndarray.std()`): halves (cut at a multiple of 8) summed
    apart, down to blocks of at most 128. NumPy recurses; this walks the same tree with a stack
    (numba's on-disk cache cannot hold a recursive function)."""
    firsts, counts, stage = np.empty(64, np.int64), np.empty(64, np.int64), np.empty(64, np.int64)
    sums = np.empty(64)
    depth, summed = 1, 0
    firsts[0], counts[0], stage[0] = 0, count, 0
    while depth:
        top = depth - 1
        first, size = firsts[top], counts[top]
        if size <= 128:
            sums[summed] = _block_sum(values, first, size)
            summed += 1
            depth -= 1
            continue
        half = size // 2
        half -= half % 8
        if stage[top] < 2:  # push the left half, then the right one
            firsts[depth] = first + half * stage[top]
            counts[depth] = size - half if stage[top] else half
            stage[depth] = 0
            stage[top] += 1
            depth += 1
        else:  # both halves summed: their sum replaces them
            summed -= 1
            sums[summed - 1] = sums[summed - 1] + sums[summed]
            depth -= 1
    return 0.0 + sums[0]  # NumPy's reduction starts from its identity, 0.0


@_compiled
def _sharpe(live, count):
    """Mean over standard deviation of the per-bar returns of live[:count] (overwritten), annualised;
    NaN where NumPy's would be undefined or zero."""
    if count < 3:  # fewer than two returns
        return np.nan
    returns = count - 1
    for i in range(returns):  # in place: live[i] is read before it is overwritten, live[i + 1] after
        live[i] = live[i + 1] / live[i] - 1
    mean = _pairwise_sum(live, returns) / returns
    for i in range(returns):
        deviation = live[i] - mean
        live[i] = deviation * deviation
    spread = math.sqrt(_pairwise_sum(live, returns) / returns)
    if not spread > 0:
        return np.nan
    return mean / spread * SQRT_BARS_PER_YEAR


@_compiled
def _record(trades, count, entry_bar, exit_bar, size, entry_price, exit_price, commission):
    row = trades[count]
    row[0], row[1], row[2], row[3], row[4], row[5] = entry_bar, exit_bar, size, entry_price, exit_price, commission


@_compiled
def _fill(order, price, money, size, entry, entry_bar, count, wins, commission, bar, trades, emit):
    """The order decided on the bar before, filled at this bar's open `price`: close the position
    (a trade), then open the new one with all cash. Returns the new state."""
    if size != 0:
        fee = abs(size) * price * commission
        gain = size * (price - entry)
        money += gain - fee
        fees = fee + abs(size) * entry * commission
        if emit:
            _record(trades, count, entry_bar, bar, size, entry, price, fees)
        count += 1
        wins += gain > fees
        size = 0.0
    if order != _CLOSE:
        # what one unit costs with its commission, as backtesting.py's broker works it out for a
        # relative-size order: price + commission of the order / its size (not always price * (1 + c));
        # // is Python's float floor division (numba's follows CPython's float_divmod)
        unit_cost = price + FULL_EQUITY * price * commission / FULL_EQUITY
        units = money * FULL_EQUITY // unit_cost
        if units != 0:
            size, entry, entry_bar = (-units if order == _CLOSE_AND_SELL else units), price, bar
            money -= units * price * commission
    return money, size, entry, entry_bar, count, wins


# one function for the whole loop: numba does not inline a call to another compiled function, and
# the rule as a function called per bar tripled the time of a backtest
@_compiled
def _backtest(rule, x, y, lower, upper, start, opens, closes, cash, commission, live, equity, trades, out):  # noqa: C901
    """One grid point: its metrics into `out`; with `equity` of one slot per bar, also its equity
    curve and its trades (rows of `trades`). `live` is scratch space of one slot per bar."""
    n = len(closes)
    emit = len(equity) > 0
    money, size, entry, entry_bar, count, wins = cash, 0.0, 0.0, -1, 0, 0
    # the drawdown, min(equity / running peak), without a division per bar: while the peak stays,
    # the smallest ratio is the smallest value over it (division is monotonic), worked out when it moves
    peak, trough, worst = cash, cash, 1.0
    order, last, broke = _NOTHING, cash, -1
    if emit:
        equity[:start] = cash
    for i in range(start, n):
        if order != _NOTHING and not (order == _BUY_IF_FLAT and size != 0):
            money, size, entry, entry_bar, count, wins = _fill(
                order, opens[i], money, size, entry, entry_bar, count, wins, commission, i, trades, emit
            )
        # as backtesting.py's Broker.equity: cash + (close * size - size * entry), the same float operations
        value = money + (closes[i] * size - size * entry)
        if value <= 0:
            broke = i
            break
        live[i - start] = last = value
        if emit:
            equity[i] = value
        if value > peak:
            worst = min(worst, trough / peak)
            peak = trough = value
        elif value < trough:
            trough = value
        # the rule, on this bar's and the previous bar's values (an order on the last bar never fills)
        order = _NOTHING
        if rule == CROSS:  # backtesting.lib.crossover(a, b): a[-2] < b[-2] and a[-1] > b[-1]
            if x[i - 1] < y[i - 1] and x[i] > y[i]:
                order = _CLOSE_AND_BUY
            elif y[i - 1] < x[i - 1] and y[i] > x[i]:
                order = _CLOSE_AND_SELL
        elif x[i - 1] <= upper and x[i] > upper:
            order = _CLOSE
        elif x[i - 1] >= lower and x[i] < lower:
            order = _BUY_IF_FLAT
    worst = min(worst, trough / peak)
    if broke >= 0:
        count, wins = _out_of_money(broke, size, entry, entry_bar, count, wins, closes, commission, trades, emit)
        live[broke - start : n - start] = 0.0
        if emit:
            equity[broke:] = 0.0
        worst, last = 0.0, 0.0
    out[RETURN_PCT] = (last - cash) / cash * 100
    out[SHARPE] = _sharpe(live, n - start)
    out[MAX_DRAWDOWN_PCT] = -(1 - worst) * 100
    out[TRADES] = count
    out[WIN_RATE_PCT] = wins / count * 100 if count else np.nan


@_compiled
def _out_of_money(bar, size, entry, entry_bar, count, wins, closes, commission, trades, emit):
    """As backtesting.py: the open trade closes at this bar's close (equity is 0 from here on)."""
    if size != 0:
        price = closes[bar]
        fees = abs(size) * (price + entry) * commission
        if emit:
            _record(trades, count, entry_bar, bar, size, entry, price, fees)
        count += 1
        wins += size * (price - entry) - fees > 0
    return count, wins


@_compiled
def _batch(rule, series, xs, ys, lowers, uppers, starts, opens, closes, cash, commission, equity, trades, out):
    live = np.empty(len(closes))
    for p in range(len(starts)):
        if xs[p] < 0 or ys[p] < 0:
            continue
        _backtest(
            rule,
            series[xs[p]],
            series[ys[p]],
            lowers[p],
            uppers[p],
            starts[p],
            opens,
            closes,
            cash,
            commission,
            live,
            equity,
            trades,
            out[p],
        )


def _run(bars: Bars, rule: int, inputs: Inputs, cash: float, commission: float, equity, trades) -> np.ndarray:
    count = len(inputs.start)
    no_thresholds = np.zeros(count)
    out = np.empty((count, 5))
    _batch(
        rule,
        inputs.series,
        inputs.x.astype(np.int64),
        (inputs.x if inputs.y is None else inputs.y).astype(np.int64),
        no_thresholds if inputs.lower is None else inputs.lower.astype(float),
        no_thresholds if inputs.upper is None else inputs.upper.astype(float),
        inputs.start.astype(np.int64),
        bars.open,
        bars.close,
        float(cash),
        float(commission),
        equity,
        trades,
        out,
    )
    return out


def _metrics(table: np.ndarray) -> list[dict[str, float | int | None]]:
    """The rows of a metrics table as dicts: NaN (undefined) is None."""
    trades = table[:, TRADES].astype(np.int64).tolist()
    returns, sharpes, drawdowns, _, win_rates = table.T.tolist()
    return [
        {
            "return_pct": r,
            "sharpe": s if -math.inf < s < math.inf else None,
            "max_drawdown_pct": d,
            "trades": t,
            "win_rate_pct": w if w == w else None,
        }
        for r, s, d, t, w in zip(returns, sharpes, drawdowns, trades, win_rates, strict=True)
    ]


@dataclass(frozen=True)
class Metrics:
    """The metrics of a batch of points: a row each in `table` (columns RETURN_PCT ... WIN_RATE_PCT;
    the Sharpe ratio is ±inf or NaN where undefined, the win rate NaN without trades), and why the
    points in `errors` could not run (their rows mean nothing)."""

    table: np.ndarray
    errors: dict[int, str]

    def __len__(self) -> int:
        return len(self.table)

    def dicts(self) -> list[dict[str, float | int | None] | None]:
        """A dict per point (None for a point that could not run), undefined values None."""
        rows: list = _metrics(self.table)
        for point in self.errors:
            rows[point] = None
        return rows


_NO_EQUITY, _NO_TRADES = np.empty(0), np.empty((0, _TRADE_COLUMNS))


def metrics(bars: Bars, rule: int, inputs: Inputs, cash: float, commission: float = 0.0) -> Metrics:
    """The metrics of every point in one compiled call."""
    return Metrics(_run(bars, rule, inputs, cash, commission, _NO_EQUITY, _NO_TRADES), inputs.errors)


def simulate(bars: Bars, rule: int, inputs: Inputs, cash: float, commission: float = 0.0) -> Result:
    """The first point of `inputs` with its equity curve (one value per bar) and trade list."""
    equity, trades = np.empty(len(bars)), np.empty((len(bars) + 1, _TRADE_COLUMNS))
    (metrics,) = _metrics(_run(bars, rule, inputs, cash, commission, equity, trades)[:1])
    return Result(
        equity,
        [Trade(int(a), int(b), int(size), *prices) for a, b, size, *prices in trades[: metrics["trades"]].tolist()],
        metrics,
    )
