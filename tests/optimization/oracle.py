"""backtesting.py strategies, run as the oracle the kernel is checked against.

`SmaCross` is backtesting.py's own example strategy. `RsiReversion` is the app's
`rsi_reversion` written the way a backtesting.py user would: the indicator from
pandas, the decision in `next()` on the last two values."""

import numpy as np
import pandas as pd
from backtesting import Strategy
from backtesting.lib import crossover
from backtesting.test import SMA


class SmaCross(Strategy):
    n1 = 10
    n2 = 20

    def init(self):
        self.sma1 = self.I(SMA, self.data.Close, self.n1)
        self.sma2 = self.I(SMA, self.data.Close, self.n2)

    def next(self):
        if crossover(self.sma1, self.sma2):
            self.position.close()
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()
            self.sell()


def cutler_rsi(close, period: int) -> np.ndarray:
    """Simple averages of gains and losses over `period` bars; 100 where nothing was lost."""
    change = pd.Series(close).diff()
    gains = change.clip(lower=0).rolling(period).mean()
    losses = (-change).clip(lower=0).rolling(period).mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(losses == 0, 100.0, 100 - 100 / (1 + gains / losses))


class RsiReversion(Strategy):
    period = 14
    lower = 30
    upper = 70

    def init(self):
        self.rsi = self.I(cutler_rsi, self.data.Close, self.period)

    def next(self):
        before, now = self.rsi[-2], self.rsi[-1]
        if not self.position and before >= self.lower and now < self.lower:
            self.buy()
        elif before <= self.upper and now > self.upper:
            self.position.close()


ORACLES = {"sma_cross": SmaCross, "rsi_reversion": RsiReversion}


def shipped_datasets() -> dict[str, pd.DataFrame]:
    """The samples backtesting.py ships: daily stock in dollars and cents, hourly FX in
    five decimals, monthly crypto from single dollars to six figures."""
    from backtesting.test import BTCUSD, EURUSD, GOOG

    return {"GOOG": GOOG, "EURUSD": EURUSD, "BTCUSD": BTCUSD}


def random_walk(seed: int, tick: float, start: float, bars: int = 400) -> pd.DataFrame:
    """OHLC prices on a grid of `tick` (cents, pips): averages of such prices are often equal in
    exact arithmetic, so their floating-point rounding decides the crossovers."""
    rng = np.random.default_rng(seed)
    digits = round(-np.log10(tick))
    close = round(start / tick) + np.cumsum(rng.integers(-3, 4, bars))
    close = np.maximum(close, 50)
    opens = np.maximum(np.concatenate([[close[0]], close[:-1]]) + rng.integers(-1, 2, bars), 1)
    high = np.maximum(opens, close) + rng.integers(0, 3, bars)
    low = np.maximum(np.minimum(opens, close) - rng.integers(0, 3, bars), 1)
    frame = {name: np.round(ticks * tick, digits) for name, ticks in (("Open", opens), ("High", high), ("Low", low))}
    frame["Close"] = np.round(close * tick, digits)
    frame["Volume"] = rng.integers(100, 10_000, bars).astype(float)
    return pd.DataFrame(frame, index=pd.date_range("2020-01-01", periods=bars, freq="D"))


def random_walks(seeds, bars: int = 400) -> dict[str, pd.DataFrame]:
    walks = {}
    for seed in seeds:
        walks[f"cents-{seed}"] = random_walk(seed, 0.01, 25.0, bars)
        walks[f"pips-{seed}"] = random_walk(seed, 0.0001, 1.1, bars)
    return walks


def _same_risk(ours: dict, theirs) -> bool:
    drawdown = abs(ours["max_drawdown_pct"] - theirs["Max. Drawdown [%]"]) < 1e-6
    win_rate = ours["win_rate_pct"] is None or abs(ours["win_rate_pct"] - theirs["Win Rate [%]"]) < 1e-9
    return drawdown and win_rate


def compare(frame: pd.DataFrame, strategy: str, points: list[dict], cash: float, commission: float = 0.0) -> dict:
    """The kernel and backtesting.py on every point: how many differ in their trades (entry bar,
    exit bar, size of each), by 0.01 pp or more in `Return [%]`, or in max drawdown or win rate, or
    whose metrics from the batch call (the chunks' path) are not those of the single backtest with
    its trades; the first few of them, and the largest difference in pp."""
    import warnings

    from backtesting import Backtest

    from app.optimization import datasets
    from app.optimization.strategies import STRATEGIES, Indicators

    bars = datasets.parse_csv(frame.to_csv(index_label="Date"))
    indicators = Indicators(bars)
    # the chunks' path: every point's metrics in one kernel call, no equity curve or trades
    kernel = STRATEGIES[strategy]
    batch = kernel.metrics(indicators, kernel.columns(points), cash, commission).dicts()
    reference = Backtest(frame, ORACLES[strategy], cash=cash, commission=commission)
    mismatches, worst = [], 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # open trades at the end, insufficient margin
        for params, batched in zip(points, batch, strict=True):
            result = STRATEGIES[strategy].backtest(indicators, params, cash, commission)
            ours, theirs = result.metrics, reference.run(**params)
            diff = abs(ours["return_pct"] - theirs["Return [%]"])
            worst = max(worst, diff)
            same_trades = [(t.entry_bar, t.exit_bar, t.size) for t in result.trades] == [
                tuple(row) for row in theirs["_trades"][["EntryBar", "ExitBar", "Size"]].itertuples(index=False)
            ]
            if diff >= 0.01 or not same_trades or not _same_risk(ours, theirs) or batched != ours:
                mismatches.append({**params, "trades": [ours["trades"], int(theirs["# Trades"])], "diff_pp": diff})
    return {"points": len(points), "mismatches": len(mismatches), "first": mismatches[:5], "max_diff_pp": worst}
