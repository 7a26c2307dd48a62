"""CC's token endpoint: one pace for every process, one more try when busy, one refresh at a time."""
import contextlib
import fcntl
import os

import pytest
import requests
from authlib.integrations.base_client import OAuthError

from eo_cc.cc import tokens as cc_tokens
from eo_cc.cc import token_endpoint
from eo_cc.cc import views as integration
from eo_cc.cc.api import CCError, GrantRevoked
from eo_cc.cc.token_endpoint import connection_lock, is_busy, paced, retry_after_seconds, token_pace

from .test_tokens import api, config, connect_organisation, db, organisation_id  # noqa: F401  (fixtures)
from .test_tokens import cc  # noqa: F401


class CountingPace:
    def __init__(self):
        self.waits = 0

    @contextlib.contextmanager
    def turn(self):
        self.waits += 1
        yield


def http_error(status, headers=None):
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers or {})
    return requests.HTTPError(f"{status}", response=response)


def answers(*outcomes):
    """A request that raises or returns each outcome in turn; .calls counts them."""
    remaining = list(outcomes)

    def request():
        request.calls += 1
        outcome = remaining.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    request.calls = 0
    return request


# --- the pace and its one more try ------------------------------------------------------------

def test_the_token_pace_is_one_request_a_second_in_the_instance_folder(config):
    config = {key: value for key, value in config.items() if key != "CC_TOKEN_REQUESTS_PER_SECOND"}
    pace = token_pace(config)
    assert pace.path == os.path.join(os.path.dirname(config["DATABASE"]), "cc_pace_token")
    assert pace.interval >= 1.0


def test_the_token_pace_is_its_own_file_beside_the_v3_pace(config):
    from eo_cc.cc.pace import api_pace
    assert token_pace(config).path != api_pace(config).path


@pytest.mark.parametrize("error, busy", [
    (http_error(429), True), (http_error(500), True), (http_error(503), True),
    (http_error(400), False), (http_error(401), False),
    (OAuthError(error="temporarily_unavailable"), True), (OAuthError(error="server_error"), True),
    (OAuthError(error="invalid_grant"), False), (OAuthError(error="invalid_token_response"), False),
    (requests.ConnectionError("down"), False),
])
def test_busy_means_cc_turned_the_request_away_without_using_it(error, busy):
    assert is_busy(error) is busy


@pytest.mark.parametrize("header, seconds", [(None, 0.0), ("2", 2.0), ("0.5", 0.5), ("soon", 0.0),
                                             ("-3", 0.0), ("86400", token_endpoint.MAX_RETRY_AFTER_SECONDS)])
def test_retry_after_is_read_in_seconds_and_capped(header, seconds):
    assert retry_after_seconds(http_error(429, {"Retry-After": header} if header else {})) == seconds


def test_a_busy_answer_waits_its_retry_after_and_tries_once_more_in_a_later_slot():
    pace, slept = CountingPace(), []
    request = answers(http_error(429, {"Retry-After": "2"}), "token")
    assert paced(pace, request, sleep=slept.append) == "token"
    assert (request.calls, pace.waits, slept) == (2, 2, [2.0])


def test_a_second_busy_answer_is_raised_after_two_tries():
    pace = CountingPace()
    request = answers(OAuthError(error="temporarily_unavailable"), http_error(503))
    with pytest.raises(requests.HTTPError):
        paced(pace, request, sleep=lambda seconds: None)
    assert (request.calls, pace.waits) == (2, 2)


@pytest.mark.parametrize("refusal", [OAuthError(error="invalid_grant"), http_error(400),
                                     requests.ConnectTimeout("slow")])
def test_a_refusal_that_is_not_busy_is_not_tried_again(refusal):
    pace = CountingPace()
    request = answers(refusal, "token")
    with pytest.raises(type(refusal)):
        paced(pace, request, sleep=lambda seconds: None)
    assert (request.calls, pace.waits) == (1, 1)


# --- one refresh at a time --------------------------------------------------------------------

def lock_is_held(config, organisation_id):
    """Try the connection's lock from another open file, without waiting."""
    path = os.path.join(os.path.dirname(config["DATABASE"]), token_endpoint.LOCKS_FOLDER,
                        f"{organisation_id}.lock")
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_the_connection_lock_excludes_every_other_open_file_until_released(config, organisation_id):
    with connection_lock(config, organisation_id):
        assert lock_is_held(config, organisation_id)
        with connection_lock(config, organisation_id + 1):
            assert lock_is_held(config, organisation_id + 1)
    assert not lock_is_held(config, organisation_id)
    assert not lock_is_held(config, organisation_id + 1)


def test_a_refresh_is_sent_while_the_connection_lock_is_held(cc, db, config, organisation_id):
    connect_organisation(db, config, organisation_id, expires_in=-10)
    held = []

    def refreshed(request, context):
        held.append(lock_is_held(config, organisation_id))
        return {"access_token": "A2", "refresh_token": "R2", "token_type": "Bearer", "expires_in": 86400}

    cc.post(config["CC_ACCESS_TOKEN_URL"], json=refreshed)
    cc.get(api(config, "/contacts"), json={"contacts": []})
    cc_tokens.make_client(db, config, organisation_id).contacts_by_email("a@example.org")
    assert held == [True]
    assert cc_tokens.load_token(db, config["SECRET_KEY"], organisation_id)["refresh_token"] == "R2"


def test_a_page_that_waited_for_the_lock_uses_the_token_stored_meanwhile(cc, db, config, organisation_id):
    """Two pages hold R1 and meet a 401; the first refreshes, the second finds R2 and spends nothing."""
    connect_organisation(db, config, organisation_id)
    first = cc_tokens.make_client(db, config, organisation_id)
    second = cc_tokens.make_client(db, config, organisation_id)
    refresh = cc.post(config["CC_ACCESS_TOKEN_URL"], json={
        "access_token": "A2", "refresh_token": "R2", "token_type": "Bearer", "expires_in": 86400})
    cc.get(api(config, "/contacts"), [{"status_code": 401, "json": [{"error_key": "unauthorized"}]},
                                      {"json": {"contacts": []}}, {"status_code": 401, "json": []},
                                      {"json": {"contacts": []}}])

    first.contacts_by_email("a@example.org")
    second.contacts_by_email("a@example.org")

    assert refresh.call_count == 1
    assert cc.request_history[-1].headers["Authorization"] == "Bearer A2"
    assert cc_tokens.get_connection(db, organisation_id)["needs_grant"] == 0


def test_a_connection_disconnected_while_a_refresh_waited_stays_disconnected(cc, db, config, organisation_id):
    connect_organisation(db, config, organisation_id, expires_in=-10)
    client = cc_tokens.make_client(db, config, organisation_id)
    cc_tokens.delete_connection(db, config["SECRET_KEY"], organisation_id)   # Disconnect, meanwhile
    refresh = cc.post(config["CC_ACCESS_TOKEN_URL"], json={
        "access_token": "A2", "refresh_token": "R2", "token_type": "Bearer", "expires_in": 86400})

    with pytest.raises(GrantRevoked):
        client.contacts_by_email("a@example.org")

    assert not refresh.called
    assert cc_tokens.get_connection(db, organisation_id) is None


def test_a_refresh_busy_once_is_tried_again_and_the_page_goes_on(cc, db, config, organisation_id):
    connect_organisation(db, config, organisation_id, expires_in=-10)
    refresh = cc.post(config["CC_ACCESS_TOKEN_URL"], [
        {"status_code": 429, "json": {"error": "too_many_requests"}},
        {"json": {"access_token": "A2", "refresh_token": "R2", "token_type": "Bearer", "expires_in": 86400}}])
    cc.get(api(config, "/contacts"), json={"contacts": []})

    cc_tokens.make_client(db, config, organisation_id).contacts_by_email("a@example.org")

    assert refresh.call_count == 2
    assert cc.last_request.headers["Authorization"] == "Bearer A2"


def test_a_refresh_busy_twice_is_a_retryable_error_and_the_grant_stands(cc, db, config, organisation_id):
    connect_organisation(db, config, organisation_id, expires_in=-10)
    refresh = cc.post(config["CC_ACCESS_TOKEN_URL"], status_code=429, json={"error": "too_many_requests"})

    with pytest.raises(CCError) as raised:
        cc_tokens.make_client(db, config, organisation_id).contacts_by_email("a@example.org")

    assert not isinstance(raised.value, GrantRevoked)
    assert (raised.value.status, raised.value.retryable) == (429, True)
    assert refresh.call_count == 2
    assert cc_tokens.get_connection(db, organisation_id)["needs_grant"] == 0


def test_a_revocation_busy_once_is_tried_again(cc, config):
    config = dict(config, CC_REVOKE_URL="https://authz.test/oauth2/default/v1/revoke")
    revoke = cc.post(config["CC_REVOKE_URL"], [{"status_code": 429, "json": {}}, {"status_code": 200}])
    cc_tokens.revoke(config, {"access_token": "A1", "refresh_token": "R1"})
    assert revoke.call_count == 2


# --- against the sandbox at CC's limits (4 requests/s, 1 token request/s) -----------------------

NOTICE = "now configured to integrate with your Constant Contact account"


@pytest.fixture
def at_cc_limits(app, db, tmp_path):
    """A demo sandbox at CC's limits, and an election of the demo organisation using its voter list,
    connected with a token granted straight in the sandbox (no token request) and 3 voters who voted."""
    from cc_sandbox import demo, server
    from cc_sandbox import store as sandbox_store
    from cc_sandbox import tokens as sandbox_tokens
    from eo_cc.db import one
    from eo_cc.voting.ballots import cast_ballot

    from ..factories import make_admin, make_election, make_voters, organisation_of

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
    from ..conftest import AuthActions

    client = app.test_client()
    assert AuthActions(app, client).login().status_code == 302
    return client


def hourly_job(app, tmp_path):
    """The hourly run on its own database connection, as cron would start it."""
    from eo_cc.cc.sync import run_sync
    from eo_cc.db import connect

    database = connect(app.config["DATABASE"])
    try:
        return run_sync(database, app.config, echo=lambda line: None, lock_path=str(tmp_path / "cc_sync.lock"))
    finally:
        database.close()


def all_at_once(*jobs):
    """Start every job behind one barrier; return their results in order (re-raising any error)."""
    import threading

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
    from eo_cc.cc.pace import SharedPace

    pace = SharedPace(token_pace(config).path, 1, margin=token_endpoint.MARGIN_SECONDS,
                      sleep=lambda seconds: None)
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
    from cc_sandbox.store import DEMO_VOTER_LIST

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
        assert DEMO_VOTER_LIST in response.get_data(as_text=True)
        assert "Use this list" in response.get_data(as_text=True)
    assert (run.exit_code, run.total("removed")) == (0, 3)
    entries = token_requests(sandbox)
    assert [entry["grant_type"] for entry in entries] == ["refresh_token"]  # one refresh served all four
    assert_at_most_one_token_request_a_second(entries)
    assert cc_tokens.get_connection(db, sandbox.organisation_id)["needs_grant"] == 0


@pytest.mark.slow
def test_grant_access_in_the_second_the_hourly_job_refreshes(app, db, tmp_path, at_cc_limits):
    from urllib.parse import urlsplit

    from cc_sandbox.store import DEMO_EMAIL, DEMO_PASSWORD

    sandbox = at_cc_limits
    stored = cc_tokens.load_token(db, app.config["SECRET_KEY"], sandbox.organisation_id)
    cc_tokens.save_token(db, app.config["SECRET_KEY"], sandbox.organisation_id,
                         dict(stored, expires_at=0))  # the job must refresh before its first request
    admin = logged_in_client(app)
    callback = accept_in_the_sandbox(admin, sandbox, (DEMO_EMAIL, DEMO_PASSWORD))

    page, run = all_at_once(lambda: admin.get(callback, follow_redirects=True),
                            lambda: hourly_job(app, tmp_path))

    assert page.status_code == 200 and NOTICE in page.get_data(as_text=True)
    assert urlsplit(page.request.url).path == f"/elections/{sandbox.election_id}/integration"
    assert (run.exit_code, run.total("removed")) == (0, 3)
    entries = token_requests(sandbox)
    assert "authorization_code" in [entry["grant_type"] for entry in entries]
    assert_at_most_one_token_request_a_second(entries)
    assert cc_tokens.get_connection(db, sandbox.organisation_id)["needs_grant"] == 0


def accept_in_the_sandbox(admin, sandbox, login):
    """Press Grant access, sign in and Accept at the sandbox; return the callback path with its query."""
    import re
    from urllib.parse import urlsplit

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
