"""The roster <-> list check and its fixes, against requests-mock."""
from datetime import timedelta

import pytest

from eo_cc import clock
from eo_cc.cc import list_check, mailings
from eo_cc.db import one, rows
from eo_cc.voting.notices import ballot_link_url

from ..factories import outbox_mail
from .mailing_helpers import (  # noqa: F401  (fixtures)
    LIST_ID,
    election,
    mcc,
    row,
    sleeps,
    sync,
    turn_links_on,
    vote,
    voter,
)
from .test_sync import connect_organisation, election_with_list

ROSTER = [{"email": "voter1@example.org", "name": "Voter 1", "has_voted": 0},
          {"email": "voter2@example.org", "name": "Voter 2", "has_voted": 0},
          {"email": "voter3@example.org", "name": "Voter 3", "has_voted": 1},
          {"email": "voter4@example.org", "name": "Voter 4", "has_voted": 0}]


def contact(email, permission="implicit", contact_id=None):
    return {"contact_id": contact_id or f"id-{email}", "email_address": {
        "address": email, "permission_to_send": permission}}


def test_compare_sorts_people_into_on_the_list_missing_strangers_and_unsubscribed():
    found = list_check.compare(ROSTER, [contact(" Voter1@Example.ORG "), contact("voter2@example.org", "unsubscribed"),
                                        contact("someone@example.org"), contact("voter3@example.org")])
    assert (found.on_list, found.list_members) == (1, 4)
    assert sorted((kind, email) for kind, email, _, _ in found.differences) == [
        ("missing", "voter4@example.org"), ("stranger", "someone@example.org"),
        ("unsubscribed", "voter2@example.org")]


def test_voters_who_voted_are_neither_missing_nor_strangers():
    found = list_check.compare(ROSTER, [contact("voter1@example.org"), contact("voter2@example.org"),
                                        contact("voter4@example.org")])
    assert found.differences == []     # voter3 voted: eo_cc took them off the list on purpose


@pytest.mark.parametrize("size, cost", [(None, None), (0, 1), (500, 1), (501, 2), (10_000, 20)])
def test_a_check_costs_one_request_per_500_members(size, cost):
    assert list_check.estimated_requests(size) == cost


@pytest.fixture
def story(app, db, mcc, election):
    """Roster voter1..6; the list: voter1..5 (voter5 unsubscribed) and two strangers."""
    db["voters"].insert_all([{**voter(db, election, "voter1@example.org"), "id": None,
                              "voter_code": f"V{n:04d}", "email": f"voter{n}@example.org", "name": f"Voter {n}"}
                             for n in (5, 6)])
    mcc.add_list(emails=["voter1@example.org", "voter2@example.org", "voter3@example.org",
                         "VOTER4@example.org ", "stranger1@example.org", "stranger2@example.org"])
    mcc.add_contact("voter5@example.org", [LIST_ID], status="unsubscribed")
    return mcc


def kinds(db, election_id):
    return {kind: [r["email"] for r in list_check.differences(db, election_id, kind)]
            for kind in list_check.KINDS}


def test_a_check_pages_the_list_and_stores_who_differs(db, story, sync, election):
    list_check.request(db, election)

    result, _ = sync()

    assert result.exit_code == 0
    assert story.calls("contacts_in_list") == 1           # 7 members: one page of 500
    assert kinds(db, election) == {"missing": ["voter6@example.org"],
                                   "stranger": ["stranger1@example.org", "stranger2@example.org"],
                                   "unsubscribed": ["voter5@example.org"]}
    check = list_check.last_check(db, election)
    assert (check["on_list"], check["list_members"], check["requests"], check["requested_at"]) == (4, 7, 1, None)


def test_a_big_list_is_paged_at_500_and_the_cost_recorded(db, mcc, sync, election):
    mcc.add_list(emails=[f"member{n}@example.org" for n in range(1201)])
    list_check.request(db, election)
    sync()
    assert mcc.calls("contacts_in_list") == 3
    assert list_check.last_check(db, election)["requests"] == 3
    assert len(kinds(db, election)["stranger"]) == 1201


def test_adding_the_missing_voters_imports_them_with_names_and_links(app, db, story, sync, election):
    turn_links_on(db, election)
    list_check.request(db, election)
    sync()
    assert list_check.ask_fix(db, election, list_check.MISSING) == 1

    sync()

    additions = [body for body in story.imports if "first_name" in body["import_data"][0]]
    assert additions[0]["import_data"] == [{
        "email": "voter6@example.org", "first_name": "Voter", "last_name": "6",
        "cf:Ballot_link_–_Board_election": ballot_link_url(app.config, row(db, election),
                                                           voter(db, election, "voter6@example.org"))}]
    assert "voter6@example.org" in story.members()
    assert {r["fix"] for r in list_check.differences(db, election, "missing")} == {"added"}
    assert one(db, "SELECT link_version FROM cc_ballot_links WHERE email = 'voter6@example.org'")


def test_a_voter_who_voted_since_the_check_is_not_added(db, story, sync, election):
    list_check.request(db, election)
    sync()
    list_check.ask_fix(db, election, list_check.MISSING)
    vote(db, election, "voter6@example.org")

    sync()

    assert story.imports == [] and "voter6@example.org" not in story.members()


def test_removing_strangers_takes_them_off_the_list_and_never_deletes_a_contact(db, story, sync, election):
    list_check.request(db, election)
    sync()
    list_check.ask_fix(db, election, list_check.STRANGER)

    sync()

    assert story.posted == [["c-5", "c-6"]]
    assert "stranger1@example.org" not in story.members()
    assert story.by_email("stranger1@example.org") is not None
    assert {r["fix"] for r in list_check.differences(db, election, "stranger")} == {"removed"}
    assert story.request_count("DELETE", "") == 0


def test_a_stranger_removal_that_fails_is_asked_for_again_and_done_next_run(db, story, sync, election):
    list_check.request(db, election)
    sync()
    list_check.ask_fix(db, election, list_check.STRANGER)
    story.activity_states = ["failed"]
    sync()
    assert {(r["fix"], r["attempts"]) for r in list_check.differences(db, election, "stranger")} == {
        ("requested", 1)}
    story.activity_states = ["completed"]

    sync()

    assert {r["fix"] for r in list_check.differences(db, election, "stranger")} == {"removed"}
    assert "stranger2@example.org" not in story.members()


def test_a_throttled_check_page_is_retried_and_nothing_is_lost(db, story, sync, sleeps, election):
    story.fail("contacts", 429, {"error_key": "throttled", "error_message": "Too Many Requests"})
    list_check.request(db, election)
    sync()
    assert list_check.last_check(db, election)["on_list"] == 4 and sleeps


def test_a_check_that_fails_stays_asked_for(db, story, sync, election):
    story.fail("contacts", 503, [{"error_key": "unavailable", "error_message": "down"}], times=5)
    list_check.request(db, election)

    result, _ = sync()

    assert result.exit_code == 1
    assert list_check.last_check(db, election)["requested_at"] is not None
    sync()
    assert list_check.last_check(db, election)["on_list"] == 4


def test_unsubscribed_voters_are_mailed_their_ballot_link_once(app, db, story, sync, election):
    list_check.request(db, election)
    sync()

    assert list_check.mail_links(db, app.config, row(db, election)) == 1
    assert list_check.mail_links(db, app.config, row(db, election)) == 0

    mails = outbox_mail(app.config["OUTBOX"] or f"{app.instance_path}/outbox", "voter5@example.org")
    link = ballot_link_url(app.config, row(db, election), voter(db, election, "voter5@example.org"))
    assert len(mails) == 1 and link in mails[0] and "unsubscribed" in mails[0]


def test_the_check_runs_by_itself_in_the_two_hours_before_voting_opens(app, db, mcc, sync):
    organisation_id = connect_organisation(db)
    soon = election_with_list(db, organisation_id, title="Soon")
    later = election_with_list(db, organisation_id, title="Later")
    now = clock.now()
    db.execute("UPDATE elections SET state = 'draft', opens_at = ? WHERE id = ?",
               [clock.iso(now + timedelta(minutes=90)), soon])
    db.execute("UPDATE elections SET state = 'draft', opens_at = ? WHERE id = ?",
               [clock.iso(now + timedelta(hours=5)), later])
    mcc.add_list(emails=["a@example.org"])

    sync()

    assert list_check.last_check(db, soon)["checked_at"] and list_check.last_check(db, later) is None
    sync()
    assert mcc.calls("contacts_in_list") == 1                 # once per opening, not every hour
    assert [e["id"] for e in mailings.due(db)] == []


def test_an_election_without_mailings_costs_its_run_nothing_more(db, mcc, sync, election):
    mcc.add_list(emails=["voter1@example.org"])
    vote(db, election, "voter1@example.org")
    sync()
    assert mcc.api_requests() == 4    # a look-up, a removal and its two polls: the sync's own
    assert mcc.calls("contacts_by_email") == 1 and mcc.calls("activity") == 2
    assert rows(db, "SELECT * FROM cc_mailing_log") == []


def test_voters_just_added_to_the_list_need_no_look_up_before_their_links_go_in(app, db, story, sync, election):
    list_check.request(db, election)
    sync()
    list_check.ask_fix(db, election, list_check.MISSING)
    sync()
    turn_links_on(db, election)
    looked_up = story.calls("contacts_by_email") + story.calls("contacts_in_list")

    sync()

    assert story.calls("contacts_by_email") + story.calls("contacts_in_list") == looked_up
    assert "voter6@example.org" in [item["email"] for item in story.imports[-1]["import_data"]]


def test_findings_about_the_list_used_before_are_forgotten_not_acted_on(db, story, sync, election):
    list_check.request(db, election)
    sync()
    list_check.ask_fix(db, election, list_check.STRANGER)
    story.add_list("list-other", ["stranger1@example.org"], name="Other")
    db.execute("UPDATE elections SET cc_list_id = 'list-other' WHERE id = ?", [election])

    sync()

    assert story.posted == [] and "stranger1@example.org" in story.members("list-other")
    assert rows(db, "SELECT * FROM cc_list_differences") == []
    assert list_check.last_check(db, election)["checked_at"] is None
