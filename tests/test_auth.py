import pytest

from eo_cc.auth import is_safe_next
from eo_cc.db import one

from .factories import ADMIN_PASSWORD


@pytest.mark.real_password_hashing
def test_signup_creates_a_hashed_account_and_logs_in(client, db):
    response = client.post("/auth/signup", data={
        "name": "Grace", "email": " Grace@Example.org ", "password": "a long enough pw",
        "confirm": "a long enough pw", "timezone": "Europe/London"})
    assert response.status_code == 302
    row = one(db, "SELECT * FROM admins WHERE email = 'grace@example.org'")
    assert row["password_hash"].startswith("pbkdf2:sha256:600000$")
    assert "a long enough pw" not in row["password_hash"]
    assert row["timezone"] == "Europe/London"
    assert client.get("/elections/").status_code == 200


def test_signup_refuses_a_taken_email(client, auth):
    auth.create(email="ada@example.org")
    response = client.post("/auth/signup", data={
        "name": "Ada 2", "email": "ADA@example.org", "password": "a long enough pw",
        "confirm": "a long enough pw", "timezone": "UTC"})
    assert b"already exists" in response.data


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
    assert b"Too many failed attempts" in response.data
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
