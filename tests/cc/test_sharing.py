"""A list shared by several elections: a member leaves it once they have voted in every one
that is not closed and whose roster holds them (requests-mock Constant Contact)."""
import pytest

from eo_cc import clock
from eo_cc.cc import sharing
from eo_cc.cc.list_check import STRANGER, compare
from eo_cc.cc.report import sync_status, verdict
from eo_cc.db import one

from .fake_cc import LIST_ID
from .test_sync import cc, connect_organisation, election_with_list, queue, sleeps, states, sync  # noqa: F401

OTHER_LIST = "list-other"


def roster(db, election_id, emails, voted=()):
    db["voters"].insert_all({"election_id": election_id, "voter_code": email, "name": email,
                             "email": email, "password_encrypted": "x", "has_voted": int(email in voted),
                             "created_at": clock.iso()} for email in emails)


def vote(db, election_id, email):
    """What a cast does to the voter and the removal queue (the ballot itself plays no part)."""
    db.execute("UPDATE voters SET has_voted = 1 WHERE election_id = ? AND email = ?", [election_id, email])
    queue(db, election_id, [email])


@pytest.fixture
def three(db):
    """Board, bylaws and budget elections of one organisation on one list, all with ann and bo."""
    organisation_id = connect_organisation(db)
    ids = [election_with_list(db, organisation_id, title=title) for title in ("Board", "Bylaws", "Budget")]
    for election_id in ids:
        roster(db, election_id, ["ann@example.org", "bo@example.org"])
    return ids


def test_a_voter_stays_on_a_shared_list_until_they_voted_in_every_open_election_on_it(cc, db, sync, three):
    board, bylaws, budget = three
    cc.add_list(emails=["ann@example.org", "bo@example.org"])
    vote(db, board, "ann@example.org")
    vote(db, bylaws, "ann@example.org")
    result, lines = sync()
    assert cc.members() == ["ann@example.org", "bo@example.org"]
    assert cc.mocker.request_history == [] and result.exit_code == 0    # held is no failure
    assert states(db, board) == {"queued": 1} and states(db, bylaws) == {"queued": 1}

    vote(db, budget, "ann@example.org")
    result, _ = sync()
    assert cc.members() == ["bo@example.org"]
    assert result.exit_code == 0
    assert {**states(db, board), **states(db, bylaws), **states(db, budget)} == {"done": 1}


def test_when_one_election_closes_the_rule_counts_only_the_others(cc, db, sync, three):
    board, bylaws, budget = three
    cc.add_list(emails=["ann@example.org", "bo@example.org"])
    vote(db, board, "ann@example.org")
    vote(db, bylaws, "ann@example.org")
    sync()
    assert cc.members() == ["ann@example.org", "bo@example.org"]
    db.execute("UPDATE elections SET state = 'closed' WHERE id = ?", [budget])
    sync()
    assert cc.members() == ["bo@example.org"]


def test_a_voter_not_on_the_other_roster_leaves_at_once(cc, db, sync, three):
    board, bylaws, _ = three
    roster(db, board, ["cy@example.org"])
    cc.add_list(emails=["ann@example.org", "cy@example.org"])
    vote(db, board, "cy@example.org")
    sync()
    assert cc.members() == ["ann@example.org"]


def test_an_election_past_its_closing_time_holds_nobody(cc, db, sync, three):
    board, bylaws, budget = three
    cc.add_list(emails=["ann@example.org"])
    for election_id in (bylaws, budget):
        db.execute("UPDATE elections SET closes_at = ? WHERE id = ?", ["2000-01-01T00:00:00+00:00", election_id])
    vote(db, board, "ann@example.org")
    sync()
    assert cc.members() == []


def test_another_organisation_or_another_list_holds_nobody(cc, db, sync):
    mine = election_with_list(db, connect_organisation(db), title="Board")
    theirs = election_with_list(db, connect_organisation(db, email="bea@example.org"), title="Theirs")
    other_list = election_with_list(db, one(db, "SELECT organisation_id FROM elections WHERE id = ?",
                                            [mine])["organisation_id"], list_id=OTHER_LIST, title="Other")
    for election_id in (mine, theirs, other_list):
        roster(db, election_id, ["ann@example.org"])
    cc.add_list(emails=["ann@example.org"])
    vote(db, mine, "ann@example.org")
    sync()
    assert cc.members() == []


def test_the_panel_counts_held_removals_and_names_the_sharing_elections(app, db, three):
    board, bylaws, budget = three
    vote(db, board, "ann@example.org")
    assert sync_status(db, board, app.config)["held"] == 1
    election = one(db, "SELECT * FROM elections WHERE id = ?", [board])
    assert [e["title"] for e in sharing.sharing_elections(db, election)] == ["Budget", "Bylaws"]
    assert sharing.lists_in_use(db, election) == {LIST_ID: ["Budget", "Bylaws"]}
    vote(db, bylaws, "ann@example.org")
    vote(db, budget, "ann@example.org")
    assert sync_status(db, board, app.config)["held"] == 0


def test_the_roster_check_does_not_call_the_other_elections_voters_strangers():
    members = [{"email_address": {"address": a}, "contact_id": a} for a in ("ann@x.org", "zed@x.org")]
    found = compare([{"email": "bo@x.org", "name": "Bo", "has_voted": 0}], members, sharers=["Ann@x.org"])
    assert [(kind, email) for kind, email, _, _ in found.differences if kind == STRANGER] == [
        (STRANGER, "zed@x.org")]


def test_the_verdict_calls_a_list_with_only_held_voters_up_to_date(app, db, three):
    board, _, _ = three
    db.execute("UPDATE elections SET cc_list_name = 'Voters' WHERE id = ?", [board])
    vote(db, board, "ann@example.org")
    assert verdict(sync_status(db, board, app.config)).startswith(
        "Your list is up to date — safe to send a reminder now; 1 voter(s) who voted stay on the shared list")
    vote(db, board, "bo@example.org")
    db.execute("DELETE FROM voters WHERE email = 'bo@example.org' AND election_id != ?", [board])
    assert verdict(sync_status(db, board, app.config)).startswith("1 voter who voted is still on the list")
