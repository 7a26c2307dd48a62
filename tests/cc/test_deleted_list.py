"""A list deleted in Constant Contact is a state of the election, not an error (requests-mock CC)."""
import pytest

from eo_cc.cc import mailings
from eo_cc.cc.api import CCError
from eo_cc.cc.accounts import is_list_gone
from eo_cc.db import one

from .test_accounts import calls, cc, choose, election, grant, queued_voters, settings_page, states, sync  # noqa: F401
from .fake_cc import API

GONE = [{"error_key": "lists.api.not_found", "error_message": "List not found: 8a1f-uuid"}]
MARK = "The list Club voters no longer exists in Constant Contact: Select a List again."


@pytest.fixture
def chosen(client, db, cc, election):
    """An election on the list Club voters, with two voters who voted queued for removal."""
    cc.add_list("list-club", emails=["voter1@example.org", "voter2@example.org", "voter3@example.org"],
                name="Club voters")
    grant(client, election)
    choose(client, election, "list-club", "Club voters")
    queued_voters(db, election, ["voter1@example.org", "voter2@example.org"])
    return election


def problem(db, election_id):
    return one(db, "SELECT cc_list_problem FROM elections WHERE id = ?", [election_id])["cc_list_problem"]


@pytest.mark.parametrize("status, key, gone", [
    (404, "lists.api.not_found", True), (404, "not.found", False), (404, "contacts.api.not_found", False),
    (400, "lists.api.bad_request", False), (503, "lists.api.unavailable", False)])
def test_only_a_404_about_a_list_means_the_list_is_gone(status, key, gone):
    assert is_list_gone(CCError(status, key, "x")) is gone


def test_a_404_on_a_removal_marks_the_election_and_keeps_its_queue(app, client, db, cc, chosen, tmp_path):
    cc.fail("remove", 404, GONE)
    result, lines = sync(app, db, tmp_path)
    assert problem(db, chosen) == "deleted"
    assert states(db, chosen) == {"queued": 2}
    assert one(db, "SELECT max(attempts) AS n FROM cc_removals")["n"] == 0    # not a failed try
    page = settings_page(client, chosen)
    assert MARK in page and "lists.api.not_found" not in page and "8a1f-uuid" not in page


def test_a_404_on_reading_the_list_marks_the_election(app, client, db, cc, chosen, tmp_path):
    """Twelve voters to look up on a list of three: the run pages the list."""
    more = [f"member{n}@example.org" for n in range(10)]
    db["cc_removals"].insert_all({"election_id": chosen, "email": e, "queued_at": "2026-01-01T00:00:00+00:00",
                                  "updated_at": "2026-01-01T00:00:00+00:00"} for e in more)
    db.execute("DELETE FROM cc_contacts")
    db.execute("DELETE FROM cc_list_sizes")
    cc.fail("contacts", 404, GONE)
    sync(app, db, tmp_path)
    assert cc.calls("contacts_in_list") == 1
    assert problem(db, chosen) == "deleted"
    assert states(db, chosen) == {"queued": 12}


def test_the_next_runs_make_no_request_for_a_deleted_list(app, db, cc, chosen, tmp_path):
    cc.fail("remove", 404, GONE)
    sync(app, db, tmp_path)
    before = len(cc.mocker.request_history)
    for _ in range(2):
        result, _ = sync(app, db, tmp_path)
        assert result.exit_code == 0
    assert len(cc.mocker.request_history) == before
    db["elections"].update(chosen, {"has_cc_ballot_links": 1})
    assert mailings.due(db, chosen) == []


def test_choosing_a_list_again_sends_the_whole_queue_there(app, client, db, cc, chosen, tmp_path):
    cc.fail("remove", 404, GONE)
    sync(app, db, tmp_path)
    cc.add_list("list-new", name="Club voters 2")
    for contact in cc.contacts.values():
        contact["lists"].add("list-new")
    choose(client, chosen, "list-new", "Club voters 2")
    assert problem(db, chosen) is None
    sync(app, db, tmp_path)
    assert states(db, chosen) == {"done": 2}
    assert cc.members("list-new") == ["voter3@example.org"]


def test_the_list_picker_marks_a_chosen_list_the_account_no_longer_has(client, db, cc, chosen):
    del cc.lists["list-club"]
    page = client.get(f"/elections/{chosen}/integration/lists").get_data(as_text=True)
    assert "Club voters" not in page
    assert problem(db, chosen) == "deleted"
    assert MARK in settings_page(client, chosen)


def test_the_list_picker_keeps_the_chosen_lists_name_current(client, db, cc, chosen):
    cc.lists["list-club"] = "Club voters (2026)"
    client.get(f"/elections/{chosen}/integration/lists")
    assert one(db, "SELECT cc_list_name FROM elections WHERE id = ?", [chosen])["cc_list_name"] == \
        "Club voters (2026)"
    assert problem(db, chosen) is None
    assert calls(cc, API + "/contact_lists") >= 1


def test_when_no_looked_up_voter_is_on_the_list_eo_cc_makes_sure_the_list_is_there(app, db, cc, chosen,
                                                                                      tmp_path):
    """Per-email look-ups never read the list: finding nobody on it is the sign to read it once."""
    db.execute("DELETE FROM cc_contacts")
    db.execute("DELETE FROM cc_list_sizes")
    db.execute("DELETE FROM cc_removals WHERE email = 'voter2@example.org'")
    del cc.lists["list-club"]
    for contact in cc.contacts.values():
        contact["lists"].clear()
    sync(app, db, tmp_path)
    assert problem(db, chosen) == "deleted"
    assert states(db, chosen) == {"queued": 1}                 # not "not in the list": kept


def test_a_voter_not_on_a_list_that_is_there_costs_one_list_read_at_most(app, db, cc, chosen, tmp_path):
    db.execute("DELETE FROM cc_contacts")
    db.execute("DELETE FROM cc_list_sizes")
    db.execute("DELETE FROM cc_removals WHERE email = 'voter2@example.org'")
    cc.contacts["c-1"]["lists"].clear()
    before = cc.calls("lists")
    sync(app, db, tmp_path)
    assert states(db, chosen) == {"not_in_list": 1} and problem(db, chosen) is None
    assert cc.calls("lists") - before == 1
