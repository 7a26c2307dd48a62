"""Scopes on the Accept page and in the API, and GET /v3/account/summary."""
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from cc_sandbox.store import (
    DEMO_CLIENT_ID,
    DEMO_EMAIL,
    DEMO_ORGANIZATION,
    SECOND_EMAIL,
    SECOND_ORGANIZATION,
    SECOND_PASSWORD,
)

from .helpers import REDIRECT_URI, api, control, grant

FULL_SCOPE = "account_read contact_data offline_access"


def consent_page(sandbox, scope):
    browser = requests.Session()
    page = browser.get(sandbox.authorize_url, params={
        "client_id": DEMO_CLIENT_ID, "redirect_uri": REDIRECT_URI, "response_type": "code", "scope": scope})
    return browser.post(page.url, data={"email": DEMO_EMAIL, "password": "sandbox-demo"})


def test_accept_page_lists_each_scope_asked_for_in_plain_words(sandbox):
    page = consent_page(sandbox, FULL_SCOPE).text
    asked = re.findall(r'<li data-scope="([a-z_]+)">([^<]+)</li>', page)
    assert [scope for scope, _ in asked] == ["account_read", "contact_data", "offline_access"]
    words = dict(asked)
    assert "organisation name" in words["account_read"]
    assert "contacts" in words["contact_data"] and "lists" in words["contact_data"]
    assert "signed out" in words["offline_access"]


def test_accept_page_without_account_read_does_not_mention_account_details(sandbox):
    page = consent_page(sandbox, "contact_data offline_access").text
    assert "account_read" not in page and "organisation name" not in page


def test_an_unknown_scope_is_sent_back_as_invalid_scope(sandbox):
    answer = requests.get(sandbox.authorize_url, allow_redirects=False, params={
        "client_id": DEMO_CLIENT_ID, "redirect_uri": REDIRECT_URI, "response_type": "code",
        "scope": "contact_data everything", "state": "s"})
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["error"] == ["invalid_scope"] and query["state"] == ["s"]


def test_account_summary_describes_the_tokens_account(sandbox):
    summary = api(sandbox, grant(sandbox, scope=FULL_SCOPE), "/v3/account/summary")
    assert summary.status_code == 200
    body = summary.json()
    assert body["organization_name"] == DEMO_ORGANIZATION
    assert body["contact_email"] == DEMO_EMAIL
    assert (body["first_name"], body["last_name"]) == ("Dana", "Rivers")
    assert re.fullmatch(r"[a-z0-9]{14}", body["encoded_account_id"])


def test_account_summary_of_the_second_account(sandbox):
    token = grant(sandbox, scope=FULL_SCOPE, login=(SECOND_EMAIL, SECOND_PASSWORD))
    body = api(sandbox, token, "/v3/account/summary").json()
    assert (body["organization_name"], body["contact_email"]) == (SECOND_ORGANIZATION, SECOND_EMAIL)
    first = api(sandbox, grant(sandbox, scope=FULL_SCOPE), "/v3/account/summary").json()
    assert first["encoded_account_id"] != body["encoded_account_id"]


def test_account_summary_without_account_read_is_forbidden(sandbox):
    response = api(sandbox, grant(sandbox), "/v3/account/summary")
    assert response.status_code == 403
    [error] = response.json()
    assert error["error_key"] == "access_denied" and "account_read" in error["error_message"]


def test_contact_endpoints_need_contact_data(sandbox):
    token = grant(sandbox, scope="account_read offline_access")
    assert api(sandbox, token, "/v3/account/summary").status_code == 200
    response = api(sandbox, token, "/v3/contact_lists")
    assert response.status_code == 403
    assert "contact_data" in response.json()[0]["error_message"]


def test_seeded_account_details_show_in_the_summary(sandbox):
    control(sandbox, "seed", account={
        "email": "Clerk@Example.org", "password": "pw", "name": "Lakeside Choir",
        "contact_email": "office@lakeside.example", "first_name": "Ada", "last_name": "Byron"}).raise_for_status()
    token = grant(sandbox, scope=FULL_SCOPE, login=("clerk@example.org", "pw"))
    body = api(sandbox, token, "/v3/account/summary").json()
    assert body["organization_name"] == "Lakeside Choir"
    assert body["contact_email"] == "office@lakeside.example"
    assert (body["first_name"], body["last_name"]) == ("Ada", "Byron")


def test_seeding_more_lists_into_an_account_keeps_its_details(sandbox):
    control(sandbox, "seed", account={"email": DEMO_EMAIL}, lists=[{"name": "More"}]).raise_for_status()
    body = api(sandbox, grant(sandbox, scope=FULL_SCOPE), "/v3/account/summary").json()
    assert body["organization_name"] == DEMO_ORGANIZATION


@pytest.mark.parametrize("extra, status", [("physical_address", 200), ("company_logo,physical_address", 200),
                                           ("everything", 400)])
def test_account_summary_extra_fields(sandbox, extra, status):
    response = api(sandbox, grant(sandbox, scope=FULL_SCOPE), "/v3/account/summary",
                   params={"extra_fields": extra})
    assert response.status_code == status
