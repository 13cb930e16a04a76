"""Big pages under load (issue 14 point 8), not part of `make test`:

    PYTHONPATH=. .venv/bin/python tests/perf/bench_big_pages.py

Starts an instance of its own (tests/liveserver.py: gunicorn as app/gunicorn_conf.py sizes it,
`WEB_PROCESSES` to override), inserts a 10,000-line BOM and a 100,000-task optimization, then prints
one JSON line: each page's HTML size and load time (alone), then 50 concurrent loads of those pages
(p50/p95/max) and `/health` latency meanwhile."""

import json
import re
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from sqlalchemy import create_engine, select

from app.core.auth.models import User
from tests.bigdata import big_bom, big_optimization
from tests.liveserver import running_instance

CONCURRENT = 50


def signed_in(url: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', session.get(f"{url}/login").text).group(1)
    session.post(f"{url}/login", data={"csrf_token": token, "username": username, "password": password})
    return session


def timed(session: requests.Session, url: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = session.get(url, timeout=120)
    response.raise_for_status()
    return time.perf_counter() - started, len(response.content)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> None:
    with tempfile.TemporaryDirectory() as base, running_instance(Path(base)) as server:
        engine = create_engine(server.database_url)
        with engine.begin() as connection:
            admin_id = connection.scalar(select(User.id).where(User.username == server.admin.username))
            item_id, bom_id = big_bom(connection)
            optimization_id = big_optimization(connection, admin_id)
        engine.dispose()
        pages = {
            "bom": f"{server.url}/items/{item_id}",
            "bom_more_rows": f"{server.url}/items/boms/{bom_id}/lines/rows?page=2",
            "optimization": f"{server.url}/optimizations/{optimization_id}",
            "optimization_heatmap": f"{server.url}/optimizations/{optimization_id}/panel/heatmap",
        }
        session = signed_in(server.url, *server.admin)
        alone = {}
        for name, url in pages.items():
            timed(session, url)  # warm
            seconds, size = min(timed(session, url) for _ in range(3))
            alone[name] = {"bytes": size, "seconds": round(seconds, 3)}

        stop, health = threading.Event(), []

        def probe() -> None:
            while not stop.is_set():
                health.append(timed(requests.Session(), f"{server.url}/health")[0])
                time.sleep(0.1)

        heavy = [pages["bom"], pages["optimization"], pages["optimization_heatmap"]]
        prober = threading.Thread(target=probe)
        prober.start()
        started = time.perf_counter()
        with ThreadPoolExecutor(CONCURRENT) as pool:
            loads = [s for s, _ in pool.map(lambda i: timed(session, heavy[i % len(heavy)]), range(CONCURRENT))]
        wall = time.perf_counter() - started
        stop.set()
        prober.join()
        print(
            json.dumps(
                {
                    "pages": alone,
                    "concurrent": {
                        "loads": CONCURRENT,
                        "wall_seconds": round(wall, 2),
                        "p50": round(statistics.median(loads), 3),
                        "p95": round(percentile(loads, 0.95), 3),
                        "max": round(max(loads), 3),
                    },
                    "health_meanwhile": {
                        "samples": len(health),
                        "p50": round(statistics.median(health), 3),
                        "max": round(max(health), 3),
                    },
                }
            )
        )


if __name__ == "__main__":
    sys.exit(main())
