"""Every job the app enqueues is named by a dotted path (RQ stores only the path):
each one must resolve the way the worker resolves it, with RQ's own import_attribute."""

import ast
from pathlib import Path

from rq.utils import import_attribute

APP = Path(__file__).resolve().parents[2] / "app"


def _is_enqueue(call: ast.Call) -> bool:
    """`jobs.enqueue(...)`, `enqueue(...)`; not RQ's own `Queue(...).enqueue` or an engine slot's."""
    func = call.func
    if isinstance(func, ast.Name):
        return func.id == "enqueue"
    return isinstance(func, ast.Attribute) and func.attr == "enqueue" and ast.unparse(func.value) == "jobs"


def enqueued_paths() -> tuple[list[tuple[str, str]], list[str]]:
    """(where, path) of every enqueue call in app/, and where a call's func is not a string constant."""
    paths, not_constant = [], []
    for source in sorted(APP.rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if not (isinstance(node, ast.Call) and _is_enqueue(node)):
                continue
            where = f"{source.relative_to(APP.parent)}:{node.lineno}"
            func = (
                node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "func"), None)
            )
            if isinstance(func, ast.Constant) and isinstance(func.value, str):
                paths.append((where, func.value))
            else:
                not_constant.append(where)
    return paths, not_constant


def test_every_enqueued_job_path_resolves_with_rq():
    paths, not_constant = enqueued_paths()
    assert not not_constant, f"enqueue() must get the job's dotted path as a string literal: {not_constant}"
    assert len(paths) >= 6  # flows, optimization, queues, items, docsync, eco
    unresolved = []
    for where, path in paths:
        try:
            assert callable(import_attribute(path))
        except (ImportError, AttributeError, ValueError, AssertionError) as exc:
            unresolved.append(f"{where}: {path!r} ({type(exc).__name__}: {exc})")
    assert not unresolved, "\n".join(unresolved)


def test_a_misspelt_path_does_not_resolve():
    for path in ("app.flows.jobs.run_flwo", "app.flows.jbos.run_flow"):
        try:
            import_attribute(path)
        except (ImportError, AttributeError, ValueError):
            continue
        raise AssertionError(f"{path!r} resolved")
