import re
from datetime import timedelta
from pathlib import Path

import pytest

from eo_cc import auth as auth_module
from eo_cc import clock
from eo_cc.auth import is_safe_next
from eo_cc.db import one

from .factories import ADMIN_PASSWORD, all_at_once_behind_a_write_lock, count_calls

SIGNUP = {"name": "Grace", "email": " Grace@Example.org ", "password": "a long enough pw",
          "confirm": "a long enough pw", "timezone": "Europe/London"}


def sign_up(client, **changes):
    """Post the sign-up form; the mail goes out once the response is closed, as a server does."""
    response = client.post("/auth/signup", data={**SIGNUP, **changes})
    response.close()
    return response


def mails_to(app, address):
    return [path.read_text() for path in sorted((Path(app.instance_path) / "outbox").glob("*.eml"))
            if f"To: {address}" in path.read_text()]


def signup_link(app, address):
    [mail] = mails_to(app, address)
    return re.search(r"http://[^/]+(/auth/signup/\S+)", mail).group(1)


@pytest.mark.real_password_hashing
def test_signup_mails_a_link_that_creates_a_hashed_account_and_logs_in(app, client, db):
    response = sign_up(client)
    assert response.headers["Location"].endswith("/auth/signup/sent")
    assert db["admins"].count == 0                      # nothing yet: the address must be shown to work
    page = client.get(signup_link(app, "grace@example.org")).get_data(as_text=True)
    assert "Create my account" in page and db["admins"].count == 0   # a mail scanner's GET creates nothing
    client.post(signup_link(app, "grace@example.org"))
    row = one(db, "SELECT * FROM admins WHERE email = 'grace@example.org'")
    assert row["password_hash"].startswith("pbkdf2:sha256:600000$")
    assert "a long enough pw" not in row["password_hash"]
    assert row["timezone"] == "Europe/London"
    assert client.get("/elections/").status_code == 200
    assert db["signups"].count == 0
    assert client.post(signup_link(app, "grace@example.org"), follow_redirects=True).request.path \
        == "/auth/signup"                               # the link works once


def test_signup_answers_the_same_for_a_known_email_and_mails_the_owner(app, auth, db):
    auth.create(email="ada@example.org")
    known = sign_up(app.test_client(), email="ADA@example.org")
    new = sign_up(app.test_client(), email="bo@example.org")
    assert (known.status_code, known.headers["Location"]) == (new.status_code, new.headers["Location"])
    assert [r["email"] for r in db.query("SELECT email FROM signups")] == ["bo@example.org"]
    [note] = mails_to(app, "ada@example.org")
    assert "There already is an account for this address" in note and "/auth/signup/" not in note
    assert db["admins"].count == 1


def test_an_expired_signup_link_creates_nothing(app, client, db):
    sign_up(client)
    link = signup_link(app, "grace@example.org")
    db.execute("UPDATE signups SET expires_at = '2000-01-01T00:00:00+00:00'")
    page = client.post(link, follow_redirects=True).get_data(as_text=True)
    assert "not valid any more" in page and db["admins"].count == 0


def test_a_login_for_an_unknown_email_hashes_a_password_as_a_known_one_does(auth, client, monkeypatch):
    checked = []
    real = auth_module.check_password_hash
    monkeypatch.setattr(auth_module, "check_password_hash",
                        lambda stored, password: checked.append(stored.split("$")[0]) or real(stored, password))
    auth.create()
    auth.login(email="ada@example.org", password="wrong password")
    auth.login(email="nobody@example.org", password="wrong password")
    assert checked == [auth_module.PASSWORD_METHOD] * 2


@pytest.mark.parametrize("password, confirm, message", [
    ("short", "short", b"at least 10 characters"),
    ("a long enough pw", "different pw!!", b"The passwords differ"),
])
def test_signup_validates_the_password(client, password, confirm, message):
    response = client.post("/auth/signup", data={
        "name": "Bo", "email": "bo@example.org", "password": password, "confirm": confirm,
        "timezone": "UTC"})
    assert message in response.data


def test_wrong_password_is_refused(auth, client):
    auth.create()
    response = auth.login(password="wrong password")
    assert b"do not match" in response.data
    assert client.get("/elections/").status_code == 302


def test_repeated_failed_logins_lock_the_account_for_a_while(auth, client):
    auth.create()
    for _ in range(5):
        auth.login(password="wrong password")
    response = auth.login()  # even the right password is refused while locked
    assert b"Too many attempts" in response.data
    assert client.get("/elections/").status_code == 302


def test_logout_ends_the_session_even_for_a_replayed_cookie(app, auth, client):
    auth.create()
    auth.login()
    stolen = client.get_cookie("session").value
    auth.logout()
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert thief.get("/elections/").status_code == 302


@pytest.mark.parametrize("target, safe", [
    ("/elections/3", True), ("https://evil.example/", False), ("//evil.example/x", False),
    ("javascript:alert(1)", False), ("", False), (None, False),
])
def test_next_redirects_are_validated(target, safe):
    assert is_safe_next(target) is safe


def test_login_follows_a_safe_next_only(auth, client):
    auth.create()
    response = client.post("/auth/login?next=https://evil.example/",
                           data={"email": "ada@example.org", "password": ADMIN_PASSWORD})
    assert response.headers["Location"] == "/"


def test_create_admin_command(runner, db):
    result = runner.invoke(args=["create-admin", "Ops@Example.org", "--password", "ops password 1"])
    assert "created" in result.output
    assert one(db, "SELECT email FROM admins")["email"] == "ops@example.org"
    again = runner.invoke(args=["create-admin", "ops@example.org", "--password", "ops password 1"])
    assert again.exit_code != 0 and "already exists" in again.output


@pytest.mark.real_password_hashing
def test_password_method_is_owasp_strength():
    from eo_cc import auth

    assert auth.PASSWORD_METHOD == "pbkdf2:sha256:600000"


def test_changing_the_password_ends_other_sessions_but_keeps_this_one(app, auth, client, db):
    auth.create()
    other = app.test_client()
    other.post("/auth/login", data={"email": "ada@example.org", "password": ADMIN_PASSWORD})
    auth.login()
    response = client.post("/auth/account", data={
        "timezone": "Europe/Paris", "current_password": ADMIN_PASSWORD,
        "new_password": "a brand new password", "confirm": "a brand new password"},
        follow_redirects=True)
    assert b"Your account is saved" in response.data
    assert client.get("/elections/").status_code == 200
    assert other.get("/elections/").status_code == 302
    assert one(db, "SELECT timezone FROM admins")["timezone"] == "Europe/Paris"
    auth.logout()
    assert b"do not match" in auth.login().data
    assert auth.login(password="a brand new password").status_code == 302


def test_changing_the_password_needs_the_current_one(auth, client, db):
    auth.create()
    auth.login()
    before = one(db, "SELECT password_hash FROM admins")["password_hash"]
    response = client.post("/auth/account", data={
        "timezone": "UTC", "current_password": "wrong guess!!",
        "new_password": "a brand new password", "confirm": "a brand new password"})
    assert b"not your current password" in response.data
    assert one(db, "SELECT password_hash FROM admins")["password_hash"] == before


def test_24_simultaneous_guesses_get_at_most_5_passwords_checked(app, auth, monkeypatch):
    """The guesses queue behind a held write lock and then arrive at once: each is counted
    before its password is checked, so only the first 5 are checked at all."""
    auth.create()
    checked = count_calls(monkeypatch, auth_module, "check_password_hash")
    all_at_once_behind_a_write_lock(app.config["DATABASE"], lambda n: app.test_client().post(
        "/auth/login", data={"email": "ada@example.org", "password": f"guess {n}"}), 24)
    assert len(checked) == 5


@pytest.mark.parametrize("field, ago", [("seen_at", timedelta(hours=13)), ("signed_in_at", timedelta(days=8))])
def test_a_session_ends_when_idle_too_long_or_too_old(auth, client, field, ago):
    auth.create()
    auth.login()
    assert client.get("/elections/").status_code == 200
    with client.session_transaction() as session:
        session[field] = clock.iso(clock.now() - ago)
    response = client.get("/elections/", follow_redirects=True)
    assert response.request.path == "/auth/login"
    assert "Your session has ended" in response.get_data(as_text=True)


def test_a_session_in_use_stays_and_moves_its_idle_clock(auth, client):
    auth.create()
    auth.login()
    with client.session_transaction() as session:
        session["seen_at"] = clock.iso(clock.now() - timedelta(hours=11))
    assert client.get("/elections/").status_code == 200
    with client.session_transaction() as session:
        assert clock.parse(session["seen_at"]) > clock.now() - timedelta(minutes=1)
