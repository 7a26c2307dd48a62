"""A sweep over the app's own URL map, so every new route is covered automatically."""
import re

import pytest

from eo_cc import create_app
from eo_cc.db import connect, migrate

from .factories import database_bytes, make_admin, make_election, make_voters

# Routes that are meant for anyone (voters, sign-in pages, the OAuth return, static files).
PUBLIC_PREFIXES = ("/auth/login", "/auth/signup", "/vote/", "/static/", "/integration/cc/callback")


@pytest.fixture
def csrf_app(tmp_path, monkeypatch):
    monkeypatch.setenv("EO_CC_INSTANCE_PATH", str(tmp_path))
    app = create_app({"SECRET_KEY": "sweep-secret", "DATABASE": str(tmp_path / "db.sqlite"),
                      "TESTING": True, "WTF_CSRF_ENABLED": True,
                      "CC_CLIENT_ID": "id", "CC_CLIENT_SECRET": "secret"})
    db = connect(app.config["DATABASE"])
    migrate(db)
    db.close()
    return app


@pytest.fixture
def world(app, db):
    """Admin A with an election and voters; admin B with nothing."""
    a = make_admin(db, email="a@example.org")
    b = make_admin(db, email="b@example.org")
    election_id = make_election(db, a)
    voter_ids = make_voters(db, election_id, secret_key=app.config["SECRET_KEY"])
    slug = db["elections"].get(election_id)["slug"]
    return {"a": a, "b": b, "election_id": election_id, "voter_id": voter_ids[0], "slug": slug}


def fill(rule, world):
    """A concrete URL for a rule, using admin A's objects for every argument."""
    values = {"election_id": world["election_id"], "voter_id": world["voter_id"],
              "slug": world["slug"], "token": "x" * 20, "question_id": 1, "reminder_id": 1,
              "list_id": "list-1", "filename": "style.css", "direction": "up"}
    url = rule.rule
    for name in rule.arguments:
        url = re.sub(r"<(?:[^:<>]+:)?%s>" % name, str(values.get(name, 1)), url)
    return url


def admin_rules(app):
    return [r for r in app.url_map.iter_rules()
            if not r.rule.startswith(PUBLIC_PREFIXES) and r.endpoint not in ("index",)]


def election_rules(app):
    return [r for r in app.url_map.iter_rules() if "election_id" in r.arguments]


def login(client, email):
    return client.post("/auth/login", data={"email": email, "password": "correct horse battery"})


def test_every_election_route_is_a_404_for_another_admin(app, client, world):
    login(client, "b@example.org")
    rules = election_rules(app)
    assert rules, "no election-scoped routes found"
    for rule in rules:
        url = fill(rule, world)
        for method in sorted(rule.methods & {"GET", "POST"}):
            response = client.open(url, method=method)
            assert response.status_code == 404, f"{method} {url} answered {response.status_code}"


def test_every_admin_route_sends_an_anonymous_visitor_to_log_in(app, client, world):
    for rule in admin_rules(app):
        url = fill(rule, world)
        for method in sorted(rule.methods & {"GET", "POST"}):
            response = client.open(url, method=method)
            assert response.status_code == 302, f"{method} {url} answered {response.status_code}"
            assert "/auth/login" in response.headers["Location"]


def test_every_post_route_refuses_a_missing_or_wrong_csrf_token(csrf_app):
    db = connect(csrf_app.config["DATABASE"])
    world = {"election_id": make_election(db, make_admin(db, email="a@example.org"))}
    world["voter_id"] = make_voters(db, world["election_id"], secret_key="sweep-secret")[0]
    world["slug"] = db["elections"].get(world["election_id"])["slug"]
    client = csrf_app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/auth/login", data={"email": "a@example.org", "password": "correct horse battery",
                                     "csrf_token": token})
    posts = [r for r in csrf_app.url_map.iter_rules() if "POST" in r.methods]
    assert len(posts) >= 2
    for rule in posts:
        url = fill(rule, world)
        for data in ({}, {"csrf_token": "forged"}):
            response = client.post(url, data=data)
            assert response.status_code == 400, f"POST {url} with {data} answered {response.status_code}"
            assert b"Form expired" in response.data


def test_security_headers_on_every_page(app, client, world):
    login(client, "a@example.org")
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        response = client.get(fill(rule, world))
        headers = response.headers
        assert "frame-ancestors 'none'" in headers.get("Content-Security-Policy", ""), rule.rule
        assert headers.get("X-Content-Type-Options") == "nosniff", rule.rule
        assert headers.get("X-Frame-Options") == "DENY", rule.rule
        assert headers.get("Referrer-Policy"), rule.rule
        assert response.status_code < 500, rule.rule


def test_session_cookie_flags(client, auth):
    auth.create()
    response = auth.login()
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_session_cookie_is_secure_behind_https(tmp_path, monkeypatch):
    monkeypatch.setenv("EO_CC_INSTANCE_PATH", str(tmp_path))
    app = create_app({"SECRET_KEY": "s", "DATABASE": str(tmp_path / "d.sqlite"),
                      "PREFERRED_URL_SCHEME": "https"})
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]


def test_database_holds_no_voter_password_in_plaintext(app, world):
    data = database_bytes(app.config["DATABASE"])
    assert b"voter1@example.org" in data  # the check can see rows at all
    for n in (1, 2, 3):
        assert f"pw-{n}".encode() not in data


def test_every_admin_page_is_never_cached(app, client, world):
    """An admin's pages show voters' names, emails and who voted: no browser or proxy keeps them."""
    login(client, "a@example.org")
    for rule in admin_rules(app):
        if "GET" in rule.methods and rule.endpoint != "static":
            response = client.get(fill(rule, world))
            assert response.headers.get("Cache-Control") == "no-store", rule.rule
