"""The sandbox's pages for people, seeding, and the second demo account."""
import re

import pytest
import requests

from cc_sandbox import server
from cc_sandbox.store import (
    DEMO_EMAIL,
    DEMO_ORGANIZATION,
    DEMO_PASSWORD,
    SECOND_EMAIL,
    SECOND_ORGANIZATION,
    SECOND_PASSWORD,
)

from .helpers import VOTER_LIST, api, contact, control, grant, lists_by_name, members, stats


def seed_ballot_links(sandbox):
    return control(sandbox, "seed", account={"email": DEMO_EMAIL}, contacts=[
        {"email": "voter1@example.org", "custom_fields": {"Ballot link": "https://vote.example/b/one"}},
        {"email": "voter2@example.org", "status": "unsubscribed",
         "custom_fields": {"Ballot link": "https://vote.example/b/two", "Member number": "M-2"}},
    ]).json()


def cells(html):
    """The list page's table as (header cells, {email: row cells})."""
    headers = re.findall(r'<th scope="col">([^<]*)</th>', html)
    body = {}
    for row in re.findall(r"<tr><td>(.*?)</tr>", html, re.S):
        values = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", "<td>" + row, re.S)]
        body[values[0]] = values
    return headers, body


def test_list_page_shows_permission_and_custom_fields_under_their_labels(sandbox):
    seed_ballot_links(sandbox)
    voters = server.seed_demo(sandbox.sandbox.db_path)["voter_list_id"]
    page = requests.get(f"{sandbox.url}/_sandbox/lists/{voters}").text
    headers, rows = cells(page)
    assert headers == ["Email", "Name", "Permission", "Ballot link", "Member number"]
    assert rows["voter1@example.org"][2:] == ["implicit", "https://vote.example/b/one", ""]
    assert rows["voter2@example.org"][2:] == ["unsubscribed", "https://vote.example/b/two", "M-2"]
    assert '<a href="https://vote.example/b/one">' in page
    assert f"{DEMO_ORGANIZATION} ({DEMO_EMAIL})" in page


def test_a_value_that_is_not_a_web_address_is_not_a_link(sandbox):
    control(sandbox, "seed", account={"email": DEMO_EMAIL}, contacts=[
        {"email": "voter1@example.org", "custom_fields": {"Ballot link": "javascript:alert(1)"}}])
    voters = server.seed_demo(sandbox.sandbox.db_path)["voter_list_id"]
    page = requests.get(f"{sandbox.url}/_sandbox/lists/{voters}").text
    assert "javascript:alert(1)" in page and 'href="javascript' not in page


def test_members_json_has_permission_and_custom_fields_by_name(sandbox):
    seed_ballot_links(sandbox)
    voters = server.seed_demo(sandbox.sandbox.db_path)["voter_list_id"]
    found = {m["email"]: m for m in members(sandbox, voters)["members"]}
    assert found["voter2@example.org"]["permission_to_send"] == "unsubscribed"
    assert found["voter2@example.org"]["custom_fields"] == {"Ballot_link": "https://vote.example/b/two",
                                                            "Member_number": "M-2"}
    assert found["voter3@example.org"]["custom_fields"] == {}
    assert found["voter3@example.org"]["contact_id"]


def test_seeded_unsubscribed_contacts_show_as_unsubscribed(sandbox):
    seed_ballot_links(sandbox)
    body = contact(sandbox, grant(sandbox), "voter2@example.org")
    assert body["email_address"]["permission_to_send"] == "unsubscribed"
    assert contact(sandbox, grant(sandbox), "voter1@example.org")["email_address"]["permission_to_send"] == "implicit"


def test_seeding_returns_the_custom_fields_asked_for(sandbox):
    made = seed_ballot_links(sandbox)["custom_fields"]
    assert made == []  # made on the way, for contacts' values: only asked-for fields are listed
    listed = control(sandbox, "seed", account={"email": DEMO_EMAIL}, custom_fields=["Ballot link"]).json()
    assert [f["name"] for f in listed["custom_fields"]] == ["Ballot_link"]


@pytest.mark.parametrize("contacts", [[{"email": "a@example.org", "status": "bounced"}],
                                      [{"email": "a@example.org", "custom_fields": {"Ballot link": 3}}]])
def test_bad_seeded_contacts_are_a_400(sandbox, contacts):
    response = control(sandbox, "seed", account={"email": DEMO_EMAIL}, contacts=contacts)
    assert response.status_code == 400 and response.json()["error"]


def test_a_deleted_list_page_says_so(sandbox):
    voters = server.seed_demo(sandbox.sandbox.db_path)["voter_list_id"]
    control(sandbox, f"lists/{voters}/delete").raise_for_status()
    page = requests.get(f"{sandbox.url}/_sandbox/lists/{voters}").text
    assert "no longer exists in Constant Contact" in page and "Nobody is on this list." in page
    assert members(sandbox, voters)["deleted_at"]
    assert "(deleted)" in requests.get(f"{sandbox.url}/_sandbox/").text


def test_home_page_lists_every_account_with_its_organisation_and_email(sandbox):
    page = requests.get(f"{sandbox.url}/_sandbox/").text
    accounts = re.findall(r'<h2>([^<]+)</h2>\s*<p>Contact email: <span class="contact-email">([^<]+)</span>', page)
    assert accounts == [(DEMO_ORGANIZATION, DEMO_EMAIL), (SECOND_ORGANIZATION, SECOND_EMAIL)]
    assert "Hillside Members" in page


def test_sign_in_page_offers_both_demo_accounts(sandbox):
    page = requests.get(f"{sandbox.url}/oauth2/default/v1/signin").text
    for email, password, organization in [(DEMO_EMAIL, DEMO_PASSWORD, DEMO_ORGANIZATION),
                                          (SECOND_EMAIL, SECOND_PASSWORD, SECOND_ORGANIZATION)]:
        assert email in page and password in page and organization in page


def test_signing_in_as_the_second_account_grants_its_lists_only(sandbox):
    token = grant(sandbox, login=(SECOND_EMAIL, SECOND_PASSWORD))
    assert list(lists_by_name(sandbox, token)) == ["Hillside Members", "Hillside Board"]
    theirs = contact(sandbox, token, "voter1@example.org")
    ours = contact(sandbox, grant(sandbox), "voter1@example.org")
    assert theirs["contact_id"] != ours["contact_id"]  # contacts belong to an account


def test_demo_info_names_the_second_account(tmp_path):
    info = server.seed_demo(tmp_path / "sandbox.sqlite")
    second = info["second_account"]
    assert (second["email"], second["password"], second["organization_name"]) == (
        SECOND_EMAIL, SECOND_PASSWORD, SECOND_ORGANIZATION)
    assert list(second["lists"]) == ["Hillside Members", "Hillside Board"]
    assert info["organization_name"] == DEMO_ORGANIZATION and VOTER_LIST in info["lists"]


@pytest.mark.parametrize("method, path", [
    ("PUT", "/v3/contact_lists/some-list"),
    ("PUT", "/v3/account/summary"),
    ("POST", "/v3/contacts"),
    ("POST", "/v3/activities/add_list_memberships"),
    ("GET", "/v3/emails"),
])
def test_calls_the_sandbox_does_not_implement_are_refused_and_recorded(sandbox, method, path):
    response = api(sandbox, grant(sandbox), path, method=method, json={})
    assert response.status_code == 405
    assert [(c["method"], c["path"]) for c in stats(sandbox)["forbidden_calls"]] == [(method, path)]
