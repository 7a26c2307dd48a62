"""A sweep over the app's own URL map and the role table, so every new route is covered automatically.

Every route must be in eo_cc.organisations.access.ROLES; each role (owner, admin, observer)
gets exactly what the table says, a member of another organisation gets 404 for anything
of this one, and the CSRF and header checks run for every kind of visitor.
"""
import re

import pytest

from eo_cc import create_app
from eo_cc.db import connect
from eo_cc.migrations import migrate
from eo_cc.organisations import invitations
from eo_cc.organisations.access import PUBLIC, ROLES, SIGNED_IN
from eo_cc.organisations.members import ROLE_NAMES

from .factories import (
    ADMIN_PASSWORD,
    database_bytes,
    make_admin,
    make_election,
    make_member,
    make_voters,
    organisation_of,
)

MEMBERS = ("owner", "admin", "observer")
VISITORS = (*MEMBERS, "outsider")
EMAILS = {"owner": "owner@example.org", "admin": "admin@example.org",
          "observer": "observer@example.org", "outsider": "outsider@example.org"}
# Routes that end the session or the membership go last, so the rest still run signed in.
LAST = ("auth.logout", "organisations.leave", "organisations.remove_member")


def build_world(db, secret_key):
    """Organisation A: an owner, an admin and an observer, an election with voters, a question,
    a reminder and a pending invitation. Organisation B: its owner, the outsider."""
    make_admin(db, email="first@example.org")  # so organisation ids and admin ids differ
    owner = make_admin(db, email=EMAILS["owner"])
    organisation_id = organisation_of(db, owner)
    people = {"owner": owner,
              "admin": make_member(db, organisation_id, "admin", EMAILS["admin"]),
              "observer": make_member(db, organisation_id, "observer", EMAILS["observer"]),
              "outsider": make_admin(db, email=EMAILS["outsider"])}
    election_id = make_election(db, owner)
    voter_ids = make_voters(db, election_id, secret_key=secret_key)
    invitation_id, token = invitations.invite(db, organisation_id, "new@example.org", "admin", owner)
    return {"people": people, "organisation_id": organisation_id,
            "outsider_organisation_id": organisation_of(db, people["outsider"]),
            "election_id": election_id, "voter_id": voter_ids[0], "voter_pk": voter_ids[0],
            "slug": db["elections"].get(election_id)["slug"], "token": "x" * 20,
            "question_id": db.execute("SELECT MIN(id) FROM questions").fetchone()[0],
            "reminder_id": db["reminders"].insert({"election_id": election_id,
                                                   "send_at": "2099-01-01T00:00:00+00:00"}).last_pk,
            "member_id": people["observer"], "invitation_id": invitation_id,
            "invitation_token": token, "list_id": "list-1", "filename": "style.css",
            "direction": "up"}


@pytest.fixture
def world(app, db):
    return build_world(db, app.config["SECRET_KEY"])


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


def fill(rule, world, **override):
    """A concrete URL for a rule, using organisation A's objects for every argument."""
    values = {**world, **override}
    url = rule.rule
    for name in rule.arguments:
        url = re.sub(r"<(?:[^:<>]+:)?%s>" % name, str(values[name]), url)
    return url


def methods(rule):
    return sorted(rule.methods & {"GET", "POST"})


def rules_where(app, test):
    """The URL map's rules whose role-table entry passes test, in a safe order to request them."""
    found = [r for r in app.url_map.iter_rules() if test(ROLES.get(r.endpoint))]
    return sorted(found, key=lambda r: (r.endpoint in LAST, LAST.index(r.endpoint)
                                        if r.endpoint in LAST else 0, r.endpoint))


def is_role_set(allowed):
    return isinstance(allowed, frozenset)


def login(client, email):
    response = client.post("/auth/login", data={"email": email, "password": ADMIN_PASSWORD})
    assert response.status_code == 302 and "/auth/login" not in response.headers["Location"]


def snapshot(db):
    """Row counts of every table, to show that a refused request changed nothing."""
    names = [n for n in db.table_names() if n not in ("throttles",)]
    return {name: db.execute(f"SELECT count(*) FROM [{name}]").fetchone()[0] for name in names}


# --- the table -------------------------------------------------------------------------------

def test_every_route_is_in_the_role_table_and_the_table_names_no_other(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - set(ROLES) == set(), "routes missing from access.ROLES"
    assert set(ROLES) - endpoints == set(), "access.ROLES names routes that do not exist"


def test_the_role_table_allows_only_known_roles():
    for endpoint, allowed in ROLES.items():
        assert allowed in (PUBLIC, SIGNED_IN) or (is_role_set(allowed) and allowed <= set(ROLE_NAMES)), \
            endpoint


def test_a_route_missing_from_the_table_is_refused(app, client, world, monkeypatch):
    login(client, EMAILS["owner"])
    monkeypatch.delitem(ROLES, "elections.show")
    assert client.get(f"/elections/{world['election_id']}").status_code == 403


# --- members, by role ------------------------------------------------------------------------

@pytest.mark.parametrize("role", MEMBERS)
def test_every_route_the_table_denies_a_role_is_a_403_that_changes_nothing(app, client, db, world,
                                                                          role):
    login(client, EMAILS[role])
    before = snapshot(db)
    refused = rules_where(app, lambda allowed: is_role_set(allowed) and role not in allowed)
    assert refused or role == "owner"
    for rule in refused:
        url = fill(rule, world)
        for method in methods(rule):
            response = client.open(url, method=method)
            assert response.status_code == 403, f"{role}: {method} {url} answered {response.status_code}"
    assert snapshot(db) == before


@pytest.mark.parametrize("role", MEMBERS)
def test_every_page_the_table_allows_a_role_opens_for_it(app, client, world, role):
    login(client, EMAILS[role])
    allowed = rules_where(app, lambda entry: entry == SIGNED_IN or (is_role_set(entry) and role in entry))
    pages = [rule for rule in allowed if "GET" in rule.methods]
    assert len(pages) >= 5
    for rule in pages:
        url = fill(rule, world)
        response = client.get(url)
        assert response.status_code in (200, 302), f"{role}: GET {url} answered {response.status_code}"
        assert "/auth/login" not in response.headers.get("Location", ""), f"{role}: GET {url}"


@pytest.mark.parametrize("role", MEMBERS)
def test_every_post_the_table_allows_a_role_passes_the_role_check(app, client, world, role):
    login(client, EMAILS[role])
    posts = [rule for rule in rules_where(app, lambda entry: is_role_set(entry) and role in entry)
             if "POST" in rule.methods]
    assert posts
    for rule in posts:
        url = fill(rule, world)
        response = client.post(url)
        assert response.status_code not in (403, 404), f"{role}: POST {url} answered {response.status_code}"


@pytest.mark.parametrize("role", MEMBERS)
def test_the_pages_show_no_link_or_button_a_role_may_not_use(app, client, world, role):
    """The UI hides what a role cannot do: no page links or posts to a route refused to it."""
    login(client, EMAILS[role])
    refused = [rule for rule in rules_where(app, lambda entry: is_role_set(entry) and role not in entry)]
    refused_urls = {fill(rule, world) for rule in refused}
    for rule in rules_where(app, lambda entry: entry == SIGNED_IN or (is_role_set(entry) and role in entry)):
        if "GET" not in rule.methods or rule.endpoint == "cc.callback":
            continue
        page = client.get(fill(rule, world)).get_data(as_text=True)
        targets = set(re.findall(r'(?:href|action)="([^"?]+)', page))
        assert targets & refused_urls == set(), f"{role}: {rule.rule} shows {targets & refused_urls}"


# --- anyone else ---------------------------------------------------------------------------

def test_a_member_of_another_organisation_gets_404_for_everything_of_this_one(app, client, db, world):
    login(client, EMAILS["outsider"])
    before = snapshot(db)
    scoped = [r for r in app.url_map.iter_rules() if {"election_id", "organisation_id"} & r.arguments]
    assert len(scoped) >= 30
    for rule in scoped:
        url = fill(rule, world)
        for method in methods(rule):
            response = client.open(url, method=method)
            assert response.status_code == 404, f"{method} {url} answered {response.status_code}"
    assert snapshot(db) == before


def test_ids_of_this_organisation_under_another_organisations_url_are_404(app, client, db, world):
    """The outsider owns organisation B: A's invitations and members are not found under B."""
    login(client, EMAILS["outsider"])
    before = snapshot(db)
    mixed = [r for r in app.url_map.iter_rules() if {"invitation_id", "member_id"} & r.arguments]
    assert len(mixed) >= 3
    for rule in mixed:
        url = fill(rule, world, organisation_id=world["outsider_organisation_id"])
        response = client.post(url, data={f"member-{world['member_id']}-role": "owner"})
        assert response.status_code == 404, f"POST {url} answered {response.status_code}"
    assert snapshot(db) == before


def test_every_route_but_the_public_ones_sends_an_anonymous_visitor_to_log_in(app, client, world):
    for rule in app.url_map.iter_rules():
        url = fill(rule, world)
        for method in methods(rule):
            response = client.open(url, method=method)
            location = response.headers.get("Location", "")
            if ROLES[rule.endpoint] == PUBLIC:
                assert "/auth/login?" not in location, f"{method} {url} asks an anonymous visitor to log in"
            else:
                assert response.status_code == 302, f"{method} {url} answered {response.status_code}"
                assert "/auth/login" in location


@pytest.mark.parametrize("visitor", VISITORS)
def test_every_post_route_refuses_a_missing_or_wrong_csrf_token(csrf_app, visitor):
    db = connect(csrf_app.config["DATABASE"])
    world = build_world(db, "sweep-secret")
    db.close()
    client = csrf_app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/auth/login", data={"email": EMAILS[visitor], "password": ADMIN_PASSWORD,
                                     "csrf_token": token})
    posts = [r for r in csrf_app.url_map.iter_rules() if "POST" in r.methods]
    assert len(posts) >= 20
    for rule in posts:
        url = fill(rule, world)
        for data in ({}, {"csrf_token": "forged"}):
            response = client.post(url, data=data)
            assert response.status_code == 400, f"{visitor}: POST {url} with {data} answered {response.status_code}"
            assert b"Form expired" in response.data


@pytest.mark.parametrize("visitor", VISITORS)
def test_security_headers_on_every_page(app, client, world, visitor):
    login(client, EMAILS[visitor])
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


def test_database_holds_no_voter_password_or_invitation_token_in_plaintext(app, world):
    data = database_bytes(app.config["DATABASE"])
    assert b"voter1@example.org" in data and b"new@example.org" in data  # the check sees rows
    for n in (1, 2, 3):
        assert f"pw-{n}".encode() not in data
    assert world["invitation_token"].encode() not in data


@pytest.mark.parametrize("role", MEMBERS)
def test_every_page_a_member_sees_is_never_cached(app, client, world, role):
    """An admin's pages show voters' names, emails and who voted: no browser or proxy keeps them."""
    login(client, EMAILS[role])
    allowed = rules_where(app, lambda entry: entry == SIGNED_IN or (is_role_set(entry) and role in entry))
    for rule in allowed:
        if "GET" in rule.methods and rule.endpoint != "static":
            response = client.get(fill(rule, world))
            assert response.headers.get("Cache-Control") == "no-store", rule.rule
