"""Constant Contact's token endpoint against the sandbox at CC's limits (4 requests/s, 1 token
request/s): list pages, the hourly job and a grant at the same moment."""
import json
import re
import subprocess
import sys
import threading
from urllib.parse import urlsplit

import pytest
import requests

from cc_sandbox import demo, server
from cc_sandbox import store as sandbox_store
from cc_sandbox import tokens as sandbox_tokens
from eo_cc.cc import tokens as cc_tokens
from eo_cc.cc import views as integration
from eo_cc.cc.commands import sync_settings
from eo_cc.cc.pace import SharedPace
from eo_cc.cc.sync import run_sync
from eo_cc.cc.token_endpoint import token_pace
from eo_cc.db import connect, one
from eo_cc.voting.ballots import cast_ballot

from ..conftest import AuthActions
from ..factories import make_admin, make_election, make_voters, organisation_of

NOTICE = "now configured to integrate with your Constant Contact account"


@pytest.fixture
def at_cc_limits(app, db, tmp_path):
    """A demo sandbox at CC's limits, and an election of the demo organisation using its voter list,
    connected with a token granted straight in the sandbox (no token request) and 3 voters who voted."""
    sandbox_path = tmp_path / "sandbox" / "sandbox.sqlite"
    sandbox = server.start(sandbox_path, demo=True, activity_delay=0.2)
    try:
        app.config.update(demo.sandbox_config(sandbox.url), CC_REQUESTS_PER_SECOND=4,
                          CC_TOKEN_REQUESTS_PER_SECOND=1)
        integration.init_app(app)  # Authlib's client is registered from the config at start-up
        sandbox_db = sandbox_store.open_db(sandbox_path)
        account_id = one(sandbox_db, "SELECT id FROM accounts WHERE email = ?",
                         [sandbox_store.DEMO_EMAIL])["id"]
        list_id = one(sandbox_db, "SELECT list_id FROM lists WHERE name = ?",
                      [sandbox_store.DEMO_VOTER_LIST])["list_id"]
        sandbox_db.close()
        token = sandbox_tokens.grant_directly(str(sandbox_path), sandbox_store.DEMO_CLIENT_ID, account_id,
                                              "http://localhost/integration/cc/callback")
        admin_id = make_admin(db)
        organisation_id = organisation_of(db, admin_id)
        cc_tokens.save_token(db, app.config["SECRET_KEY"], organisation_id, token)
        election_id = make_election(db, admin_id, cc_list_id=list_id, cc_list_name=sandbox_store.DEMO_VOTER_LIST,
                                    questions=[("Chair?", ["Alice", "Bob"], 1)],
                                    has_announcement_email=0, has_reminder_emails=0)
        choice = one(db, "SELECT id, question_id FROM choices LIMIT 1")
        for voter_id in make_voters(db, election_id, count=3):
            cast_ballot(db, voter_id, {choice["question_id"]: [choice["id"]]})
        sandbox.organisation_id, sandbox.election_id = organisation_id, election_id
        yield sandbox
    finally:
        sandbox.stop()


def logged_in_client(app):
    client = app.test_client()
    assert AuthActions(app, client).login().status_code == 302
    return client


def hourly_job(app, tmp_path):
    """The hourly run on its own database connection, as cron would start it."""
    database = connect(app.config["DATABASE"])
    try:
        return run_sync(database, app.config, echo=lambda line: None, lock_path=str(tmp_path / "cc_sync.lock"))
    finally:
        database.close()


def all_at_once(*jobs):
    """Start every job behind one barrier; return their results in order (re-raising any error)."""
    barrier, results, errors = threading.Barrier(len(jobs)), [None] * len(jobs), []

    def run(index, job):
        barrier.wait()
        try:
            results[index] = job()
        except Exception as error:  # noqa: BLE001  (re-raised below, in the test's thread)
            errors.append(error)

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    return results


def book_token_slots(config, count):
    """Book the next count slots of the token pace without sending anything, as other requests would."""
    pace = SharedPace(token_pace(config).path, 1, sleep=lambda seconds: None)
    for _ in range(count):
        pace.wait()


def token_requests(sandbox):
    return requests.get(f"{sandbox.url}/_sandbox/stats").json()["token_requests"]


def assert_at_most_one_token_request_a_second(entries):
    arrivals = [entry["epoch"] for entry in entries]
    assert all(later - earlier >= 1.0 for earlier, later in zip(arrivals, arrivals[1:])), arrivals
    assert [entry["status"] for entry in entries] == [200] * len(entries)
    assert not any(entry.get("refresh_token_spent") for entry in entries)


@pytest.mark.slow
def test_cc_expires_the_token_as_three_list_pages_and_the_hourly_job_start(app, db, tmp_path, at_cc_limits):
    sandbox = at_cc_limits
    pages = [logged_in_client(app) for _ in range(3)]
    requests.post(f"{sandbox.url}/_sandbox/faults", json={"expire_tokens": True}).raise_for_status()
    # Other connections' refreshes hold the next three seconds of the token pace, so all four
    # meet the 401 and ask for a refresh while the first one still waits for its slot.
    book_token_slots(app.config, 3)
    lists_page = f"/elections/{sandbox.election_id}/integration/lists"

    *shown, run = all_at_once(*[lambda page=page: page.get(lists_page) for page in pages],
                              lambda: hourly_job(app, tmp_path))

    for response in shown:
        assert response.status_code == 200
        assert sandbox_store.DEMO_VOTER_LIST in response.get_data(as_text=True)
        assert "Use this list" in response.get_data(as_text=True)
    assert (run.exit_code, run.total("removed")) == (0, 3)
    entries = token_requests(sandbox)
    assert [entry["grant_type"] for entry in entries] == ["refresh_token"]  # one refresh served all four
    assert_at_most_one_token_request_a_second(entries)
    assert cc_tokens.get_connection(db, sandbox.organisation_id)["needs_grant"] == 0


@pytest.mark.slow
def test_grant_access_in_the_second_the_hourly_job_refreshes(app, db, tmp_path, at_cc_limits):
    sandbox = at_cc_limits
    stored = cc_tokens.load_token(db, app.config["SECRET_KEY"], sandbox.organisation_id)
    cc_tokens.save_token(db, app.config["SECRET_KEY"], sandbox.organisation_id,
                         dict(stored, expires_at=0))  # the job must refresh before its first request
    admin = logged_in_client(app)
    callback = accept_in_the_sandbox(admin, sandbox, (sandbox_store.DEMO_EMAIL, sandbox_store.DEMO_PASSWORD))

    page, run = all_at_once(lambda: admin.get(callback, follow_redirects=True),
                            lambda: hourly_job(app, tmp_path))

    assert page.status_code == 200 and NOTICE in page.get_data(as_text=True)
    assert urlsplit(page.request.url).path == f"/elections/{sandbox.election_id}/integration"
    assert (run.exit_code, run.total("removed")) == (0, 3)
    entries = token_requests(sandbox)
    assert "authorization_code" in [entry["grant_type"] for entry in entries]
    assert_at_most_one_token_request_a_second(entries)
    assert cc_tokens.get_connection(db, sandbox.organisation_id)["needs_grant"] == 0


@pytest.mark.slow
def test_three_processes_holding_one_expired_token_spend_its_refresh_token_once(app, db, at_cc_limits):
    sandbox = at_cc_limits
    stored = cc_tokens.load_token(db, app.config["SECRET_KEY"], sandbox.organisation_id)
    cc_tokens.save_token(db, app.config["SECRET_KEY"], sandbox.organisation_id, dict(stored, expires_at=0))
    children = [subprocess.Popen(
        [sys.executable, "-m", "tests.cc.refresh_child", json.dumps(sync_settings(app.config)),
         str(sandbox.organisation_id)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(3)]
    assert [child.stdout.readline().strip() for child in children] == ["ready"] * 3
    for child in children:
        child.stdin.write("g")
        child.stdin.flush()

    outputs = [child.communicate(timeout=60)[0].strip() for child in children]

    assert [child.returncode for child in children] == [0, 0, 0]
    assert len(set(outputs)) == 1 and int(outputs[0]) >= 1
    entries = token_requests(sandbox)
    assert [entry["grant_type"] for entry in entries] == ["refresh_token"]
    assert_at_most_one_token_request_a_second(entries)
    assert cc_tokens.get_connection(db, sandbox.organisation_id)["needs_grant"] == 0


def accept_in_the_sandbox(admin, sandbox, login):
    """Press Grant access, sign in and Accept at the sandbox; return the callback path with its query."""
    election_path = f"/elections/{sandbox.election_id}/integration/grant"
    authorize = admin.post(election_path).headers["Location"]
    browser = requests.Session()
    page = browser.get(authorize)
    if "Sign in" in page.text:
        page = browser.post(page.url, data={"email": login[0], "password": login[1]})
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text).group(1)
    answer = browser.post(page.url, data={"request_id": request_id, "decision": "accept"},
                          allow_redirects=False)
    location = urlsplit(answer.headers["Location"])
    return f"{location.path}?{location.query}"
