"""The Constant Contact sandbox, exercised over real HTTP with requests."""
import os
import re
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from cc_sandbox import server
from cc_sandbox.store import DEMO_CLIENT_ID, DEMO_EMAIL

from .helpers import (
    CLIENT,
    REDIRECT_URI,
    api,
    authorize,
    contact_ids,
    exchange,
    grant,
    lists_by_name,
    member_emails,
    pkce_pair,
    refresh,
    remove,
    seed_big_list,
    start,
    wait_for_activity,
)


def test_sign_in_page_has_labelled_email_and_password_fields(sandbox):
    page = requests.get(sandbox.authorize_url, params={
        "client_id": DEMO_CLIENT_ID, "redirect_uri": REDIRECT_URI, "response_type": "code", "state": "s"})
    assert '<label for="email">Email</label>' in page.text
    assert '<label for="password">Password</label>' in page.text
    assert ">Sign in</button>" in page.text


def test_wrong_password_stays_on_sign_in_page(sandbox):
    browser = requests.Session()
    browser.get(sandbox.authorize_url, params={
        "client_id": DEMO_CLIENT_ID, "redirect_uri": REDIRECT_URI, "response_type": "code"})
    page = browser.post(f"{sandbox.url}/oauth2/default/v1/signin",
                        data={"email": DEMO_EMAIL, "password": "wrong"})
    assert page.status_code == 401
    assert "do not match" in page.text


def test_code_flow_with_pkce_gives_a_working_long_bearer_token(sandbox):
    verifier, challenge = pkce_pair()
    answer = authorize(sandbox, requests.Session(), challenge=challenge)
    assert answer["state"] == "state-123"
    token = exchange(sandbox, answer["code"], verifier).json()
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 86400
    assert len(token["access_token"]) >= 1000
    assert token["refresh_token"] and token["id_token"]
    assert token["scope"] == "contact_data offline_access"
    assert "Annual Meeting 2026 — Eligible Voters" in lists_by_name(sandbox, token)


def test_signed_in_user_goes_straight_to_accept(sandbox):
    browser = requests.Session()
    authorize(sandbox, browser)
    page = browser.get(sandbox.authorize_url, params={
        "client_id": DEMO_CLIENT_ID, "redirect_uri": REDIRECT_URI, "response_type": "code"})
    assert page.url.endswith("/consent")
    assert ">Accept</button>" in page.text and ">Deny</button>" in page.text


def test_authorization_code_works_only_once(sandbox):
    code = authorize(sandbox, requests.Session())["code"]
    assert exchange(sandbox, code).status_code == 200
    again = exchange(sandbox, code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("verifier, redirect_uri", [
    (None, REDIRECT_URI),
    ("a-different-verifier-that-is-long-enough-to-be-valid-1234", REDIRECT_URI),
    ("RIGHT", "http://127.0.0.1:5000/somewhere-else"),
])
def test_code_exchange_checks_pkce_and_redirect_uri(sandbox, verifier, redirect_uri):
    right_verifier, challenge = pkce_pair()
    code = authorize(sandbox, requests.Session(), challenge=challenge)["code"]
    response = exchange(sandbox, code, right_verifier if verifier == "RIGHT" else verifier,
                        redirect_uri=redirect_uri)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("auth", [None, (DEMO_CLIENT_ID, "wrong-secret"), ("unknown-app", "x")])
def test_token_endpoint_refuses_bad_client_credentials(sandbox, auth):
    code = authorize(sandbox, requests.Session())["code"]
    response = exchange(sandbox, code, auth=auth)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert exchange(sandbox, code).status_code == 200  # the refused attempt did not use the code


def test_deny_redirects_with_access_denied_and_state(sandbox):
    answer = authorize(sandbox, requests.Session(), decision="deny")
    assert answer["error"] == "access_denied"
    assert answer["state"] == "state-123"
    assert "code" not in answer


@pytest.mark.parametrize("redirect_uri", ["https://evil.example/callback", "http://example.com:5000/cb"])
def test_authorize_refuses_unregistered_redirect_uri_without_redirecting(sandbox, redirect_uri):
    page = requests.get(sandbox.authorize_url, allow_redirects=False, params={
        "client_id": DEMO_CLIENT_ID, "redirect_uri": redirect_uri, "response_type": "code"})
    assert page.status_code == 400
    assert "redirect_uri is not registered" in page.text


def test_any_localhost_port_is_an_acceptable_redirect_uri(sandbox):
    answer = authorize(sandbox, requests.Session(), redirect_uri="http://localhost:8765/cb")
    assert exchange(sandbox, answer["code"], redirect_uri="http://localhost:8765/cb").status_code == 200


def test_refresh_rotates_and_the_old_refresh_token_is_refused(sandbox):
    first = grant(sandbox)
    second = refresh(sandbox, first["refresh_token"])
    assert second.status_code == 200
    second = second.json()
    assert second["refresh_token"] != first["refresh_token"]
    reused = refresh(sandbox, first["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert reused.json()["error_description"]
    assert api(sandbox, second, "/v3/contact_lists").status_code == 200
    assert refresh(sandbox, second["refresh_token"]).status_code == 200


def test_revoked_access_token_is_unauthorized(sandbox):
    token = grant(sandbox)
    revoked = requests.post(sandbox.revoke_url, auth=CLIENT, data={"token": token["access_token"]})
    assert revoked.status_code == 200
    response = api(sandbox, token, "/v3/contact_lists")
    assert response.status_code == 401
    assert response.json() == [{"error_key": "unauthorized", "error_message": "Unauthorized"}]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}])
def test_api_without_a_valid_token_is_unauthorized(sandbox, headers):
    response = requests.get(f"{sandbox.url}/v3/contacts", headers=headers)
    assert response.status_code == 401
    assert response.json()[0]["error_key"] == "unauthorized"


def test_expired_access_token_is_unauthorized(tmp_path):
    with start(tmp_path, token_lifetime=1) as sandbox:
        token = grant(sandbox)
        assert token["expires_in"] == 1
        time.sleep(1.1)
        assert api(sandbox, token, "/v3/contact_lists").status_code == 401


def test_contacts_pagination_follows_relative_next_links_over_all_members(sandbox):
    list_id, emails = seed_big_list(sandbox, 1234)
    token = grant(sandbox)
    seen, pages, path = [], 0, f"/v3/contacts?lists={list_id}&limit=500"
    while path:
        body = api(sandbox, token, path).json()
        assert body["contacts_count"] == 1234
        seen += [contact["email_address"]["address"] for contact in body["contacts"]]
        pages += 1
        path = body["_links"].get("next", {}).get("href")
        assert path is None or path.startswith("/v3/contacts?cursor=")
    assert pages == 3
    assert seen == emails


def test_contact_lists_page_with_counts_and_favourites(sandbox):
    token = grant(sandbox)
    first = api(sandbox, token, "/v3/contact_lists", params={
        "limit": 2, "include_count": "true", "include_membership_count": "active"}).json()
    assert first["lists_count"] == 3
    assert [item["name"] for item in first["lists"]] == ["Annual Meeting 2026 — Eligible Voters", "Newsletter"]
    assert first["lists"][0]["membership_count"] == 25 and first["lists"][0]["favorite"] is True
    second = api(sandbox, token, first["_links"]["next"]["href"]).json()
    assert [item["name"] for item in second["lists"]] == ["Volunteers"]
    assert "next" not in second["_links"]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"limit": "many"},
                                    {"status": "bogus"}, {"lists": ",".join(["x"] * 26)}])
def test_contacts_bad_query_is_a_400_error_array(sandbox, params):
    response = api(sandbox, grant(sandbox), "/v3/contacts", params=params)
    assert response.status_code == 400
    assert response.json()[0]["error_key"] and response.json()[0]["error_message"]


def test_contacts_lookup_by_email_with_list_memberships(sandbox):
    token = grant(sandbox)
    lists = lists_by_name(sandbox, token)
    body = api(sandbox, token, "/v3/contacts", params={
        "email": "voter1@example.org", "include": "list_memberships"}).json()
    assert len(body["contacts"]) == 1
    assert set(body["contacts"][0]["list_memberships"]) == {item["list_id"] for item in lists.values()}


def test_remove_activity_completes_and_removes_only_memberships(sandbox):
    token = grant(sandbox)
    lists = lists_by_name(sandbox, token)
    voters = lists["Annual Meeting 2026 — Eligible Voters"]["list_id"]
    newsletter = lists["Newsletter"]["list_id"]
    ids = contact_ids(sandbox, token, "voter1@example.org", "voter2@example.org")
    created = remove(sandbox, token, ids, voters)
    assert created.status_code == 201
    activity = created.json()
    assert activity["state"] == "initialized"
    assert activity["status"] == {"items_total_count": 2, "items_completed_count": 0, "list_count": 1}
    assert activity["_links"]["self"]["href"] == f"/v3/activities/{activity['activity_id']}"
    assert "voter1@example.org" in member_emails(sandbox, voters)
    states, finished = wait_for_activity(sandbox, token, activity["activity_id"])
    assert finished["state"] == "completed" and finished["percent_done"] == 100
    assert "processing" in states
    remaining = member_emails(sandbox, voters)
    assert len(remaining) == 23 and "voter1@example.org" not in remaining
    assert "voter1@example.org" in member_emails(sandbox, newsletter)
    assert contact_ids(sandbox, token, "voter1@example.org") == ids[:1]


def test_remove_activity_needs_json(sandbox):
    response = api(sandbox, grant(sandbox), "/v3/activities/remove_list_memberships", method="POST",
                   data="contact_ids=1")
    assert response.status_code == 415


def test_remove_activity_refuses_more_than_500_contacts(sandbox):
    token = grant(sandbox)
    voters = lists_by_name(sandbox, token)["Annual Meeting 2026 — Eligible Voters"]["list_id"]
    response = remove(sandbox, token, [f"id-{n}" for n in range(501)], voters)
    assert response.status_code == 400
    assert "500" in response.json()[0]["error_message"]


@pytest.mark.parametrize("method, path", [
    ("DELETE", "/v3/contacts/some-contact"),
    ("PUT", "/v3/contacts/some-contact"),
    ("POST", "/v3/activities/contact_delete"),
    ("DELETE", "/v3/contact_lists/some-list"),
    ("DELETE", "/v3/contact_lists"),
])
def test_forbidden_calls_are_refused_and_recorded(sandbox, method, path):
    response = api(sandbox, grant(sandbox), path, method=method, json={})
    assert response.status_code == 405
    calls = requests.get(f"{sandbox.url}/_sandbox/stats").json()["forbidden_calls"]
    assert [(call["method"], call["path"], call["client_id"]) for call in calls] == [
        (method, path, DEMO_CLIENT_ID)]


def test_rapid_requests_are_throttled_without_retry_after(tmp_path):
    with start(tmp_path, requests_per_second=4) as sandbox:
        token = grant(sandbox)
        responses = [api(sandbox, token, "/v3/contact_lists") for _ in range(5)]
        throttled = [r for r in responses if r.status_code == 429]
        assert throttled
        assert throttled[0].json() == {"error_key": "throttled", "error_message": "Too Many Requests"}
        assert "Retry-After" not in throttled[0].headers
        assert requests.get(f"{sandbox.url}/_sandbox/stats").json()["throttled"] == len(throttled)
        time.sleep(1.05)
        assert api(sandbox, token, "/v3/contact_lists").status_code == 200


def test_daily_quota_is_exceeded_after_the_configured_quota(tmp_path):
    with start(tmp_path, daily_quota=3) as sandbox:
        token = grant(sandbox)
        statuses = [api(sandbox, token, "/v3/contact_lists").status_code for _ in range(3)]
        over = api(sandbox, token, "/v3/contact_lists")
        assert statuses == [200, 200, 200]
        assert over.status_code == 429
        assert over.json() == {"error_key": "quota_exceeded", "error_message": "Limit Exceeded"}


@pytest.mark.parametrize("fault, status, error_key", [
    ("error_500", 500, "server_error"),
    ("error_503", 503, "service_unavailable"),
])
def test_server_error_faults(sandbox, fault, status, error_key):
    token = grant(sandbox)
    requests.post(f"{sandbox.url}/_sandbox/faults", json={fault: 1.0}).raise_for_status()
    response = api(sandbox, token, "/v3/contact_lists")
    assert response.status_code == status
    assert response.json()[0]["error_key"] == error_key


def test_throttled_fault_looks_like_cc_throttling(sandbox):
    token = grant(sandbox)
    sandbox.sandbox.set_faults({"throttled": 1.0})
    response = api(sandbox, token, "/v3/contact_lists")
    assert response.status_code == 429
    assert response.json()["error_key"] == "throttled"


def test_dropped_connection_fault_is_a_connection_error(sandbox):
    token = grant(sandbox)
    sandbox.sandbox.set_faults({"drop": 1.0})
    with pytest.raises(requests.ConnectionError):
        api(sandbox, token, "/v3/contact_lists")


def test_slow_fault_runs_past_the_client_timeout(sandbox):
    token = grant(sandbox)
    sandbox.sandbox.set_faults({"slow": 1.0, "slow_seconds": 1.0})
    with pytest.raises(requests.Timeout):
        api(sandbox, token, "/v3/contact_lists", timeout=0.3)


def test_fault_shares_are_seeded_and_repeatable(tmp_path):
    outcomes = []
    for run in range(2):
        with start(tmp_path / str(run), faults={"error_500": 0.5, "seed": 7}) as sandbox:
            token = grant(sandbox)
            outcomes.append([api(sandbox, token, "/v3/contact_lists").status_code for _ in range(12)])
    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {200, 500}


def test_new_fault_settings_with_the_same_seed_go_on_with_its_faults(tmp_path):
    settings = {"error_500": 0.5, "seed": 7}
    with start(tmp_path / "whole", faults=settings) as sandbox:
        token = grant(sandbox)
        whole = [api(sandbox, token, "/v3/contact_lists").status_code for _ in range(12)]
    with start(tmp_path / "halves", faults=settings) as sandbox:
        token = grant(sandbox)
        halves = [api(sandbox, token, "/v3/contact_lists").status_code for _ in range(6)]
        requests.post(f"{sandbox.url}/_sandbox/faults",
                      json={**settings, "activity_outcome": "failed"}).raise_for_status()
        halves += [api(sandbox, token, "/v3/contact_lists").status_code for _ in range(6)]
    assert halves == whole


def test_expire_tokens_fault_needs_a_refresh(sandbox):
    token = grant(sandbox)
    requests.post(f"{sandbox.url}/_sandbox/faults", json={"expire_tokens": True}).raise_for_status()
    assert api(sandbox, token, "/v3/contact_lists").status_code == 401
    fresh = refresh(sandbox, token["refresh_token"]).json()
    assert api(sandbox, fresh, "/v3/contact_lists").status_code == 200


def test_refuse_refresh_fault_gives_invalid_grant(sandbox):
    token = grant(sandbox)
    sandbox.sandbox.set_faults({"refuse_refresh": True})
    response = refresh(sandbox, token["refresh_token"])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("outcome", ["failed", "timed_out"])
def test_failing_activities_remove_nobody(sandbox, outcome):
    token = grant(sandbox)
    voters = lists_by_name(sandbox, token)["Annual Meeting 2026 — Eligible Voters"]["list_id"]
    sandbox.sandbox.set_faults({"activity_outcome": outcome})
    activity = remove(sandbox, token, contact_ids(sandbox, token, "voter3@example.org"), voters).json()
    _, finished = wait_for_activity(sandbox, token, activity["activity_id"])
    assert finished["state"] == outcome
    assert finished["activity_errors"]
    assert "voter3@example.org" in member_emails(sandbox, voters)


@pytest.mark.parametrize("settings", [{"error_500": 2}, {"nonsense": 1}, {"activity_outcome": "lost"},
                                      {"drop": 0.6, "slow": 0.6}, ["drop"], {"slow_seconds": "long"}])
def test_bad_fault_settings_are_refused(sandbox, settings):
    response = requests.post(f"{sandbox.url}/_sandbox/faults", json=settings)
    assert response.status_code == 400
    assert response.json()["error"]


def test_state_survives_a_restart(tmp_path):
    with start(tmp_path) as sandbox:
        token = grant(sandbox)
        voters = lists_by_name(sandbox, token)["Annual Meeting 2026 — Eligible Voters"]["list_id"]
        activity = remove(sandbox, token, contact_ids(sandbox, token, "voter4@example.org"), voters).json()
        wait_for_activity(sandbox, token, activity["activity_id"])
    with start(tmp_path) as sandbox:
        lists = lists_by_name(sandbox, token)
        assert len(lists) == 3
        assert lists["Annual Meeting 2026 — Eligible Voters"]["membership_count"] == 24
        assert refresh(sandbox, token["refresh_token"]).status_code == 200


def test_seed_demo_is_idempotent(tmp_path):
    path = tmp_path / "sandbox.sqlite"
    first = server.seed_demo(path)
    second = server.seed_demo(path)
    assert first == second
    assert list(first["lists"]) == ["Annual Meeting 2026 — Eligible Voters", "Newsletter", "Volunteers"]
    assert first["voter_list_id"] == first["lists"]["Annual Meeting 2026 — Eligible Voters"]


def test_list_page_shows_current_members(sandbox):
    voters = server.seed_demo(sandbox.sandbox.db_path)["voter_list_id"]
    index = requests.get(f"{sandbox.url}/_sandbox/")
    assert f"/_sandbox/lists/{voters}" in index.text
    page = requests.get(f"{sandbox.url}/_sandbox/lists/{voters}")
    assert "voter25@example.org" in page.text and "reader1@example.org" not in page.text


def test_cc_sandbox_command_is_a_flask_command_of_eo_cc_with_help(tmp_path):
    """The sandbox plugs into `flask --app eo_cc` through its flask.commands entry point."""
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "eo_cc", "cc-sandbox", "--help"],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "EO_CC_INSTANCE_PATH": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "--seed-demo" in result.stdout and "5001" in result.stdout


@pytest.mark.slow
def test_seeding_100000_contacts_takes_seconds(sandbox):
    started = time.monotonic()
    list_id, _ = seed_big_list(sandbox, 100_000)
    assert time.monotonic() - started < 30
    token = grant(sandbox)
    started = time.monotonic()
    body = api(sandbox, token, f"/v3/contacts?lists={list_id}&limit=500").json()
    assert len(body["contacts"]) == 500 and body["contacts_count"] == 100_000
    later = api(sandbox, token, body["_links"]["next"]["href"]).json()
    assert later["contacts"][0]["email_address"]["address"] == "member00500@example.org"
    assert time.monotonic() - started < 5


def test_activity_reports_processing_with_percent_done_before_it_completes(tmp_path):
    with start(tmp_path, activity_delay=3) as sandbox:
        token = grant(sandbox)
        voters = lists_by_name(sandbox, token)["Annual Meeting 2026 — Eligible Voters"]["list_id"]
        activity = remove(sandbox, token, contact_ids(sandbox, token, "voter5@example.org"), voters).json()
        time.sleep(1.5)
        body = api(sandbox, token, f"/v3/activities/{activity['activity_id']}").json()
        assert body["state"] == "processing"
        assert 0 < body["percent_done"] < 100
        assert "voter5@example.org" in member_emails(sandbox, voters)


def test_unknown_activity_is_404(sandbox):
    response = api(sandbox, grant(sandbox), "/v3/activities/no-such-activity")
    assert response.status_code == 404
    assert response.json()[0]["error_key"] == "not.found"


def test_token_endpoint_can_be_paced(tmp_path):
    with start(tmp_path, token_requests_per_second=1) as sandbox:
        token = grant(sandbox)
        response = refresh(sandbox, token["refresh_token"])
        assert response.status_code == 429
        time.sleep(1.05)
        assert refresh(sandbox, token["refresh_token"]).status_code == 200


def test_limits_can_be_changed_while_running(sandbox):
    token = grant(sandbox)
    changed = requests.post(f"{sandbox.url}/_sandbox/limits", json={"daily_quota": 1, "reset_usage": True})
    assert changed.json()["daily_quota"] == 1
    assert api(sandbox, token, "/v3/contact_lists").status_code == 200
    assert api(sandbox, token, "/v3/contact_lists").json()["error_key"] == "quota_exceeded"
    assert requests.get(f"{sandbox.url}/_sandbox/stats").json()["quota_exceeded"] == 1


def test_seed_returns_ids_that_the_api_shows(sandbox):
    seeded = requests.post(f"{sandbox.url}/_sandbox/seed", json={
        "account": {"email": "Other@Example.org", "password": "pw", "name": "Other Club"},
        "lists": [{"name": "Members", "emails": ["a@example.org", "B@example.org"]}]}).json()
    assert seeded["lists"][0]["member_count"] == 2
    members = requests.get(f"{sandbox.url}/_sandbox/lists/{seeded['lists'][0]['list_id']}/members.json").json()
    assert members["emails"] == ["a@example.org", "b@example.org"]
    demo_lists = lists_by_name(sandbox, grant(sandbox))
    assert "Members" not in demo_lists  # another account's list stays in its account


@pytest.mark.parametrize("body", [{}, {"account": {"password": "x"}}, {"account": {"email": "x@y.z"},
                                                                           "lists": [{"emails": []}]}])
def test_bad_seed_data_is_a_400(sandbox, body):
    response = requests.post(f"{sandbox.url}/_sandbox/seed", json=body)
    assert response.status_code == 400
    assert response.json()["error"]


def test_controls_answer_only_on_the_loopback_address(tmp_path):
    from cc_sandbox.app import create_app

    client = create_app(tmp_path / "sandbox.sqlite").test_client()
    assert client.get("/_sandbox/stats", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 403
    assert client.get("/_sandbox/stats", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200


def test_another_account_can_take_over_a_pending_authorization(sandbox):
    requests.post(f"{sandbox.url}/_sandbox/seed", json={
        "account": {"email": "treasurer@example.org", "password": "pw-2", "name": "Treasurer"},
        "lists": [{"name": "Treasurer's list", "emails": ["t@example.org"]}]}).raise_for_status()
    browser = requests.Session()
    authorize(sandbox, browser)  # signs in as the demo account
    browser.get(sandbox.authorize_url, params={
        "client_id": DEMO_CLIENT_ID, "redirect_uri": REDIRECT_URI, "response_type": "code", "state": "s2"})
    page = browser.post(f"{sandbox.url}/oauth2/default/v1/signout", data={"switch": "1"})
    assert "Sign in" in page.text
    page = browser.post(page.url, data={"email": "treasurer@example.org", "password": "pw-2"})
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text).group(1)
    answer = browser.post(page.url, data={"request_id": request_id, "decision": "accept"}, allow_redirects=False)
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    token = exchange(sandbox, code).json()
    assert list(lists_by_name(sandbox, token)) == ["Treasurer's list"]
