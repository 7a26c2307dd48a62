"""`make demo`: its seed data is there once however often it runs, and Ctrl-C stops it."""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from cc_sandbox import demo
from eo_cc import clock
from eo_cc.crypto import Box
from eo_cc.db import connect, one, rows
from eo_cc.migrations import migrate

SECRET_KEY = "demo-test-secret-key"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def instance_db(tmp_path):
    database = connect(tmp_path / "eo_cc.sqlite")
    migrate(database)
    yield database
    database.close()


def count(db, table):
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_seeding_twice_creates_the_organisation_election_and_roster_once(instance_db):
    first = demo.seed(instance_db, SECRET_KEY)
    second = demo.seed(instance_db, SECRET_KEY)
    assert first["id"] == second["id"]
    tables = ("admins", "organisations", "memberships", "elections", "questions", "voters")
    assert {table: count(instance_db, table) for table in tables} == {
        "admins": 2, "organisations": 1, "memberships": 2, "elections": 1, "questions": 2,
        "voters": demo.VOTER_COUNT}


def test_demo_organisation_has_the_owner_and_an_observer_and_holds_the_election(instance_db):
    election = demo.seed(instance_db, SECRET_KEY)
    people = rows(instance_db, """SELECT a.email, m.role, o.name FROM memberships m
                                  JOIN admins a ON a.id = m.admin_id
                                  JOIN organisations o ON o.id = m.organisation_id
                                  WHERE m.organisation_id = ? ORDER BY m.role DESC""",
                  [election["organisation_id"]])
    assert [(p["email"], p["role"]) for p in people] == [(demo.ADMIN_EMAIL, "owner"),
                                                         (demo.OBSERVER_EMAIL, "observer")]
    assert people[0]["name"] == demo.ORGANISATION_NAME


@pytest.mark.parametrize("email, password", [(demo.ADMIN_EMAIL, demo.ADMIN_PASSWORD),
                                             (demo.OBSERVER_EMAIL, demo.OBSERVER_PASSWORD)])
def test_demo_members_can_log_in_with_the_printed_passwords(tmp_path, monkeypatch, instance_db,
                                                           email, password):
    from eo_cc import create_app

    election = demo.seed(instance_db, SECRET_KEY)
    monkeypatch.setenv("EO_CC_INSTANCE_PATH", str(tmp_path))
    app = create_app({"SECRET_KEY": SECRET_KEY, "DATABASE": str(tmp_path / "eo_cc.sqlite"),
                      "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    response = client.post("/auth/login", data={"email": email, "password": password})
    assert response.status_code == 302
    assert "/auth/login" not in response.headers["Location"]
    assert demo.ELECTION_TITLE in client.get("/elections/").get_data(as_text=True)
    assert client.get(f"/elections/{election['id']}").status_code == 200


def test_demo_election_is_open_now_for_a_week_with_eo_cc_mail_off(instance_db):
    election = demo.seed(instance_db, SECRET_KEY)
    opens, closes = clock.parse(election["opens_at"]), clock.parse(election["closes_at"])
    assert election["state"] == "open"
    assert opens <= clock.now() < closes
    assert (closes - opens).days == demo.VOTING_DAYS
    assert (election["has_announcement_email"], election["has_reminder_emails"]) == (0, 0)


def test_demo_roster_is_voter1_to_voter25_at_example_org(instance_db):
    election = demo.seed(instance_db, SECRET_KEY)
    emails = [row["email"] for row in rows(
        instance_db, "SELECT email FROM voters WHERE election_id = ? ORDER BY voter_code",
        [election["id"]])]
    assert emails == [f"voter{n}@example.org" for n in range(1, 26)]


def test_printed_voter_logins_match_the_stored_passwords(instance_db):
    election = demo.seed(instance_db, SECRET_KEY)
    logins = demo.voter_logins(instance_db, SECRET_KEY, election["id"])
    assert [voter_id for voter_id, _ in logins] == ["V0001", "V0002"]
    box = Box(SECRET_KEY, "voter-passwords")
    for voter_id, password in logins:
        stored = one(instance_db, "SELECT password_encrypted FROM voters WHERE election_id = ? "
                                  "AND voter_code = ?", [election["id"], voter_id])
        assert box.open(stored["password_encrypted"]) == password


def test_sandbox_config_points_every_cc_url_at_the_sandbox():
    config = demo.sandbox_config("http://127.0.0.1:5001")
    assert config["CC_AUTHORIZE_URL"] == "http://127.0.0.1:5001/oauth2/default/v1/authorize"
    assert config["CC_ACCESS_TOKEN_URL"] == "http://127.0.0.1:5001/oauth2/default/v1/token"
    assert config["CC_REVOKE_URL"] == "http://127.0.0.1:5001/oauth2/default/v1/revoke"
    assert config["CC_API_BASE_URL"] == "http://127.0.0.1:5001/v3"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_line(process, text, timeout=60):
    """Read the demo's output until a line contains text; return everything read."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"no {text!r} in the demo's output:\n{''.join(seen)}")


def test_make_demo_serves_site_and_sandbox_and_ctrl_c_stops_both(tmp_path):
    site_port, sandbox_port = free_port(), free_port()
    env = {**os.environ, "EO_CC_INSTANCE_PATH": str(tmp_path), "EO_CC_DEMO_PORT": str(site_port),
           "EO_CC_SANDBOX_PORT": str(sandbox_port), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "demo.py")], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        banner = wait_for_line(process, "Ctrl-C stops both")
        for expected in (f"http://127.0.0.1:{site_port}", f"http://127.0.0.1:{sandbox_port}",
                         demo.ADMIN_EMAIL, demo.ADMIN_PASSWORD, demo.OBSERVER_EMAIL,
                         demo.OBSERVER_PASSWORD, "demo@cc-sandbox.test", "Voter ID V0001"):
            assert expected in banner
        login_page = urllib.request.urlopen(f"http://127.0.0.1:{site_port}/auth/login", timeout=10)
        sandbox_page = urllib.request.urlopen(f"http://127.0.0.1:{sandbox_port}/_sandbox/", timeout=10)
        assert "Log in" in login_page.read().decode()
        assert "Annual Meeting 2026" in sandbox_page.read().decode()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
        assert "stopped" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{sandbox_port}/_sandbox/", timeout=2)
