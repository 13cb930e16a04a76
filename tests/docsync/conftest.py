import io
import shutil
import threading

import pytest


class Remote:
    """Another Forgeline (its own database and store) served over real HTTP from a thread."""

    def __init__(self, app, url: str) -> None:
        self.app, self.url, self.token = app, url, ""

    def context(self):
        return self.app.app_context()

    def add_document(self, number: str, data: bytes, title: str = "Remote doc"):
        from app.docsync import documents
        from app.docsync.documents import Metadata
        from app.extensions import db

        with self.context():
            doc = documents.find(number) or documents.create(number, Metadata(title, "drawing"))
            documents.add_version(doc, io.BytesIO(data), f"{number}.bin")
            db.session.commit()

    def latest(self, number: str) -> tuple[str, int, bytes] | None:
        """(sha256, version, bytes in its store) of the document's latest version there."""
        from app.docsync import documents
        from app.docsync.store import store

        with self.context():
            doc = documents.find(number)
            if doc is None or doc.latest is None:
                return None
            version = doc.latest
            return version.sha256, version.version, store().path(version.sha256).read_bytes()

    def version_count(self) -> int:
        from app.docsync.models import DocumentVersion
        from app.extensions import db

        with self.context():
            return db.session.query(DocumentVersion).count()


@pytest.fixture(scope="session")
def remote_server(tmp_path_factory, redis_server):
    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from app import create_app
    from tests.conftest import app_config

    base = tmp_path_factory.mktemp("remote-site")
    remote_app = create_app(
        app_config(
            f"sqlite:///{base / 'remote.db'}",
            redis_server.url,
            DOCUMENT_STORE=str(base / "store"),
            SITE_NAME="plant-b",
            TESTING=False,
        )
    )
    with remote_app.app_context():
        upgrade()
    server = make_server("127.0.0.1", 0, remote_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Remote(remote_app, f"http://127.0.0.1:{server.server_port}")
    server.shutdown()


@pytest.fixture
def remote(remote_server, app):
    """The remote site, empty, with a fresh token of an engineer there."""
    from app.core.auth import service as auth
    from app.extensions import db
    from tests.conftest import _empty_tables

    with remote_server.context():
        user = auth.create_user("sync-b", "password123", "engineer")
        _, remote_server.token = auth.create_token(user, "plant-a")
        db.session.commit()
    yield remote_server
    with remote_server.context():
        db.session.remove()
        _empty_tables()
    shutil.rmtree(remote_server.app.config["DOCUMENT_STORE"], ignore_errors=True)
