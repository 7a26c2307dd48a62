"""Shared fixtures: a fresh instance folder and database per test (flaskr style)."""
import pytest

from eo_cc import create_app
from eo_cc.db import connect
from eo_cc.migrations import migrate

from .factories import ADMIN_PASSWORD, make_admin, organisation_of


@pytest.fixture(autouse=True)
def fast_password_hashing(request, monkeypatch):
    """OWASP-strength hashing costs ~0.5 s a call; tests use a cheap method unless marked."""
    if "real_password_hashing" not in request.keywords:
        monkeypatch.setattr("eo_cc.auth.PASSWORD_METHOD", "pbkdf2:sha256:1000")


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("EO_CC_INSTANCE_PATH", str(tmp_path))
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "DATABASE": str(tmp_path / "eo_cc.sqlite"),
        "WTF_CSRF_ENABLED": False,
        "MAIL_BACKEND": "file",
        "CC_CLIENT_ID": "test-client-id",
        "CC_CLIENT_SECRET": "test-client-secret",
        "CC_AUTHORIZE_URL": "https://authz.test/oauth2/default/v1/authorize",
        "CC_ACCESS_TOKEN_URL": "https://authz.test/oauth2/default/v1/token",
        "CC_REVOKE_URL": "https://authz.test/oauth2/default/v1/revoke",
        "CC_API_BASE_URL": "https://api.test/v3",
        "CC_REQUESTS_PER_SECOND": 1000,
        "CC_TOKEN_REQUESTS_PER_SECOND": 1000,
    })
    db = connect(app.config["DATABASE"])
    migrate(db)
    # An organisation no test uses, so organisation ids never equal admin ids by chance:
    # code that passes one where the other belongs fails instead of passing by luck.
    db["organisations"].insert({"name": "Unused", "created_at": "2026-01-01T00:00:00+00:00"})
    db.close()
    return app


@pytest.fixture
def db(app):
    database = connect(app.config["DATABASE"])
    yield database
    database.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class AuthActions:
    """Log admins in and out through the real forms."""

    def __init__(self, app, client):
        self._app = app
        self._client = client

    def create(self, email="ada@example.org", password=ADMIN_PASSWORD, name="Ada"):
        """Create an admin directly in the database; return its id."""
        db = connect(self._app.config["DATABASE"])
        try:
            return make_admin(db, email=email, password=password, name=name)
        finally:
            db.close()

    def login(self, email="ada@example.org", password=ADMIN_PASSWORD):
        return self._client.post("/auth/login", data={"email": email, "password": password})

    def logout(self):
        return self._client.post("/auth/logout")


@pytest.fixture
def auth(app, client):
    return AuthActions(app, client)


@pytest.fixture
def admin(auth):
    """A logged-in admin, owner of their own organisation; returns its id."""
    admin_id = auth.create()
    auth.login()
    return admin_id


@pytest.fixture
def organisation(db, admin):
    """The logged-in admin's organisation; returns its id."""
    return organisation_of(db, admin)
