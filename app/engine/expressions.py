"""Safe expressions on data (simpleeval, never eval): `value * 2`,
`item["qty"] > 10`, `status == "scrap"`. An item is `item`; a dict item's
keys are also names of their own."""

from typing import Any

from simpleeval import DEFAULT_FUNCTIONS, EvalWithCompoundTypes, InvalidExpression

FUNCTIONS = {
    **DEFAULT_FUNCTIONS,
    "len": len,
    "abs": abs,
    "min": min,
    "max": max,
    "round": round,
    "sum": sum,
    "lower": str.lower,
    "upper": str.upper,
}


class ExpressionError(ValueError):
    pass


class Expression:
    """Parsed once, evaluated many times; not shared between threads."""

    def __init__(self, source: str) -> None:
        if not isinstance(source, str) or not source.strip():
            raise ExpressionError("an expression must be a non-empty string")
        self.source = source
        self._evaluator = EvalWithCompoundTypes(functions=FUNCTIONS)
        try:
            self._parsed = self._evaluator.parse(source)
        except (SyntaxError, InvalidExpression) as exc:
            raise ExpressionError(f"invalid expression {source!r}: {exc}") from None

    def __call__(self, item: Any) -> Any:
        names = dict(item) if isinstance(item, dict) else {}
        names["item"] = item
        self._evaluator.names = names
        try:
            return self._evaluator.eval(self.source, previously_parsed=self._parsed)
        except InvalidExpression as exc:
            raise ExpressionError(f"{self.source!r}: {exc}") from None

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"
