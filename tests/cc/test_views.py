"""Integration Settings: granting CC access, choosing a list, disconnecting (CC mocked over HTTP)."""
import base64
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from eo_cc.cc import tokens as cc_tokens
from eo_cc.cc import views as integration
from eo_cc.db import one, rows

from ..factories import database_bytes, make_admin, make_election, make_voters, organisation_of

AUTHORIZE_URL = "https://authz.test/oauth2/default/v1/authorize"
TOKEN_URL = "https://authz.test/oauth2/default/v1/token"
REVOKE_URL = "https://authz.test/oauth2/default/v1/revoke"
LISTS_URL = "https://api.test/v3/contact_lists"
SUMMARY_URL = "https://api.test/v3/account/summary"
SCOPE = "account_read contact_data offline_access"
ACCESS_TOKEN = "eyJ-access-" + "A" * 1200
REFRESH_TOKEN = "refresh-" + "R" * 40
NOTICE = "now configured to integrate with your Constant Contact account"


def token_response(access=ACCESS_TOKEN, refresh=REFRESH_TOKEN):
    return {"access_token": access, "refresh_token": refresh, "token_type": "Bearer",
            "expires_in": 86400, "scope": "contact_data offline_access", "id_token": "id.jwt.x"}


def account_summary(account_id="acct-1", name="Ada's Club", email="ada@club.example"):
    return {"encoded_account_id": account_id, "organization_name": name, "contact_email": email,
            "first_name": "Ada", "last_name": "Lovelace"}


def mock_grant(requests_mock, token=None, summary=None):
    """CC's answers to one grant: the token, then the account summary eo_cc asks for."""
    requests_mock.post(TOKEN_URL, json=token or token_response())
    requests_mock.get(SUMMARY_URL, json=summary or account_summary())


def a_list(list_id, name, favorite=False, members=10):
    return {"list_id": list_id, "name": name, "favorite": favorite, "membership_count": members}


@pytest.fixture
def election_id(db, admin):
    return make_election(db, admin, has_announcement_email=0, has_reminder_emails=0)


@pytest.fixture
def connected(app, db, organisation):
    """The organisation's CC connection with a fresh token (no refresh needed); its id."""
    cc_tokens.save_token(db, app.config["SECRET_KEY"], organisation, {
        "access_token": "stored-access", "refresh_token": "stored-refresh", "token_type": "Bearer",
        "expires_at": int(time.time()) + 86400, "scope": "contact_data offline_access"})
    return organisation


def settings_page(client, election_id):
    return client.get(f"/elections/{election_id}/integration").get_data(as_text=True)


def start_grant(client, election_id):
    """Press Grant access; return the authorize URL's query parameters."""
    response = client.post(f"/elections/{election_id}/integration/grant")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(AUTHORIZE_URL + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def finish_grant(client, state, **extra):
    query = {"code": "the-code", "state": state, **extra}
    return client.get("/integration/cc/callback", query_string=query, follow_redirects=True)


def connection_count(db):
    return db.execute("SELECT count(*) FROM cc_connections").fetchone()[0]


# Grant access

def test_grant_access_redirects_to_constant_contact_with_pkce(client, election_id):
    params = start_grant(client, election_id)
    assert params["response_type"] == "code"
    assert params["client_id"] == "test-client-id"
    assert params["redirect_uri"] == "http://localhost/integration/cc/callback"
    assert params["scope"] == SCOPE
    assert len(params["state"]) >= 20
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) >= 43


def test_grant_access_sends_no_code_challenge_when_pkce_is_off(app, client, election_id):
    app.config["CC_USE_PKCE"] = False
    integration.init_app(app)
    params = start_grant(client, election_id)
    assert "code_challenge" not in params and "code_challenge_method" not in params
    assert params["scope"] == SCOPE


def test_successful_grant_stores_encrypted_tokens_and_shows_the_notice(app, client, db, organisation,
                                                                       election_id, requests_mock):
    mock_grant(requests_mock)
    state = start_grant(client, election_id)["state"]
    response = finish_grant(client, state)
    page = response.get_data(as_text=True)
    assert NOTICE in page
    assert response.request.path == f"/elections/{election_id}/integration"
    assert cc_tokens.load_token(db, app.config["SECRET_KEY"], organisation)["refresh_token"] == REFRESH_TOKEN
    data = database_bytes(app.config["DATABASE"])
    assert ACCESS_TOKEN.encode() not in data and REFRESH_TOKEN.encode() not in data
    assert "Select a List" in page
    with client.session_transaction() as cookie_session:
        assert ACCESS_TOKEN not in str(dict(cookie_session))
        assert not any(key.startswith("_state_cc_") for key in cookie_session)


def test_token_request_uses_http_basic_auth_and_the_code_verifier(client, election_id, requests_mock):
    mock_grant(requests_mock)
    state = start_grant(client, election_id)["state"]
    finish_grant(client, state)
    sent = next(r for r in requests_mock.request_history if r.url == TOKEN_URL)
    expected = base64.b64encode(b"test-client-id:test-client-secret").decode()
    assert sent.headers["Authorization"] == f"Basic {expected}"
    body = parse_qs(sent.text)
    assert body["grant_type"] == ["authorization_code"] and body["code"] == ["the-code"]
    assert body["redirect_uri"] == ["http://localhost/integration/cc/callback"]
    assert len(body["code_verifier"][0]) >= 43
    assert "client_secret" not in body


def test_grant_returns_to_the_election_it_started_from(db, client, admin, election_id, requests_mock):
    other_id = make_election(db, admin, title="Second election")
    mock_grant(requests_mock)
    state = start_grant(client, other_id)["state"]
    assert finish_grant(client, state).request.path == f"/elections/{other_id}/integration"


def test_granting_again_replaces_the_single_connection(app, client, db, connected, election_id,
                                                       requests_mock):
    mock_grant(requests_mock, token_response(access="new-access", refresh="new-refresh"))
    finish_grant(client, start_grant(client, election_id)["state"])
    assert connection_count(db) == 1
    assert cc_tokens.load_token(db, app.config["SECRET_KEY"], connected)["refresh_token"] == "new-refresh"


@pytest.mark.parametrize("state", ["not-the-state", ""])
def test_callback_with_a_mismatching_state_stores_nothing(client, db, election_id, requests_mock, state):
    requests_mock.post(TOKEN_URL, json=token_response())
    start_grant(client, election_id)
    response = finish_grant(client, state)
    assert response.status_code == 200
    assert "had expired or did not start here" in response.get_data(as_text=True)
    assert NOTICE not in response.get_data(as_text=True)
    assert not requests_mock.called
    assert connection_count(db) == 0


def test_callback_without_a_grant_in_this_session_stores_nothing(client, db, admin, requests_mock):
    requests_mock.post(TOKEN_URL, json=token_response())
    response = finish_grant(client, "some-state")
    assert "had expired or did not start here" in response.get_data(as_text=True)
    assert response.request.path == "/elections/"
    assert connection_count(db) == 0


def test_deny_shows_a_calm_message_and_stores_nothing(client, db, election_id, requests_mock):
    state = start_grant(client, election_id)["state"]
    response = client.get("/integration/cc/callback", follow_redirects=True, query_string={
        "error": "access_denied", "error_description": "User denied", "state": state})
    assert "You did not grant access; nothing changed." in response.get_data(as_text=True)
    assert response.request.path == f"/elections/{election_id}/integration"
    assert not requests_mock.called
    assert connection_count(db) == 0


def test_reused_code_is_refused_and_stores_nothing(client, db, election_id, requests_mock):
    requests_mock.post(TOKEN_URL, status_code=400, json={
        "error": "invalid_grant", "error_description": "The authorization code is invalid or has expired."})
    response = finish_grant(client, start_grant(client, election_id)["state"])
    page = response.get_data(as_text=True)
    assert "Constant Contact did not grant access; nothing changed." in page and NOTICE not in page
    assert connection_count(db) == 0


@pytest.mark.parametrize("status, body", [
    (429, {"error_key": "throttled", "error_message": "Too Many Requests"}),   # Authlib took this for a token
    (429, {"error": "too_many_requests"}),
    (503, {"error": "temporarily_unavailable"}),
])
def test_a_token_endpoint_busy_twice_at_the_exchange_says_so_and_stores_nothing(client, db, election_id,
                                                                                  requests_mock, status, body):
    exchange = requests_mock.post(TOKEN_URL, status_code=status, json=body)
    response = finish_grant(client, start_grant(client, election_id)["state"])
    assert response.status_code == 200
    assert ("Constant Contact was busy and did not finish the connection; click Grant access again"
            in response.get_data(as_text=True))
    assert NOTICE not in response.get_data(as_text=True)
    assert response.request.path == f"/elections/{election_id}/integration"
    assert exchange.call_count == 2  # one more try: a refused exchange did not use the code
    assert connection_count(db) == 0


@pytest.mark.parametrize("busy", [
    {"status_code": 429, "json": {"error_key": "throttled", "error_message": "Too Many Requests"},
     "headers": {"Retry-After": "0"}},
    {"status_code": 429, "json": {"error": "too_many_requests"}},
    {"status_code": 503, "text": "<html>down</html>"},
])
def test_a_token_endpoint_busy_once_at_the_exchange_still_connects(client, db, election_id, requests_mock,
                                                                   busy):
    exchange = requests_mock.post(TOKEN_URL, [busy, {"json": token_response()}])
    requests_mock.get(SUMMARY_URL, json=account_summary())
    response = finish_grant(client, start_grant(client, election_id)["state"])
    assert NOTICE in response.get_data(as_text=True)
    assert exchange.call_count == 2
    codes = [parse_qs(request.text)["code"] for request in exchange.request_history]
    assert codes == [["the-code"], ["the-code"]]
    assert connection_count(db) == 1


def test_a_token_answer_without_an_access_token_stores_nothing(client, db, election_id, requests_mock):
    requests_mock.post(TOKEN_URL, json={"token_type": "Bearer", "expires_in": 86400})
    response = finish_grant(client, start_grant(client, election_id)["state"])
    assert response.status_code == 200 and NOTICE not in response.get_data(as_text=True)
    assert "did not grant access" in response.get_data(as_text=True)
    assert connection_count(db) == 0


@pytest.mark.parametrize("error", ["<b>Call 555-0100 to verify your account</b>", "invalid_request", "x" * 5000])
def test_an_error_in_the_callback_link_is_never_shown_as_given(client, db, election_id, requests_mock, error):
    state = start_grant(client, election_id)["state"]
    response = client.get("/integration/cc/callback", follow_redirects=True,
                          query_string={"error": error, "state": state})
    page = response.get_data(as_text=True)
    assert "Constant Contact did not grant access; nothing changed." in page
    assert error not in page and "Call 555-0100" not in page
    assert not requests_mock.called and connection_count(db) == 0


def test_unreachable_token_endpoint_stores_nothing(client, db, election_id, requests_mock):
    requests_mock.post(TOKEN_URL, exc=requests.exceptions.ConnectTimeout)
    response = finish_grant(client, start_grant(client, election_id)["state"])
    assert "Could not reach Constant Contact" in response.get_data(as_text=True)
    assert connection_count(db) == 0


def test_missing_client_id_is_reported_as_a_configuration_error(app, client, election_id):
    app.config["CC_CLIENT_ID"] = None
    page = settings_page(client, election_id)
    assert "Constant Contact is not configured on this server" in page
    assert "Grant access" not in page
    response = client.post(f"/elections/{election_id}/integration/grant", follow_redirects=True)
    assert response.request.path == f"/elections/{election_id}/integration"
    assert "not configured" in response.get_data(as_text=True)


# The settings page

def test_settings_page_before_any_grant(client, election_id):
    page = settings_page(client, election_id)
    assert "<title>Integration Settings" in page
    assert "Constant Contact Settings" in page
    assert "Not connected" in page and ">Grant access</button>" in page
    assert "None yet" in page and "Select a List" not in page and "Disconnect" not in page


def test_settings_page_when_connected_offers_select_a_list(client, connected, election_id):
    page = settings_page(client, election_id)
    assert "Connected" in page and "None yet" in page and "Grant access again" not in page
    assert "Select a List</button>" in page and "Disconnect" in page
    assert "every election of\n      Ada&#39;s organisation" in page


def test_settings_page_shows_the_chosen_list_and_change_list(db, client, connected, election_id):
    db["elections"].update(election_id, {"cc_list_id": "l1", "cc_list_name": "Board voters 2026"})
    page = settings_page(client, election_id)
    assert "Board voters 2026" in page and "Change list</button>" in page and "None yet" not in page


def test_refused_refresh_shows_grant_access_again(db, client, connected, election_id):
    cc_tokens.mark_needs_grant(db, connected, "invalid_grant")
    page = settings_page(client, election_id)
    assert "Grant access again" in page
    assert "Select a List" not in page


@pytest.mark.parametrize("announcement, reminders, list_id, warned", [
    (1, 0, "l1", True),
    (0, 1, "l1", True),
    (0, 0, "l1", False),
    (1, 1, None, False),
])
def test_double_mailing_warning(db, client, connected, election_id, announcement, reminders, list_id,
                                warned):
    db["elections"].update(election_id, {"has_announcement_email": announcement,
                                         "has_reminder_emails": reminders,
                                         "cc_list_id": list_id, "cc_list_name": "Voters"})
    page = settings_page(client, election_id)
    assert ("voters would get both" in page) is warned


def test_sync_panel_data_reaches_the_page(db, client, connected, election_id, monkeypatch):
    seen = []
    real = integration.sync_status

    def spy(db_, eid, config):
        seen.append(eid)
        return real(db_, eid, config)
    monkeypatch.setattr(integration, "sync_status", spy)
    page = settings_page(client, election_id)
    assert seen == [election_id]
    assert page.index("Constant Contact Settings") < page.index('id="sync-status"')


# Choosing a list

def mock_two_pages(requests_mock):
    def page(request, context):
        if "cursor" in request.qs:
            return {"lists": [a_list("l3", "Board 2026 voters", favorite=True, members=120),
                              a_list("l4", "Members", members=300)]}
        return {"lists": [a_list("l1", "Zeta committee", favorite=True, members=7),
                          a_list("l2", "alpha newsletter", members=1500)],
                "_links": {"next": {"href": "/v3/contact_lists?cursor=abc"}}}
    return requests_mock.get(LISTS_URL, json=page)


def test_list_page_shows_every_page_of_lists_favourites_first(client, connected, election_id,
                                                              requests_mock):
    mock_two_pages(requests_mock)
    page = client.get(f"/elections/{election_id}/integration/lists").get_data(as_text=True)
    page = page[page.index("<tbody>"):]
    names = ["Board 2026 voters", "Zeta committee", "alpha newsletter", "Members"]
    positions = [page.index(name) for name in names]
    assert positions == sorted(positions)
    assert "1500" in page and page.count(">Use this list</button>") == 4
    assert requests_mock.request_history[0].headers["Authorization"] == "Bearer stored-access"


def test_list_page_without_lists_links_to_constant_contact(client, connected, election_id, requests_mock):
    requests_mock.get(LISTS_URL, json={"lists": []})
    page = client.get(f"/elections/{election_id}/integration/lists").get_data(as_text=True)
    assert "no lists yet" in page
    assert "https://app.constantcontact.com/pages/contacts/ui#lists" in page


def test_list_page_explains_a_constant_contact_outage(client, connected, election_id, requests_mock):
    requests_mock.get(LISTS_URL, status_code=503, json=[{"error_key": "unavailable",
                                                         "error_message": "Service Unavailable"}])
    response = client.get(f"/elections/{election_id}/integration/lists")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Could not load your lists" in page and "Try again" in page


def test_list_page_after_a_refused_refresh_asks_to_grant_again(app, db, client, organisation,
                                                               election_id, requests_mock):
    cc_tokens.save_token(db, app.config["SECRET_KEY"], organisation, {
        "access_token": "old", "refresh_token": "revoked", "token_type": "Bearer",
        "expires_at": int(time.time()) - 60})
    requests_mock.post(TOKEN_URL, status_code=400, json={"error": "invalid_grant"})
    requests_mock.get(LISTS_URL, status_code=401, json=[{"error_key": "unauthorized"}])
    response = client.get(f"/elections/{election_id}/integration/lists", follow_redirects=True)
    assert response.request.path == f"/elections/{election_id}/integration"
    assert "Grant access again" in response.get_data(as_text=True)


def test_list_page_before_any_grant_sends_back_to_settings(client, election_id, requests_mock):
    response = client.get(f"/elections/{election_id}/integration/lists")
    assert response.headers["Location"].endswith(f"/elections/{election_id}/integration")
    assert not requests_mock.called


def test_use_this_list_stores_the_name_constant_contact_gives(db, client, connected, election_id,
                                                              requests_mock):
    mock_two_pages(requests_mock)
    response = client.post(f"/elections/{election_id}/integration/list", follow_redirects=True,
                           data={"list_id": "l3", "list_name": "<forged name>"})
    election = db["elections"].get(election_id)
    assert (election["cc_list_id"], election["cc_list_name"]) == ("l3", "Board 2026 voters")
    assert election["cc_list_chosen_at"]
    assert "now uses the Constant Contact list Board 2026 voters" in response.get_data(as_text=True)
    assert one(db, "SELECT action, detail FROM audit_log WHERE election_id = ?", [election_id]) == {
        "action": "chose Constant Contact list", "detail": "Board 2026 voters"}


def test_use_this_list_refuses_a_list_not_in_the_account(db, client, connected, election_id,
                                                         requests_mock):
    mock_two_pages(requests_mock)
    response = client.post(f"/elections/{election_id}/integration/list", follow_redirects=True,
                           data={"list_id": "someone-elses", "list_name": "X"})
    assert "not in your Constant Contact account" in response.get_data(as_text=True)
    assert db["elections"].get(election_id)["cc_list_id"] is None


def test_changing_the_list_requeues_every_voter_who_voted(db, client, connected, election_id,
                                                          requests_mock):
    db["elections"].update(election_id, {"cc_list_id": "l1", "cc_list_name": "Zeta committee"})
    first, second, third = make_voters(db, election_id, count=3)
    db.execute("UPDATE voters SET has_voted = 1 WHERE id IN (?, ?)", [first, second])
    db["cc_removals"].insert({"election_id": election_id, "email": "voter1@example.org", "state": "done",
                              "list_id": "l1", "contact_id": "c-1", "activity_id": "a-1", "attempts": 2,
                              "queued_at": "2026-01-01T00:00:00+00:00",
                              "updated_at": "2026-01-01T00:00:00+00:00"})
    mock_two_pages(requests_mock)
    client.post(f"/elections/{election_id}/integration/list", data={"list_id": "l4", "list_name": "Members"})
    removals = rows(db, "SELECT email, state, list_id, contact_id, activity_id, attempts FROM cc_removals "
                        "WHERE election_id = ? ORDER BY email", [election_id])
    assert removals == [
        {"email": f"voter{n}@example.org", "state": "queued", "list_id": None, "contact_id": None,
         "activity_id": None, "attempts": 0} for n in (1, 2)]


def test_choosing_the_same_list_again_requeues_nobody(db, client, connected, election_id, requests_mock):
    db["elections"].update(election_id, {"cc_list_id": "l4", "cc_list_name": "Members"})
    voter = make_voters(db, election_id, count=1)[0]
    db.execute("UPDATE voters SET has_voted = 1 WHERE id = ?", [voter])
    mock_two_pages(requests_mock)
    response = client.post(f"/elections/{election_id}/integration/list", follow_redirects=True,
                           data={"list_id": "l4"})
    assert "already uses the list Members" in response.get_data(as_text=True)
    assert db["cc_removals"].count == 0


def test_use_this_list_without_a_list_id_is_refused(db, client, connected, election_id, requests_mock):
    response = client.post(f"/elections/{election_id}/integration/list", data={})
    assert response.headers["Location"].endswith(f"/elections/{election_id}/integration/lists")
    assert not requests_mock.called
    assert db["elections"].get(election_id)["cc_list_id"] is None


# Disconnecting

@pytest.mark.parametrize("revoke", [
    {"status_code": 200},
    {"status_code": 500, "text": "oops"},
    {"exc": requests.exceptions.ConnectTimeout},
])
def test_disconnect_revokes_best_effort_and_deletes_the_tokens(app, db, client, connected, election_id,
                                                               requests_mock, revoke):
    requests_mock.post(REVOKE_URL, **revoke)
    response = client.post(f"/elections/{election_id}/integration/disconnect", follow_redirects=True)
    assert "Disconnected from Constant Contact" in response.get_data(as_text=True)
    assert connection_count(db) == 0
    sent = requests_mock.request_history[0]
    assert parse_qs(sent.text)["token"] == ["stored-refresh"]
    assert sent.headers["Authorization"].startswith("Basic ")
    assert "Not connected" in response.get_data(as_text=True)


def test_disconnect_without_a_connection_changes_nothing(db, client, election_id, requests_mock):
    response = client.post(f"/elections/{election_id}/integration/disconnect", follow_redirects=True)
    assert "no Constant Contact connection" in response.get_data(as_text=True)
    assert not requests_mock.called


# Other admins

@pytest.mark.parametrize("method, path", [
    ("GET", ""),
    ("POST", "/grant"),
    ("GET", "/lists"),
    ("POST", "/list"),
    ("POST", "/disconnect"),
])
def test_another_admins_integration_pages_are_404(app, db, client, auth, requests_mock, method, path):
    owner = make_admin(db, email="owner@example.org")
    election_id = make_election(db, owner)
    cc_tokens.save_token(db, app.config["SECRET_KEY"], organisation_of(db, owner), {
        "access_token": "owner-access", "refresh_token": "owner-refresh", "token_type": "Bearer",
        "expires_at": int(time.time()) + 86400})
    auth.create(email="other@example.org")
    auth.login(email="other@example.org")
    response = client.open(f"/elections/{election_id}/integration{path}", method=method,
                           data={"list_id": "l1"})
    assert response.status_code == 404
    assert connection_count(db) == 1 and not requests_mock.called


def test_list_page_counts_requests_and_remembers_list_sizes(client, db, connected, election_id,
                                                           requests_mock):
    requests_mock.get(LISTS_URL, json={"lists": [a_list("l-1", "Voters", members=1500)]})
    client.get(f"/elections/{election_id}/integration/lists")
    assert [(r["list_id"], r["membership_count"]) for r in db["cc_list_sizes"].rows] == [("l-1", 1500)]
    assert db.execute("SELECT sum(requests) FROM cc_request_counts").fetchone()[0] == 1
