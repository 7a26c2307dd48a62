"""The Constant Contact client against requests-mock: paging, errors, refresh, pacing, guard."""

import pytest
import requests
import requests_mock

from eo_cc.cc.api import CCError, Client, GrantRevoked, QuotaExceeded, refuse_forbidden

BASE = "https://api.test/v3"


class BearerSession(requests.Session):
    """Stands in for the OAuth2Session: adds the current access token to every request."""

    def __init__(self, access_token="token-1"):
        super().__init__()
        self.access_token = access_token

    def request(self, method, url, **kwargs):
        kwargs.setdefault("headers", {})["Authorization"] = f"Bearer {self.access_token}"
        return super().request(method, url, **kwargs)


class FakeRefresh:
    """A refresh callable that swaps in a new access token and counts its calls."""

    def __init__(self, session, new_token="token-2"):
        self.session = session
        self.new_token = new_token
        self.calls = 0

    def __call__(self):
        self.calls += 1
        self.session.access_token = self.new_token


@pytest.fixture
def cc():
    with requests_mock.Mocker() as mock:
        yield mock


@pytest.fixture
def session():
    return BearerSession()


@pytest.fixture
def client(session):
    return Client(session, BASE)


def test_contact_lists_follows_relative_next_links_over_three_pages(cc, client):
    cc.get(f"{BASE}/contact_lists?limit=500&include_membership_count=active", complete_qs=True,
           json={"lists": [{"list_id": "a"}, {"list_id": "b"}],
                 "_links": {"next": {"href": "/v3/contact_lists?cursor=page2"}}})
    cc.get(f"{BASE}/contact_lists?cursor=page2", complete_qs=True,
           json={"lists": [{"list_id": "c"}], "_links": {"next": {"href": "/v3/contact_lists?cursor=page3"}}})
    cc.get(f"{BASE}/contact_lists?cursor=page3", complete_qs=True, json={"lists": [{"list_id": "d"}]})

    lists = list(client.contact_lists())

    assert [item["list_id"] for item in lists] == ["a", "b", "c", "d"]
    assert [request.url for request in cc.request_history] == [
        f"{BASE}/contact_lists?limit=500&include_membership_count=active",
        f"{BASE}/contact_lists?cursor=page2",
        f"{BASE}/contact_lists?cursor=page3",
    ]
    assert all(r.headers["Authorization"] == "Bearer token-1" for r in cc.request_history)


def test_contact_lists_is_lazy_and_stops_without_a_next_link(cc, client):
    cc.get(f"{BASE}/contact_lists", json={"lists": [], "lists_count": 0})
    pages = client.contact_lists()
    assert cc.call_count == 0
    assert list(pages) == []
    assert cc.call_count == 1


def test_a_next_link_to_another_host_is_refused(cc, client):
    cc.get(f"{BASE}/contact_lists", json={"lists": [{"list_id": "a"}],
                                          "_links": {"next": {"href": "https://evil.test/v3/x"}}})
    with pytest.raises(CCError, match="leaves the API host"):
        list(client.contact_lists())
    assert cc.call_count == 1


def test_contacts_by_email_sends_the_address_trimmed_and_lower_cased(cc, client):
    cc.get(f"{BASE}/contacts", json={"contacts": [{"contact_id": "c1"}], "contacts_count": 1})
    assert client.contacts_by_email("  Ada.Lovelace@Example.ORG ") == [{"contact_id": "c1"}]
    assert cc.last_request.qs["email"] == ["ada.lovelace@example.org"]


def test_contacts_by_email_returns_an_empty_list_when_nobody_matches(cc, client):
    cc.get(f"{BASE}/contacts", json={"contacts": [], "contacts_count": 0})
    assert client.contacts_by_email("nobody@example.org") == []


def test_contacts_in_list_page_returns_a_page_and_the_next_pages_url(cc, client):
    cc.get(f"{BASE}/contacts?lists=L1&limit=2", complete_qs=True,
           json={"contacts": [{"contact_id": "1"}, {"contact_id": "2"}],
                 "_links": {"next": {"href": "/v3/contacts?cursor=n2"}}})
    cc.get(f"{BASE}/contacts?cursor=n2", complete_qs=True, json={"contacts": [{"contact_id": "3"}]})
    first, next_url = client.contacts_in_list_page("L1", page_size=2)
    last, after_last = client.contacts_in_list_page("L1", next_url, page_size=2)
    assert [c["contact_id"] for c in first + last] == ["1", "2", "3"]
    assert next_url == "https://api.test/v3/contacts?cursor=n2" and after_last is None
    assert cc.call_count == 2


@pytest.mark.parametrize("page_size", [0, 501])
def test_contacts_in_list_page_refuses_page_sizes_cc_does_not_allow(cc, client, page_size):
    with pytest.raises(ValueError):
        client.contacts_in_list_page("L1", page_size=page_size)
    assert cc.call_count == 0


def test_remove_list_memberships_posts_the_contact_ids_for_one_list(cc, client):
    activity = {"activity_id": "act-1", "state": "initialized", "percent_done": 0}
    cc.post(f"{BASE}/activities/remove_list_memberships", status_code=201, json=activity)

    result = client.remove_list_memberships("L1", (f"c{i}" for i in range(3)))

    assert result == activity
    assert cc.last_request.json() == {"source": {"contact_ids": ["c0", "c1", "c2"]}, "list_ids": ["L1"]}
    assert cc.last_request.headers["Content-Type"] == "application/json"


def test_remove_list_memberships_accepts_exactly_500_ids(cc, client):
    cc.post(f"{BASE}/activities/remove_list_memberships", status_code=201, json={"activity_id": "a"})
    client.remove_list_memberships("L1", [str(i) for i in range(500)])
    assert len(cc.last_request.json()["source"]["contact_ids"]) == 500


@pytest.mark.parametrize("contact_ids", [[], [str(i) for i in range(501)]])
def test_remove_list_memberships_refuses_empty_or_oversized_batches(cc, client, contact_ids):
    with pytest.raises(ValueError):
        client.remove_list_memberships("L1", contact_ids)
    assert cc.call_count == 0


def test_remove_list_memberships_treats_a_status_other_than_201_as_an_error(cc, client):
    cc.post(f"{BASE}/activities/remove_list_memberships", status_code=200, json={"activity_id": "a"})
    with pytest.raises(CCError) as raised:
        client.remove_list_memberships("L1", ["c1"])
    assert (raised.value.status, raised.value.error_key) == (200, "unexpected_status")


def test_activity_fetches_the_status_with_the_id_escaped(cc, client):
    cc.get(f"{BASE}/activities/act%2F1", json={"activity_id": "act/1", "state": "completed"})
    assert client.activity("act/1")["state"] == "completed"


@pytest.mark.parametrize("status, body, key, message, retryable", [
    (400, [{"error_key": "query.param.invalid", "error_message": "bad email"},
           {"error_key": "other", "error_message": "second"}],
     "query.param.invalid", "bad email; second", False),
    (404, {"error_key": "not_found", "error_message": "No such list"}, "not_found", "No such list", False),
    (401, {"error": "invalid_token", "error_description": "The token has expired"},
     "invalid_token", "The token has expired", False),
    (503, [{"error_key": "unavailable", "error_message": "try later"}], "unavailable", "try later", True),
])
def test_each_cc_error_shape_becomes_a_cc_error(cc, status, body, key, message, retryable):
    cc.get(f"{BASE}/contacts", status_code=status, json=body)
    client = Client(BearerSession(), BASE, refresh=None)
    expected = GrantRevoked if status == 401 else CCError
    with pytest.raises(expected) as raised:
        client.contacts_by_email("a@example.org")
    assert raised.value.status == status
    assert raised.value.error_key == key
    assert raised.value.message == message
    assert raised.value.retryable is retryable


def test_an_html_gateway_error_becomes_a_retryable_one_line_error(cc, client):
    cc.get(f"{BASE}/contacts", status_code=502, reason="Bad Gateway",
           text="<html>\n<body><h1>502 Bad Gateway</h1></body>\n</html>",
           headers={"Content-Type": "text/html"})
    with pytest.raises(CCError) as raised:
        client.contacts_by_email("a@example.org")
    error = raised.value
    assert (error.status, error.error_key, error.retryable) == (502, None, True)
    assert "Bad Gateway" in error.message
    assert "\n" not in str(error) and "502" in str(error)


@pytest.mark.parametrize("status, retryable", [
    (400, False), (403, False), (404, False), (409, False), (415, False),
    (500, True), (502, True), (503, True), (504, True),
])
def test_retryable_follows_the_http_status(cc, client, status, retryable):
    cc.get(f"{BASE}/contacts", status_code=status, json=[{"error_key": "x", "error_message": "y"}])
    with pytest.raises(CCError) as raised:
        client.contacts_by_email("a@example.org")
    assert raised.value.retryable is retryable


def test_429_throttled_is_a_retryable_cc_error(cc, client):
    cc.get(f"{BASE}/contacts", status_code=429,
           json={"error_key": "throttled", "error_message": "Too Many Requests"})
    with pytest.raises(CCError) as raised:
        client.contacts_by_email("a@example.org")
    assert not isinstance(raised.value, QuotaExceeded)
    assert (raised.value.error_key, raised.value.retryable) == ("throttled", True)


def test_429_quota_exceeded_raises_quota_exceeded(cc, client):
    cc.get(f"{BASE}/contacts", status_code=429,
           json={"error_key": "quota_exceeded", "error_message": "Limit Exceeded"})
    with pytest.raises(QuotaExceeded) as raised:
        client.contacts_by_email("a@example.org")
    assert (raised.value.status, raised.value.error_key) == (429, "quota_exceeded")
    assert raised.value.retryable is False


def test_429_without_a_body_counts_as_throttled(cc, client):
    cc.get(f"{BASE}/contacts", status_code=429, text="")
    with pytest.raises(CCError) as raised:
        client.contacts_by_email("a@example.org")
    assert (raised.value.error_key, raised.value.retryable) == ("throttled", True)


@pytest.mark.parametrize("failure", [
    requests.exceptions.ConnectTimeout, requests.exceptions.ReadTimeout,
    requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError,
])
def test_timeouts_and_dropped_connections_are_retryable_errors_without_status(cc, client, failure):
    cc.get(f"{BASE}/contacts", exc=failure("boom"))
    with pytest.raises(CCError) as raised:
        client.contacts_by_email("a@example.org")
    assert raised.value.status is None
    assert raised.value.retryable is True


def test_every_request_carries_the_timeout(cc, session):
    cc.get(f"{BASE}/contacts", json={"contacts": []})
    Client(session, BASE, timeout=(2, 7)).contacts_by_email("a@example.org")
    assert cc.last_request.timeout == (2, 7)


def test_a_non_json_success_is_a_retryable_error(cc, client):
    cc.get(f"{BASE}/contacts", text="<html>maintenance</html>")
    with pytest.raises(CCError) as raised:
        client.contacts_by_email("a@example.org")
    assert (raised.value.error_key, raised.value.retryable) == ("invalid_response", True)


def test_a_401_refreshes_the_token_once_and_retries_with_the_new_token(cc, session):
    refresh = FakeRefresh(session)
    cc.get(f"{BASE}/contacts", [
        {"status_code": 401, "json": [{"error_key": "unauthorized", "error_message": "expired"}]},
        {"json": {"contacts": [{"contact_id": "c1"}]}},
    ])
    client = Client(session, BASE, refresh=refresh)

    assert client.contacts_by_email("a@example.org") == [{"contact_id": "c1"}]

    assert refresh.calls == 1
    assert [r.headers["Authorization"] for r in cc.request_history] == ["Bearer token-1", "Bearer token-2"]
    assert client.requests_made == 2


def test_a_second_401_after_refreshing_means_the_grant_is_revoked(cc, session):
    refresh = FakeRefresh(session)
    revoked = []
    cc.get(f"{BASE}/contacts", status_code=401,
           json=[{"error_key": "unauthorized", "error_message": "Unauthorized"}])
    client = Client(session, BASE, refresh=refresh, on_grant_revoked=revoked.append)

    with pytest.raises(GrantRevoked) as raised:
        client.contacts_by_email("a@example.org")

    assert refresh.calls == 1
    assert cc.call_count == 2
    assert raised.value.status == 401
    assert len(revoked) == 1 and "Unauthorized" in revoked[0]


def test_a_refused_refresh_propagates_without_a_retry(cc, session):
    def refresh():
        raise GrantRevoked(400, "invalid_grant", "refresh token expired")

    cc.get(f"{BASE}/contacts", status_code=401, json=[{"error_key": "unauthorized"}])
    with pytest.raises(GrantRevoked, match="refresh token expired"):
        Client(session, BASE, refresh=refresh).contacts_by_email("a@example.org")
    assert cc.call_count == 1


def test_on_request_is_called_once_per_request_sent(cc, session):
    calls = []
    cc.get(f"{BASE}/contact_lists", json={"lists": [{"list_id": "a"}],
                                          "_links": {"next": {"href": "/v3/contact_lists?cursor=2"}}})
    cc.get(f"{BASE}/contact_lists?cursor=2", complete_qs=True, json={"lists": []})
    cc.get(f"{BASE}/contacts", [{"status_code": 401, "json": []}, {"json": {"contacts": []}}])
    client = Client(session, BASE, on_request=lambda: calls.append(1), refresh=FakeRefresh(session))

    list(client.contact_lists())
    client.contacts_by_email("a@example.org")

    assert len(calls) == cc.call_count == client.requests_made == 4


def test_on_request_can_refuse_a_request_before_it_is_sent(cc, session):
    def budget_spent():
        raise CCError(None, "budget_spent", "today's request budget is used up")

    cc.get(f"{BASE}/contacts", json={"contacts": []})
    client = Client(session, BASE, on_request=budget_spent)
    with pytest.raises(CCError, match="budget"):
        client.contacts_by_email("a@example.org")
    assert cc.call_count == client.requests_made == 0


def test_the_client_waits_on_the_pacer_before_every_request(cc, session):
    class CountingPacer:
        waits = 0

        def wait(self):
            self.waits += 1

    pacer = CountingPacer()
    cc.get(f"{BASE}/contacts", [{"status_code": 401, "json": []}, {"json": {"contacts": []}}])
    Client(session, BASE, pacer=pacer, refresh=FakeRefresh(session)).contacts_by_email("a@b.org")
    assert pacer.waits == cc.call_count == 2


@pytest.mark.parametrize("method, path", [
    ("DELETE", "/contacts/c1"),
    ("PUT", "/contacts/c1"),
    ("put", "/contacts/c1/"),
    ("PATCH", "/contacts/c1"),
    ("POST", "/activities/contact_delete"),
    ("GET", "/activities/contact_delete"),
    ("POST", "/activities/list_delete"),
    ("DELETE", "/contact_lists/L1"),
    ("PUT", f"{BASE}/contacts/c1"),
    ("DELETE", "/contacts%2Fc1"),
])
def test_the_client_refuses_calls_that_delete_or_overwrite_cc_data(cc, client, method, path):
    with pytest.raises(ValueError, match="never calls"):
        client._request(method, path)
    assert cc.call_count == 0
    assert client.requests_made == 0


@pytest.mark.parametrize("method, path", [
    ("GET", "/contacts"),
    ("GET", "/contacts/c1"),
    ("GET", "/contact_lists"),
    ("GET", "/contact_lists/L1"),
    ("POST", "/activities/remove_list_memberships"),
    ("GET", "/activities/act-1"),
])
def test_the_calls_eo_cc_needs_pass_the_guard(method, path):
    refuse_forbidden(method, BASE + path)  # does not raise


def test_an_error_without_a_message_falls_back_to_the_http_reason(cc, client):
    cc.get(f"{BASE}/contacts", status_code=403, reason="Forbidden", json=[{"error_key": "forbidden"}])
    with pytest.raises(CCError) as raised:
        client.contacts_by_email("a@example.org")
    assert (raised.value.error_key, raised.value.message) == ("forbidden", "Forbidden")
