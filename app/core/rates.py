"""The one rule for a rate in a figure: part / whole to 4 places, None when there is nothing to divide."""


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
