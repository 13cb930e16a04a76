"""Settings from the environment, with defaults that run embedded (SQLite, local Redis)."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION = "0.1.0"
PROXY_FIX_HEADERS = ("for", "proto", "host", "port", "prefix")  # X-Forwarded-<header>, werkzeug's ProxyFix


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.lower() in ("1", "true", "yes", "on")


def _hosts(name: str) -> list[str]:
    """A comma-separated list of host names or IP literals ([::1] or ::1), lower case."""
    return [h.strip().strip("[]").lower() for h in os.environ.get(name, "").split(",") if h.strip()]


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        instance = ROOT / "instance"
        instance.mkdir(exist_ok=True)
        return f"sqlite:///{instance / 'forgeline.db'}"
    # Heroku-style URLs name the driver "postgres"; SQLAlchemy wants psycopg 3 spelled out.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Config:
    """Read once per app; tests pass overrides to create_app()."""

    def __init__(self) -> None:
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or _dev_key("secret_key", lambda: os.urandom(32).hex())
        # Fernet key for secrets stored in the database (app.core.secrets)
        self.SECRETS_KEY = os.environ.get("SECRETS_KEY") or _dev_key("secrets_key", _fernet_key)
        self.SQLALCHEMY_DATABASE_URI = _database_url()
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        self.REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
        # the prefix of every Redis key and pub/sub channel the app names (app/core/rediskeys.py)
        self.REDIS_NAMESPACE = os.environ.get("REDIS_NAMESPACE", "").strip() or "forgeline"
        # a worker silent this long is gone: it leaves the list, its job counts as abandoned (app/core/jobs/worker.py)
        self.WORKER_TTL = int(os.environ.get("WORKER_TTL", "30"))
        self.SWEEP_SECONDS = int(os.environ.get("SWEEP_SECONDS", "30"))  # between sweeps (app/core/jobs/sweeper.py)
        self.RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", self.REDIS_URL)
        self.RATELIMIT_KEY_PREFIX = self.REDIS_NAMESPACE
        # failed sign-ins (Flask-Limiter syntax): per account tried, and per client address
        self.LOGIN_ACCOUNT_RATE_LIMIT = os.environ.get("LOGIN_ACCOUNT_RATE_LIMIT", "10 per 15 minutes")
        self.LOGIN_ADDRESS_RATE_LIMIT = os.environ.get("LOGIN_ADDRESS_RATE_LIMIT", "50 per 15 minutes")
        # werkzeug ProxyFix: how many proxies in front set each X-Forwarded-* header (0 = trust none)
        for header in PROXY_FIX_HEADERS:
            setattr(self, f"PROXY_FIX_X_{header.upper()}", int(os.environ.get(f"PROXY_FIX_X_{header.upper()}", "0")))
        # a used one-time form token (app/core/forms.py) is kept this long, so a late resubmit is still caught
        self.FORM_TOKEN_TTL_HOURS = float(os.environ.get("FORM_TOKEN_TTL_HOURS", "24"))
        self.METRICS_TOKEN = os.environ.get("METRICS_TOKEN") or None
        # requests of one web process that run at once (app/core/slots.py); the rest wait their turn
        self.WEB_RENDER_SLOTS = max(1, int(os.environ.get("WEB_RENDER_SLOTS", "2")))
        # a BOM delta export over this many lines (both sides) is made by a background job
        self.BOM_EXPORT_SYNC_MAX_LINES = int(os.environ.get("BOM_EXPORT_SYNC_MAX_LINES", "5000"))
        self.ECO_TYPES = os.environ.get("ECO_TYPES") or None  # JSON: ECO type -> stages (app/eco/stages.py)
        self.WORKFLOW_RETRY_BACKOFF = float(
            os.environ.get("WORKFLOW_RETRY_BACKOFF", "0.2")
        )  # seconds, doubled per retry
        self.JOB_HISTORY_RETENTION_DAYS = int(os.environ.get("JOB_HISTORY_RETENTION_DAYS", "90"))
        self.SOCK_SERVER_OPTIONS = {"ping_interval": 25}
        # origins besides the request's own host that may open /ws (e.g. "https://forgeline.example.com")
        self.LIVE_ALLOWED_ORIGINS = [
            o.strip().rstrip("/").lower() for o in os.environ.get("LIVE_ALLOWED_ORIGINS", "").split(",") if o.strip()
        ]
        # werkzeug's password hash method; the default (scrypt) costs ~0.15 s per sign-in by design
        self.PASSWORD_HASH_METHOD = os.environ.get("PASSWORD_HASH_METHOD", "scrypt")
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
        self.WTF_CSRF_TIME_LIMIT = None
        self.TESTING = False
        # documents (app.docsync): content-addressed file store; the database holds metadata only
        self.DOCUMENT_STORE = os.environ.get("DOCUMENT_STORE") or str(ROOT / "instance" / "documents")
        self.DOCUMENT_MAX_BYTES = int(os.environ.get("DOCUMENT_MAX_BYTES", str(100 * 1024 * 1024)))
        # work-order document packs (app/workorders/packs.py): a pack file no pack asked for within
        # this many hours is deleted by the sweeper (exporting again writes it anew)
        self.WORKORDER_PACK_RETENTION_HOURS = float(os.environ.get("WORKORDER_PACK_RETENTION_HOURS", "168"))
        # the largest glTF model the overlays read (a 3D model is also a document version)
        self.OVERLAY_MODEL_MAX_BYTES = int(os.environ.get("OVERLAY_MODEL_MAX_BYTES", str(50 * 1024 * 1024)))
        # how long a component lookup stays cached (overlay writes drop it at once; item, ECO and
        # incident changes show within this time)
        self.OVERLAY_CACHE_SECONDS = int(os.environ.get("OVERLAY_CACHE_SECONDS", "60"))
        self.SITE_NAME = os.environ.get("SITE_NAME", "forgeline")  # recorded as the origin of versions it sends
        # outbound HTTP (app.core.outbound): public addresses only, except hosts named here; private
        # ranges (not loopback/link-local) too with OUTBOUND_ALLOW_PRIVATE
        self.OUTBOUND_ALLOWED_HOSTS = _hosts("OUTBOUND_ALLOWED_HOSTS")
        self.OUTBOUND_ALLOW_PRIVATE = _bool("OUTBOUND_ALLOW_PRIVATE", False)
        # remote sites: empty allow-list = any host the outbound rules allow; a host on it may be
        # private; timeouts in seconds; breaker opens after N failures
        self.DOCSYNC_ALLOWED_HOSTS = _hosts("DOCSYNC_ALLOWED_HOSTS")
        self.DOCSYNC_HEALTH_TIMEOUT = float(os.environ.get("DOCSYNC_HEALTH_TIMEOUT", "3"))
        self.DOCSYNC_HTTP_TIMEOUT = float(os.environ.get("DOCSYNC_HTTP_TIMEOUT", "30"))
        self.DOCSYNC_BREAKER_THRESHOLD = int(os.environ.get("DOCSYNC_BREAKER_THRESHOLD", "3"))
        self.DOCSYNC_BREAKER_COOLDOWN = float(os.environ.get("DOCSYNC_BREAKER_COOLDOWN", "60"))
        self.DOCSYNC_RETRY_DELAYS = [float(d) for d in os.environ.get("DOCSYNC_RETRY_DELAYS", "0.5,2").split(",")]
        # whole-job retries by RQ (one per delay, whole seconds): 0 enqueues again at once, a delay waits
        # for RQ's scheduler (whose lock a killed worker holds for a minute)
        self.DOCSYNC_JOB_RETRY_DELAYS = [int(d) for d in os.environ.get("DOCSYNC_JOB_RETRY_DELAYS", "5,30").split(",")]
        # consumption (app/consumption): variance within ±this fraction is on target; inbox retries wait
        # CONSUMPTION_RETRY_SECONDS doubled per attempt; a batch body over CONSUMPTION_INBOX_MAX_BYTES is refused (413)
        self.CONSUMPTION_TOLERANCE = float(os.environ.get("CONSUMPTION_TOLERANCE", "0.05"))
        self.CONSUMPTION_RETRY_SECONDS = float(os.environ.get("CONSUMPTION_RETRY_SECONDS", "5"))
        self.CONSUMPTION_INBOX_MAX_BYTES = int(os.environ.get("CONSUMPTION_INBOX_MAX_BYTES", str(8 * 1024 * 1024)))
        # the breakages helpdesk (app.breakages.helpdesk): allow-list as for remote sites; RQ Retry
        # intervals (seconds) for transient failures; the breaker; the webhook's timestamp tolerance
        self.HELPDESK_ALLOWED_HOSTS = _hosts("HELPDESK_ALLOWED_HOSTS")
        self.HELPDESK_HTTP_TIMEOUT = float(os.environ.get("HELPDESK_HTTP_TIMEOUT", "10"))
        self.HELPDESK_HEALTH_TIMEOUT = float(os.environ.get("HELPDESK_HEALTH_TIMEOUT", "3"))
        self.HELPDESK_RETRY_INTERVALS = [
            int(d) for d in os.environ.get("HELPDESK_RETRY_INTERVALS", "10,60,300").split(",")
        ]
        self.HELPDESK_BREAKER_THRESHOLD = int(os.environ.get("HELPDESK_BREAKER_THRESHOLD", "5"))
        self.HELPDESK_BREAKER_COOLDOWN = float(os.environ.get("HELPDESK_BREAKER_COOLDOWN", "120"))
        self.HELPDESK_WEBHOOK_TOLERANCE = int(os.environ.get("HELPDESK_WEBHOOK_TOLERANCE", "300"))
        # the overview's alert thresholds over their defaults: a JSON object name -> number (app/ops/thresholds.py)
        self.OPS_THRESHOLDS = os.environ.get("OPS_THRESHOLDS", "")
        # a running sync job with no progress for this long is taken as dead (its worker was killed)


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _dev_key(name: str, generate) -> str:
    """A random key kept under instance/, so a dev install survives restarts (sessions, stored secrets)."""
    path = ROOT / "instance" / name
    path.parent.mkdir(exist_ok=True)
    if not path.exists():
        # written aside and linked into place: processes starting together all read the one winner
        draft = path.with_name(f".{name}.{os.getpid()}")
        draft.write_text(generate())
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()
