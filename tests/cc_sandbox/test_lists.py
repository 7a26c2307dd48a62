"""Contact lists: create, get one, lists deleted or renamed by their owner in CC, and paging cursors."""
import base64
import json

import pytest
import requests

from cc_sandbox.store import SECOND_EMAIL, SECOND_PASSWORD

from .helpers import (
    VOTER_LIST,
    api,
    contact_ids,
    control,
    grant,
    lists_by_name,
    member_emails,
    remove,
    seed_big_list,
    stats,
)


def not_found(list_id):
    return [{"error_key": "lists.api.not_found", "error_message": f"List not found: {list_id}"}]


def create(sandbox, token, **body):
    return api(sandbox, token, "/v3/contact_lists", method="POST", json=body)


def test_create_a_list(sandbox):
    token = grant(sandbox)
    response = create(sandbox, token, name="Annual Meeting 2027 — Voters", description="From eo_cc")
    assert response.status_code == 201
    made = response.json()
    assert set(made) == {"list_id", "name", "description", "favorite", "created_at", "updated_at"}
    assert (made["name"], made["description"], made["favorite"]) == ("Annual Meeting 2027 — Voters",
                                                                     "From eo_cc", False)
    listed = lists_by_name(sandbox, token)["Annual Meeting 2027 — Voters"]
    assert listed["list_id"] == made["list_id"] and listed["membership_count"] == 0


@pytest.mark.parametrize("name", ["Newsletter", "NEWSLETTER", " Newsletter "])
def test_a_list_name_the_account_has_is_a_409(sandbox, name):
    response = create(sandbox, grant(sandbox), name=name)
    assert response.status_code == 409
    assert response.json()[0]["error_key"] and "Newsletter" in response.json()[0]["error_message"]


def test_another_accounts_list_name_is_free(sandbox):
    token = grant(sandbox, login=(SECOND_EMAIL, SECOND_PASSWORD))
    assert create(sandbox, token, name="Newsletter").status_code == 201


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "x" * 256}, {"name": 7},
                                  {"name": "ok", "favorite": "yes"}])
def test_create_a_list_refuses_bad_bodies(sandbox, body):
    response = create(sandbox, grant(sandbox), **body)
    assert response.status_code == 400
    assert response.json()[0]["error_message"]


def test_create_a_list_needs_json(sandbox):
    response = api(sandbox, grant(sandbox), "/v3/contact_lists", method="POST", data="name=x")
    assert response.status_code == 415


def test_get_one_list(sandbox):
    token = grant(sandbox)
    voters = lists_by_name(sandbox, token)[VOTER_LIST]
    body = api(sandbox, token, f"/v3/contact_lists/{voters['list_id']}",
               params={"include_membership_count": "all"}).json()
    assert (body["list_id"], body["name"], body["membership_count"]) == (voters["list_id"], VOTER_LIST, 25)
    assert "membership_count" not in api(sandbox, token, f"/v3/contact_lists/{voters['list_id']}").json()


def test_an_unknown_or_another_accounts_list_is_404(sandbox):
    token = grant(sandbox)
    response = api(sandbox, token, "/v3/contact_lists/no-such-list")
    assert (response.status_code, response.json()) == (404, not_found("no-such-list"))
    theirs = lists_by_name(sandbox, grant(sandbox, login=(SECOND_EMAIL, SECOND_PASSWORD)))["Hillside Members"]
    response = api(sandbox, token, f"/v3/contact_lists/{theirs['list_id']}")
    assert (response.status_code, response.json()) == (404, not_found(theirs["list_id"]))


def test_lists_can_be_found_by_name(sandbox):
    token = grant(sandbox)
    body = api(sandbox, token, "/v3/contact_lists", params={"name": "Newsletter", "include_count": "true"}).json()
    assert [item["name"] for item in body["lists"]] == ["Newsletter"] and body["lists_count"] == 1


def delete(sandbox, list_id):
    response = control(sandbox, f"lists/{list_id}/delete")
    assert response.status_code == 200, response.text
    return response.json()


def test_a_deleted_list_disappears_from_the_api(sandbox):
    token = grant(sandbox)
    voters = lists_by_name(sandbox, token)[VOTER_LIST]["list_id"]
    deleted = delete(sandbox, voters)
    assert deleted["deleted_at"].endswith("Z")
    assert VOTER_LIST not in lists_by_name(sandbox, token)
    body = api(sandbox, token, "/v3/contact_lists", params={"include_count": "true"}).json()
    assert body["lists_count"] == 2
    assert lists_by_name(sandbox, token, status="deleted")[VOTER_LIST]["deleted_at"] == deleted["deleted_at"]
    assert VOTER_LIST in lists_by_name(sandbox, token, status="all")
    response = api(sandbox, token, f"/v3/contact_lists/{voters}")
    assert (response.status_code, response.json()) == (404, not_found(voters))


def test_a_deleted_list_takes_its_memberships_not_its_contacts(sandbox):
    token = grant(sandbox)
    voters = lists_by_name(sandbox, token)[VOTER_LIST]["list_id"]
    delete(sandbox, voters)
    assert member_emails(sandbox, voters) == []
    assert contact_ids(sandbox, token, "voter1@example.org")


def test_removal_and_contacts_page_naming_a_deleted_list_are_404(sandbox):
    token = grant(sandbox)
    voters = lists_by_name(sandbox, token)[VOTER_LIST]["list_id"]
    ids = contact_ids(sandbox, token, "voter1@example.org")
    delete(sandbox, voters)
    response = remove(sandbox, token, ids, voters)
    assert (response.status_code, response.json()) == (404, not_found(voters))
    response = api(sandbox, token, "/v3/contacts", params={"lists": voters})
    assert (response.status_code, response.json()) == (404, not_found(voters))


def test_removal_naming_a_list_the_account_never_had_is_404(sandbox):
    token = grant(sandbox)
    response = remove(sandbox, token, contact_ids(sandbox, token, "voter1@example.org"), "no-such-list")
    assert (response.status_code, response.json()) == (404, not_found("no-such-list"))


def test_a_list_deleted_in_the_middle_of_a_scan_ends_it_with_404(sandbox):
    list_id, _ = seed_big_list(sandbox, 120)
    token = grant(sandbox)
    first = api(sandbox, token, f"/v3/contacts?lists={list_id}&limit=50").json()
    delete(sandbox, list_id)
    response = api(sandbox, token, first["_links"]["next"]["href"])
    assert (response.status_code, response.json()) == (404, not_found(list_id))


def test_deleting_a_list_twice_or_an_unknown_one_is_404(sandbox):
    token = grant(sandbox)
    voters = lists_by_name(sandbox, token)[VOTER_LIST]["list_id"]
    delete(sandbox, voters)
    assert control(sandbox, f"lists/{voters}/delete").status_code == 404
    assert control(sandbox, "lists/nothing/delete").status_code == 404


def test_eo_cc_cannot_delete_a_list(sandbox):
    token = grant(sandbox)
    voters = lists_by_name(sandbox, token)[VOTER_LIST]["list_id"]
    assert api(sandbox, token, f"/v3/contact_lists/{voters}", method="DELETE").status_code == 405
    assert [call["method"] for call in stats(sandbox)["forbidden_calls"]] == ["DELETE"]
    assert VOTER_LIST in lists_by_name(sandbox, token)


def test_a_list_renamed_by_its_owner(sandbox):
    token = grant(sandbox)
    voters = lists_by_name(sandbox, token)[VOTER_LIST]["list_id"]
    renamed = control(sandbox, f"lists/{voters}/rename", name="AGM voters")
    assert renamed.json() == {"list_id": voters, "name": "AGM voters"}
    assert api(sandbox, token, f"/v3/contact_lists/{voters}").json()["name"] == "AGM voters"
    assert lists_by_name(sandbox, token)["AGM voters"]["list_id"] == voters


def test_renaming_to_a_name_the_account_has_is_a_409(sandbox):
    voters = lists_by_name(sandbox, grant(sandbox))[VOTER_LIST]["list_id"]
    assert control(sandbox, f"lists/{voters}/rename", name="newsletter").status_code == 409
    assert control(sandbox, f"lists/{voters}/rename", name=" ").status_code == 400


def test_a_cursor_older_than_its_lifetime_is_refused(sandbox):
    list_id, _ = seed_big_list(sandbox, 120)
    token = grant(sandbox)
    assert requests.get(f"{sandbox.url}/_sandbox/limits").json()["cursor_lifetime"] == 3600
    next_page = api(sandbox, token, f"/v3/contacts?lists={list_id}&limit=50").json()["_links"]["next"]["href"]
    control(sandbox, "limits", cursor_lifetime=0)
    response = api(sandbox, token, next_page)
    assert response.status_code == 400
    [error] = response.json()
    assert error["error_key"] == "query.param.invalid" and "expired" in error["error_message"]
    control(sandbox, "limits", cursor_lifetime=3600)
    assert api(sandbox, token, next_page).status_code == 200  # the lifetime is judged when it is used


def test_list_collection_cursors_expire_too(sandbox):
    token = grant(sandbox)
    next_page = api(sandbox, token, "/v3/contact_lists?limit=1").json()["_links"]["next"]["href"]
    control(sandbox, "limits", cursor_lifetime=0)
    assert api(sandbox, token, next_page).json()[0]["error_key"] == "query.param.invalid"


def test_cursors_can_live_forever(sandbox):
    token = grant(sandbox)
    control(sandbox, "limits", cursor_lifetime=None)
    next_page = api(sandbox, token, "/v3/contact_lists?limit=1").json()["_links"]["next"]["href"]
    assert api(sandbox, token, next_page).status_code == 200


def forged(state):
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", ["not-a-cursor", "!!!", forged([1]), forged({"after": 1}),
                                    forged({"after": "x", "issued": 1})])
def test_a_cursor_that_cannot_be_read_is_refused(sandbox, cursor):
    response = api(sandbox, grant(sandbox), "/v3/contacts", params={"cursor": cursor})
    assert response.status_code == 400
    assert response.json()[0]["error_key"] == "query.param.invalid"


@pytest.mark.parametrize("limits", [{"cursor_lifetime": -1}, {"requests_per_second": "fast"},
                                    {"daily_quota": True}])
def test_bad_limits_are_refused(sandbox, limits):
    assert control(sandbox, "limits", **limits).status_code == 400
