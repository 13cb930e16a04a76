"""OHLCV data: CSV validation with every bad row reported, a canonical form
with its checksum, and a seeded demo series."""

import csv
import hashlib
import io
import math
from datetime import date, datetime

import numpy as np

from app.core.errors import InvalidInput
from app.optimization.backtest import Bars

COLUMNS = ("Date", "Open", "High", "Low", "Close", "Volume")
MIN_ROWS = 3
MAX_ROWS = 200_000
MAX_REPORTED = 50


def _parse_date(text: str) -> str:
    text = text.strip()
    try:
        return (date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)).isoformat()
    except ValueError:
        raise ValueError(f"date {text!r} is not ISO 8601 (YYYY-MM-DD)") from None


def _row(fields: dict[str, str]) -> tuple[str, list[float]]:
    day = _parse_date(fields["Date"] or "")
    values = []
    for name in COLUMNS[1:]:
        raw = (fields[name] or "").strip()
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{name} {raw!r} is not a number") from None
        if not math.isfinite(value) or value < 0 or (value == 0 and name != "Volume"):
            raise ValueError(f"{name} must be positive" + (" or zero" if name == "Volume" else ""))
        values.append(value)
    o, h, lo, c, _ = values
    if h < max(o, c, lo) or lo > min(o, c):
        raise ValueError("High must be the highest and Low the lowest of Open, High, Low, Close")
    return day, values


def parse_csv(text: str) -> Bars:
    """Bars from CSV text with a header naming Date, Open, High, Low, Close, Volume
    (any order and case; other columns are ignored). Raises InvalidInput listing the bad rows."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))  # a lone CR ends a line
    try:
        return _bars(reader)
    except csv.Error as exc:  # e.g. a field over the csv module's size limit
        raise InvalidInput(
            f"Line {reader.line_num} of the CSV file cannot be read: {exc}.", {"line": reader.line_num}
        ) from None


def _bars(reader) -> Bars:
    header = next(reader, None)
    if not header:
        raise InvalidInput("The CSV file is empty.")
    positions = {name.strip().lower(): i for i, name in enumerate(header)}
    missing = [c for c in COLUMNS if c.lower() not in positions]
    if missing:
        raise InvalidInput(f"The CSV header lacks {', '.join(missing)}.", {"missing": missing, "header": header})
    dates: list[str] = []
    rows: list[list[float]] = []
    bad: list[dict] = []
    for line, record in enumerate(reader, start=2):
        if not any(cell.strip() for cell in record):
            continue
        fields = {c: record[positions[c.lower()]] if positions[c.lower()] < len(record) else None for c in COLUMNS}
        try:
            day, values = _row(fields)
            if dates and day <= dates[-1]:
                raise ValueError(f"date {day} does not come after {dates[-1]}")
        except ValueError as exc:
            bad.append({"line": line, "message": str(exc)})
            continue
        dates.append(day)
        rows.append(values)
        if len(rows) > MAX_ROWS:
            raise InvalidInput(f"The CSV file has more than {MAX_ROWS} rows.")
    if bad:
        raise InvalidInput(
            f"{len(bad)} row(s) of the CSV file are invalid; nothing was saved.",
            {"bad_rows": bad[:MAX_REPORTED], "bad_row_count": len(bad)},
        )
    if len(rows) < MIN_ROWS:
        raise InvalidInput(f"The CSV file needs at least {MIN_ROWS} data rows; it has {len(rows)}.")
    table = np.asarray(rows, dtype=float)
    return Bars(dates, *(np.ascontiguousarray(table[:, i]) for i in range(5)))


def to_csv(bars: Bars) -> str:
    """The canonical text of a dataset (repr floats round-trip exactly)."""
    out = io.StringIO()
    out.write(",".join(COLUMNS) + "\n")
    columns = (bars.open.tolist(), bars.high.tolist(), bars.low.tolist(), bars.close.tolist(), bars.volume.tolist())
    for day, *values in zip(bars.dates, *columns, strict=True):
        out.write(",".join([day, *map(repr, values)]) + "\n")
    return out.getvalue()


def from_canonical(canonical_csv: str) -> Bars:
    """Bars from text `to_csv()` wrote (already validated): NumPy reads it in one go, for the jobs."""
    lines = canonical_csv.splitlines()[1:]
    dates, values = zip(*(line.split(",", 1) for line in lines), strict=True)
    table = np.array(",".join(values).split(","), dtype=float).reshape(len(lines), 5)
    return Bars(list(dates), *(np.ascontiguousarray(table[:, i]) for i in range(5)))


def checksum(canonical_csv: str) -> str:
    return hashlib.sha256(canonical_csv.encode()).hexdigest()


def demo_series(n: int = 1500, seed: int = 7) -> Bars:
    """A seeded random walk with regimes, so crossovers and RSI swings both happen."""
    rng = np.random.default_rng(seed)
    drift = np.repeat(rng.normal(0.0004, 0.0015, n // 100 + 1), 100)[:n]
    close = 100 * np.exp(np.cumsum(drift + rng.normal(0, 0.015, n)))
    opens = np.concatenate([[close[0]], close[:-1]]) * np.exp(rng.normal(0, 0.004, n))
    high = np.maximum(opens, close) * (1 + np.abs(rng.normal(0, 0.006, n)))
    low = np.minimum(opens, close) * (1 - np.abs(rng.normal(0, 0.006, n)))
    volume = rng.integers(500_000, 5_000_000, n).astype(float)
    days = np.datetime64("2019-01-01") + np.arange(n)
    rounded = [np.round(a, 2) for a in (opens, high, low, close)]
    rounded[1] = np.maximum.reduce(rounded)  # rounding must not break High >= Open, Close
    rounded[2] = np.minimum.reduce(rounded)
    return Bars([str(d) for d in days], *rounded, volume)
