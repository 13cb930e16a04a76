"""Writing rows as text files: CSV (a cell a spreadsheet would run as a formula gets a leading
quote) and Markdown tables. The exports of every capability (breakages, the ops overview) write
their rows through these; reading an uploaded CSV is app/core/csvrows.py."""

import csv
import io
from collections.abc import Iterable, Sequence


def to_csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()


def safe_cell(value: str) -> str:
    """A cell a spreadsheet would run as a formula gets a leading quote."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_markdown(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table; a row shorter than the header is padded with empty cells."""

    def cell(value: str) -> str:
        return value.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        padded = list(row) + [""] * (len(header) - len(row))
        lines.append("| " + " | ".join(cell(v) for v in padded) + " |")
    return "\n".join(lines) + "\n"
