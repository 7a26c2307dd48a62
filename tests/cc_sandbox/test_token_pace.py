"""CC's token endpoint takes about one request a second per application; the sandbox keeps that pace by
default and records every token-endpoint request, so tests can show eo_cc never crowds it and never
presents a refresh token twice."""
import threading

import pytest
import requests

from cc_sandbox import server
from cc_sandbox.store import DEMO_CLIENT_ID

from .helpers import CLIENT, authorize, control, exchange, grant, refresh, stats


@pytest.fixture
def paced(tmp_path):
    """A sandbox with every default, the token pace included, whose token pace sees every request
    arrive at one frozen instant: "within the second" whatever the machine's load."""
    with server.start(tmp_path / "sandbox.sqlite", demo=True, requests_per_second=None) as running:
        running.sandbox.token_limiter.monotonic = lambda: 1000.0
        yield running


def test_token_endpoint_allows_one_request_a_second_by_default(paced):
    assert paced.sandbox.token_limiter.rate == 1
    token = grant(paced)
    response = refresh(paced, token["refresh_token"])
    assert response.status_code == 429
    assert response.json()["error"] == "too_many_requests"
    assert response.json()["error_description"]
    assert "Retry-After" not in response.headers


def test_each_token_request_is_recorded_with_its_arrival_and_outcome(paced):
    token = grant(paced)
    refresh(paced, token["refresh_token"])
    first, second = stats(paced)["token_requests"]
    assert first["endpoint"] == "token" and first["grant_type"] == "authorization_code"
    assert (first["client_id"], first["status"], first["outcome"]) == (DEMO_CLIENT_ID, 200, "issued")
    assert second["grant_type"] == "refresh_token"
    assert (second["status"], second["outcome"]) == (429, "too_many_requests")
    assert second["refresh_token_spent"] is False  # paced out before it was looked at: still live
    assert first["at"].endswith("Z") and first["epoch"] <= second["epoch"]


def test_a_paced_out_refresh_leaves_its_token_usable(paced):
    token = grant(paced)
    assert refresh(paced, token["refresh_token"]).status_code == 429
    paced.sandbox.token_limiter.rate = None  # as if a second had passed
    assert refresh(paced, token["refresh_token"]).status_code == 200


def test_revocation_counts_toward_the_token_pace(paced):
    token = grant(paced)
    response = requests.post(paced.revoke_url, auth=CLIENT, data={"token": token["refresh_token"]})
    assert response.status_code == 429
    assert response.json()["error"] == "too_many_requests"
    revoke = stats(paced)["token_requests"][-1]
    assert (revoke["endpoint"], revoke["outcome"]) == ("revoke", "too_many_requests")


def test_the_pace_is_per_application(paced):
    control(paced, "seed", account={"email": DEMO_CLIENT_ID + "@example.org"},
            client={"client_id": "other-app", "client_secret": "other-secret"}).raise_for_status()
    grant(paced)
    response = requests.post(paced.revoke_url, auth=("other-app", "other-secret"), data={"token": "x"})
    assert response.status_code == 200


@pytest.mark.parametrize("off", [None, 0])
def test_the_token_pace_can_be_turned_off_and_on_while_running(paced, off):
    changed = control(paced, "limits", token_requests_per_second=off).json()
    assert changed["token_requests_per_second"] == off
    token = grant(paced)
    token = refresh(paced, token["refresh_token"]).json()
    control(paced, "limits", token_requests_per_second=1)
    token = refresh(paced, token["refresh_token"])  # the first the pace sees
    assert token.status_code == 200
    assert refresh(paced, token.json()["refresh_token"]).status_code == 429


def test_the_token_pace_is_a_constructor_option(tmp_path):
    with server.start(tmp_path / "sandbox.sqlite", demo=True, token_requests_per_second=None) as sandbox:
        token = grant(sandbox)
        assert refresh(sandbox, token["refresh_token"]).status_code == 200


def test_a_refresh_token_presented_again_is_recorded_as_spent(sandbox):
    first = grant(sandbox)
    assert refresh(sandbox, first["refresh_token"]).status_code == 200
    again = refresh(sandbox, first["refresh_token"])
    assert again.json()["error"] == "invalid_grant"
    exchanged, rotated, reused = stats(sandbox)["token_requests"]
    assert "refresh_token_spent" not in exchanged
    assert (rotated["refresh_token_spent"], rotated["refresh_token_state"]) == (False, "live")
    assert (reused["refresh_token_spent"], reused["refresh_token_state"]) == (True, "spent")
    assert reused["refresh_token"] == rotated["refresh_token"] and len(reused["refresh_token"]) == 12
    assert first["refresh_token"] not in str(stats(sandbox))  # only a one-way tag is kept


def test_a_revoked_refresh_token_is_not_counted_as_spent(sandbox):
    token = grant(sandbox)
    requests.post(sandbox.revoke_url, auth=CLIENT, data={"token": token["refresh_token"]}).raise_for_status()
    refused = refresh(sandbox, token["refresh_token"])
    assert refused.status_code == 400
    entry = stats(sandbox)["token_requests"][-1]
    assert (entry["refresh_token_spent"], entry["refresh_token_state"]) == (False, "revoked")


def test_refuse_refresh_fault_is_recorded_with_the_token_still_live(sandbox):
    token = grant(sandbox)
    sandbox.sandbox.set_faults({"refuse_refresh": True})
    assert refresh(sandbox, token["refresh_token"]).json()["error"] == "invalid_grant"
    entry = stats(sandbox)["token_requests"][-1]
    assert (entry["outcome"], entry["refresh_token_spent"]) == ("invalid_grant", False)


def test_bad_client_credentials_are_recorded_too(sandbox):
    code = authorize(sandbox, requests.Session())["code"]
    assert exchange(sandbox, code, auth=("unknown-app", "x")).status_code == 401
    entry = stats(sandbox)["token_requests"][-1]
    assert (entry["client_id"], entry["outcome"]) == ("unknown-app", "invalid_client")


def concurrently(count, action):
    """Run action() in `count` threads released together by a barrier; returns their results."""
    barrier, results = threading.Barrier(count), [None] * count

    def run(index):
        barrier.wait()
        results[index] = action()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_refreshes_at_once_with_one_token_spend_it_only_once(sandbox):
    token = grant(sandbox)
    responses = concurrently(2, lambda: refresh(sandbox, token["refresh_token"]))
    assert sorted(r.status_code for r in responses) == [200, 400]
    refreshes = [e for e in stats(sandbox)["token_requests"] if e["grant_type"] == "refresh_token"]
    assert sorted(e["refresh_token_spent"] for e in refreshes) == [False, True]


def test_two_token_requests_at_once_only_one_is_served(paced):
    token = grant(paced)
    paced.sandbox.token_limiter.monotonic = lambda: 2000.0  # some seconds on, frozen again
    tokens = [token["access_token"], token["refresh_token"]]
    responses = concurrently(2, lambda: requests.post(paced.revoke_url, auth=CLIENT,
                                                      data={"token": tokens.pop()}))
    assert sorted(r.status_code for r in responses) == [200, 429]


@pytest.mark.parametrize("value", ["fast", -1, True])
def test_a_bad_token_pace_is_refused(paced, value):
    assert control(paced, "limits", token_requests_per_second=value).status_code == 400
