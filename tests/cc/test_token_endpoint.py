"""CC's token endpoint: one pace for every process, one more try when busy, one refresh at a time."""
import contextlib
import os

import pytest
import requests
from authlib.integrations.base_client import OAuthError

from eo_cc.cc import tokens as cc_tokens
from eo_cc.cc import token_endpoint
from eo_cc.cc.api import CCError, GrantRevoked
from eo_cc.cc.budget import is_locked
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
    """Whether some thread or process holds the connection's lock (asked without waiting)."""
    return is_locked(os.path.join(os.path.dirname(config["DATABASE"]), token_endpoint.LOCKS_FOLDER,
                                  f"{organisation_id}.lock"))


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
