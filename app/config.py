"""Settings from the environment, with defaults that run embedded (SQLite, local Redis)."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION = "0.1.0"

QUEUE_NAMES = ("sync", "actions", "exports", "optimize", "flows", "default")


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.lower() in ("1", "true", "yes", "on")


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        instance = ROOT / "instance"
        instance.mkdir(exist_ok=True)
        return f"sqlite:///{instance / 'forgeline.db'}"
    # Heroku-style URLs name the driver "postgres"; SQLAlchemy wants psycopg 3 spelled out.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Config:
    """Read once per app; tests pass overrides to create_app()."""

    def __init__(self) -> None:
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or _dev_secret_key()
        self.SQLALCHEMY_DATABASE_URI = _database_url()
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        self.REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
        self.RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", self.REDIS_URL)
        self.LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute")
        self.METRICS_TOKEN = os.environ.get("METRICS_TOKEN") or None
        # a BOM delta export over this many lines (both sides) is made by a background job
        self.BOM_EXPORT_SYNC_MAX_LINES = int(os.environ.get("BOM_EXPORT_SYNC_MAX_LINES", "5000"))
        self.ECO_TYPES = os.environ.get("ECO_TYPES") or None  # JSON: ECO type -> stages (app/eco/stages.py)
        self.WORKFLOW_RETRY_BACKOFF = float(os.environ.get("WORKFLOW_RETRY_BACKOFF", "0.2"))  # seconds, doubled per retry
        self.JOB_HISTORY_RETENTION_DAYS = int(os.environ.get("JOB_HISTORY_RETENTION_DAYS", "90"))
        self.SOCK_SERVER_OPTIONS = {"ping_interval": 25}
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
        self.WTF_CSRF_TIME_LIMIT = None
        self.TESTING = False


def _dev_secret_key() -> str:
    """A random key kept under instance/, so sessions survive restarts of a dev install."""
    path = ROOT / "instance" / "secret_key"
    path.parent.mkdir(exist_ok=True)
    if not path.exists():
        path.write_text(os.urandom(32).hex())
        path.chmod(0o600)
    return path.read_text().strip()
