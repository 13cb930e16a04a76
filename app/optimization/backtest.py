"""The backtest kernel: backtesting.py's broker semantics, event by event.

A strategy hands over the bars where it acts and what it does there; the
kernel fills each order at the next bar's open, sizes a new position in whole
units from all available cash (as `Strategy.buy()` does by default), charges
the optional relative commission on entry and exit, and builds the equity
curve with NumPy, one segment per fill. Only the fills are a Python loop, so
a backtest costs a few array operations plus one step per trade.

Semantics kept from backtesting.py 0.6 (the reference in the tests): equity
before the first tradable bar equals the starting cash; an order placed on the
last bar never fills; a position still open at the end is valued at the last
close but not counted as a trade; equity at or below zero closes everything
and ends the run.
"""

import math
import sys
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

# Strategy.buy()'s default size: "all of the available margin", a hair below 1.
FULL_EQUITY = 1 - sys.float_info.epsilon
BARS_PER_YEAR = 252

# What a strategy does at a bar (the order fills at the next bar's open).
CLOSE_AND_BUY = 1  # close any position, then go long with all cash
CLOSE_AND_SELL = -1  # close any position, then go short with all cash
CLOSE = 2  # close any position
BUY_IF_FLAT = 3  # go long with all cash unless a position is open


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
class Signals:
    start: int  # first bar the strategy may act on (its indicators are warm)
    bars: np.ndarray  # increasing bar indices
    actions: np.ndarray  # one of the action codes above per bar


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
    trade_rows: list[tuple]  # Trade fields, kept as plain tuples until someone asks
    wins: int  # trades with a profit after commissions
    start: int

    @property
    def trades(self) -> list[Trade]:
        return [Trade(*row) for row in self.trade_rows]

    def metrics(self) -> dict[str, float | int | None]:
        equity = self.equity
        worst = float((equity / np.maximum.accumulate(equity)).min())  # cash > 0, so the peak is too
        count = len(self.trade_rows)
        live = equity[self.start :]
        with np.errstate(divide="ignore", invalid="ignore"):
            returns = live[1:] / live[:-1] - 1
        spread = float(returns.std()) if len(returns) > 1 else 0.0
        sharpe = float(returns.mean()) / spread * math.sqrt(BARS_PER_YEAR) if spread > 0 else None
        return {
            "return_pct": float((equity[-1] - equity[0]) / equity[0] * 100),
            "sharpe": _finite(sharpe),
            "max_drawdown_pct": -(1 - worst) * 100,
            "trades": count,
            "win_rate_pct": self.wins / count * 100 if count else None,
        }


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def simulate(bars: Bars, signals: Signals, cash: float, commission: float = 0.0) -> Result:
    n, start = len(bars), signals.start
    acting = signals.bars < n - 1  # an order placed on the last bar never fills
    fills = (signals.bars[acting] + 1).tolist()
    fill_opens = bars.open[signals.bars[acting] + 1]
    prices = fill_opens.tolist()
    # what one unit costs with its commission, as backtesting.py's broker works it out for a
    # relative-size order: price + commission of the order / its size (not always price * (1 + c))
    unit_costs = (fill_opens + FULL_EQUITY * fill_opens * commission / FULL_EQUITY).tolist()
    money, size, entry, entry_bar, wins = float(cash), 0, 0.0, -1, 0
    marks, moneys, sizes, entries = [start], [money], [0], [0.0]  # per segment between fills
    trades: list[tuple] = []  # Trade fields
    for fill, price, unit_cost, action in zip(fills, prices, unit_costs, signals.actions[acting].tolist(), strict=True):
        if action == BUY_IF_FLAT and size:
            continue
        if size:
            fee = abs(size) * price * commission
            gain = size * (price - entry)
            money += gain - fee
            fees = fee + abs(size) * entry * commission
            trades.append((entry_bar, fill, size, entry, price, fees))
            wins += gain > fees
            size = 0
        if action != CLOSE:
            units = int(money * FULL_EQUITY // unit_cost)  # margin available = cash when flat
            if units:
                size, entry, entry_bar = (-units if action == CLOSE_AND_SELL else units), price, fill
                money -= units * price * commission
        marks.append(fill)
        moneys.append(money)
        sizes.append(size)
        entries.append(entry)

    lengths = np.diff(np.append(marks, n))
    held = np.repeat(np.asarray(sizes, float), lengths)
    cost = np.repeat(np.asarray(sizes, float) * np.asarray(entries), lengths)
    equity = np.empty(n)
    equity[:start] = cash
    # as backtesting.py's Broker.equity: cash + (close * size - size * entry), the same float operations
    equity[start:] = np.repeat(moneys, lengths) + (bars.close[start:] * held - cost)
    broke = np.flatnonzero(equity[start:] <= 0)
    if len(broke):
        trades = _out_of_money(trades, start + int(broke[0]), equity, bars.close, commission, marks, sizes, entries)
        wins = sum(1 for t in trades if Trade(*t).pnl > 0)
    return Result(equity, trades, wins, start)


def _out_of_money(trades, bar, equity, closes, commission, marks, sizes, entries) -> list[tuple]:
    """As backtesting.py: the open trade closes at this bar's close, equity is 0 from here on."""
    segment = int(np.searchsorted(marks, bar, side="right")) - 1
    kept = [t for t in trades if t[1] <= bar]
    size, entry = sizes[segment], entries[segment]
    if size:
        price = float(closes[bar])
        kept.append((marks[segment], bar, size, entry, price, abs(size) * (price + entry) * commission))
    equity[bar:] = 0
    return kept
