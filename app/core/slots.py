"""Render slots: at most WEB_RENDER_SLOTS requests of one web process run the app at a time; the
others wait for a slot, asleep. A page is CPU-bound Python under the process's one GIL and holds a
database connection, so fifty heavy loads at once would leave `/health` (and every light page) a
fiftieth of a core and no free connection in the pool. `/health`, `/metrics`, the WebSocket (which
holds its request for as long as it is open) and static files take no slot (docs/operations.md,
"Sizing the web tier")."""

import threading

from flask import Flask, g, request

FREE_BLUEPRINTS = ("metrics", "live")
FREE_ENDPOINTS = ("core.health", "static")


def _takes_slot() -> bool:
    return request.endpoint not in FREE_ENDPOINTS and request.blueprint not in FREE_BLUEPRINTS


def init_app(app: Flask) -> None:
    slots = app.extensions["render_slots"] = threading.BoundedSemaphore(app.config["WEB_RENDER_SLOTS"])

    @app.before_request
    def take_slot() -> None:
        if _takes_slot():
            slots.acquire()
            g.render_slot = True

    @app.teardown_request
    def give_slot(_exc: BaseException | None) -> None:
        if g.pop("render_slot", False):
            slots.release()
