"""Names in Redis. Every key and pub/sub channel the app names itself starts with the
deployment's namespace (`REDIS_NAMESPACE`, "forgeline" by default), so two deployments
sharing one Redis server never read each other's keys or events: pub/sub ignores the
database number, so a separate `/1` in `REDIS_URL` is not enough. RQ's own keys are RQ's
(`rq:...`); see docs/operations.md."""

from flask import current_app


def namespace() -> str:
    return current_app.config["REDIS_NAMESPACE"]


def key(*parts: object) -> str:
    """`<namespace>:<part>:<part>...`"""
    return ":".join((namespace(), *(str(part) for part in parts)))
