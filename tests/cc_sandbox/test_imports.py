"""POST /v3/activities/contacts_json_import: bounds, the asynchronous activity, and what it does."""
import pytest

from cc_sandbox.store import DEMO_EMAIL

from .helpers import (
    VOTER_LIST,
    api,
    contact,
    control,
    grant,
    lists_by_name,
    members,
    stats,
    wait_for_activity,
)


@pytest.fixture
def account(sandbox):
    """The demo account with a Ballot link field, an unsubscribed member, and a token."""
    control(sandbox, "seed", account={"email": DEMO_EMAIL}, custom_fields=["Ballot link"], contacts=[
        {"email": "gone@example.org", "first_name": "Gone", "status": "unsubscribed"}]).raise_for_status()
    token = grant(sandbox)
    return token, lists_by_name(sandbox, token)


def start_import(sandbox, token, import_data, list_ids):
    return api(sandbox, token, "/v3/activities/contacts_json_import", method="POST",
               json={"import_data": import_data, "list_ids": list_ids})


def run_import(sandbox, token, import_data, list_ids):
    created = start_import(sandbox, token, import_data, list_ids)
    assert created.status_code == 201, created.text
    return wait_for_activity(sandbox, token, created.json()["activity_id"])[1]


def test_import_is_an_asynchronous_activity(sandbox, account):
    token, lists = account
    created = start_import(sandbox, token, [{"email": "new@example.org"}], [lists["Newsletter"]["list_id"]])
    assert created.status_code == 201
    activity = created.json()
    assert activity["state"] == "initialized"
    assert activity["_links"]["self"]["href"] == f"/v3/activities/{activity['activity_id']}"
    assert activity["status"]["items_total_count"] == 1
    assert "new@example.org" not in members(sandbox, lists["Newsletter"]["list_id"])["emails"]
    states, finished = wait_for_activity(sandbox, token, activity["activity_id"])
    assert finished["state"] == "completed" and finished["percent_done"] == 100
    assert finished["status"] == {"items_total_count": 1, "person_count": 1, "error_count": 0,
                                  "correctable_count": 0, "cannot_add_to_list_count": 0}


def test_import_creates_new_contacts_with_implicit_permission_on_the_lists(sandbox, account):
    token, lists = account
    list_ids = [lists["Newsletter"]["list_id"], lists["Volunteers"]["list_id"]]
    run_import(sandbox, token, [{"email": "New.Person@Example.org", "first_name": "New", "last_name": "Person",
                                 "cf:Ballot_link": "https://vote.example/b/new"}], list_ids)
    made = contact(sandbox, token, "new.person@example.org")
    assert made["email_address"]["permission_to_send"] == "implicit"
    assert (made["first_name"], made["last_name"]) == ("New", "Person")
    assert [v["value"] for v in made["custom_fields"]] == ["https://vote.example/b/new"]
    assert set(made["list_memberships"]) == set(list_ids)


def test_import_updates_existing_contacts_matched_by_email_without_regard_to_case(sandbox, account):
    token, lists = account
    voters = lists[VOTER_LIST]["list_id"]
    before = contact(sandbox, token, "voter1@example.org")
    run_import(sandbox, token, [{"email": "VOTER1@example.org", "first_name": "Vera",
                                 "cf:Ballot_link": "https://vote.example/b/1"}], [voters])
    after = contact(sandbox, token, "voter1@example.org")
    assert after["contact_id"] == before["contact_id"]
    assert (after["first_name"], after["last_name"]) == ("Vera", "")  # only what the import gives changes
    assert after["custom_fields"][0]["value"] == "https://vote.example/b/1"
    run_import(sandbox, token, [{"email": "voter1@example.org", "cf:Ballot_link": "https://vote.example/b/1b"}],
               [voters])
    again = contact(sandbox, token, "voter1@example.org")
    assert again["first_name"] == "Vera" and again["custom_fields"][0]["value"] == "https://vote.example/b/1b"


def test_unsubscribed_contacts_stay_unsubscribed_and_off_the_list(sandbox, account):
    token, lists = account
    voters = lists[VOTER_LIST]["list_id"]
    finished = run_import(sandbox, token, [{"email": "gone@example.org", "cf:Ballot_link": "https://x.example/g"},
                                           {"email": "voter2@example.org"}], [voters])
    assert finished["status"]["cannot_add_to_list_count"] == 1
    assert finished["status"]["person_count"] == 2
    gone = contact(sandbox, token, "gone@example.org")
    assert gone["email_address"]["permission_to_send"] == "unsubscribed"
    assert gone["list_memberships"] == []
    assert gone["custom_fields"][0]["value"] == "https://x.example/g"
    assert "gone@example.org" not in members(sandbox, voters)["emails"]


def test_addresses_that_are_not_email_addresses_are_skipped_and_counted(sandbox, account):
    token, lists = account
    finished = run_import(sandbox, token, [{"email": "not an address"}, {"email": "ok@example.org"}],
                          [lists["Newsletter"]["list_id"]])
    assert finished["state"] == "completed"
    assert (finished["status"]["correctable_count"], finished["status"]["person_count"]) == (1, 1)
    assert contact(sandbox, token, "ok@example.org")


def test_an_unknown_custom_field_refuses_the_whole_import(sandbox, account):
    token, lists = account
    response = start_import(sandbox, token, [{"email": "a@example.org", "cf:Ballot_Link": "x"}],
                            [lists["Newsletter"]["list_id"]])
    assert response.status_code == 400
    [error] = response.json()
    assert "Ballot_Link" in error["error_message"] and "import_data[0]" in error["error_message"]
    assert stats(sandbox)["import_count"] == 0 and contact(sandbox, token, "a@example.org") is None


def body_of(contacts, list_ids):
    return {"import_data": contacts, "list_ids": list_ids}


@pytest.mark.parametrize("make_body", [
    lambda lists: body_of([{"email": f"m{n}@example.org"} for n in range(40_001)], lists[:1]),
    lambda lists: body_of([{"email": "a@example.org"}], lists[:1] * 51),
    lambda lists: body_of([{"email": "a@example.org"}], []),
    lambda lists: body_of([], lists[:1]),
    lambda lists: body_of([{"first_name": "No address"}], lists[:1]),
    lambda lists: body_of([{"email": "a@example.org", "cf:Ballot_link": "x" * 256}], lists[:1]),
    lambda lists: body_of([{"email": "a@example.org", "cf:Ballot_link": 7}], lists[:1]),
    lambda lists: body_of([{"email": "a@example.org", "first_name": "x" * 51}], lists[:1]),
    lambda lists: body_of([{"email": "a@example.org", "firstname": "Typo"}], lists[:1]),
    lambda lists: body_of(["a@example.org"], lists[:1]),
    lambda lists: [],
])
def test_imports_outside_ccs_bounds_are_a_400(sandbox, account, make_body):
    token, lists = account
    list_ids = [item["list_id"] for item in lists.values()]
    response = api(sandbox, token, "/v3/activities/contacts_json_import", method="POST", json=make_body(list_ids))
    assert response.status_code == 400
    assert response.json()[0]["error_key"] and response.json()[0]["error_message"]


def test_an_import_of_4_megabytes_or_more_is_a_400(sandbox, account):
    token, lists = account
    padding = "x" * 250
    contacts = [{"email": f"m{n}@example.org", "job_title": padding[:50], "street": padding}
                for n in range(13_000)]
    response = start_import(sandbox, token, contacts, [lists["Newsletter"]["list_id"]])
    assert response.status_code == 400
    assert "4 MB" in response.json()[0]["error_message"]


def test_more_than_25_custom_fields_in_one_contact_is_a_400(sandbox, account):
    token, lists = account
    control(sandbox, "seed", account={"email": DEMO_EMAIL}, custom_fields=[f"F{n}" for n in range(26)])
    entry = {"email": "a@example.org", **{f"cf:F{n}": "v" for n in range(26)}}
    assert start_import(sandbox, token, [entry], [lists["Newsletter"]["list_id"]]).status_code == 400


def test_import_naming_a_list_the_account_lacks_is_404(sandbox, account):
    token, _ = account
    response = start_import(sandbox, token, [{"email": "a@example.org"}], ["no-such-list"])
    assert response.status_code == 404
    assert response.json() == [{"error_key": "lists.api.not_found", "error_message": "List not found: no-such-list"}]


def test_import_needs_json(sandbox, account):
    token, _ = account
    response = api(sandbox, token, "/v3/activities/contacts_json_import", method="POST", data="email=a")
    assert response.status_code == 415


@pytest.mark.parametrize("outcome", ["failed", "timed_out"])
def test_a_failing_import_changes_nothing(sandbox, account, outcome):
    token, lists = account
    sandbox.sandbox.set_faults({"activity_outcome": outcome})
    finished = run_import(sandbox, token, [{"email": "new@example.org"}], [lists["Newsletter"]["list_id"]])
    assert finished["state"] == outcome and finished["activity_errors"]
    assert contact(sandbox, token, "new@example.org") is None


def test_a_list_deleted_before_the_import_finishes_is_skipped(sandbox, account):
    """Activities finish on the next API call, never on a control, so the delete surely comes first."""
    token, lists = account
    newsletter, volunteers = lists["Newsletter"]["list_id"], lists["Volunteers"]["list_id"]
    created = start_import(sandbox, token, [{"email": "new@example.org"}], [newsletter, volunteers]).json()
    control(sandbox, f"lists/{volunteers}/delete").raise_for_status()
    assert wait_for_activity(sandbox, token, created["activity_id"])[1]["state"] == "completed"
    assert contact(sandbox, token, "new@example.org")["list_memberships"] == [newsletter]


def test_stats_count_the_imports_and_their_contacts(sandbox, account):
    token, lists = account
    newsletter = lists["Newsletter"]["list_id"]
    run_import(sandbox, token, [{"email": "a@example.org"}, {"email": "b@example.org"}], [newsletter])
    run_import(sandbox, token, [{"email": "c@example.org"}], [newsletter])
    body = stats(sandbox)
    assert body["import_count"] == 2
    assert [(i["contact_count"], i["state"], i["list_ids"]) for i in body["imports"]] == [
        (2, "completed", [newsletter]), (1, "completed", [newsletter])]


@pytest.mark.slow
def test_an_import_of_40000_contacts_completes(sandbox, account):
    token, lists = account
    created = control(sandbox, "seed", account={"email": DEMO_EMAIL}, lists=[{"name": "Roster"}]).json()
    roster = created["lists"][0]["list_id"]
    contacts = [{"email": f"member{n:05d}@example.org", "cf:Ballot_link": f"https://vote.example/b/{n:05d}"}
                for n in range(40_000)]
    finished = run_import(sandbox, token, contacts, [roster])
    assert finished["status"]["person_count"] == 40_000
    assert members(sandbox, roster)["member_count"] == 40_000
