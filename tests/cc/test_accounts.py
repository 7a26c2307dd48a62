"""The connection names its Constant Contact account; lists chosen in another account are marked."""
import time

import pytest

from eo_cc.cc import mailings
from eo_cc.cc.sync import run_sync
from eo_cc.cc.tokens import SCOPE, save_token
from eo_cc.db import one

from ..factories import SECRET_KEY, make_election, make_voters
from .fake_cc import API, FakeCC, mocker
from .test_sync import queue, states
from .test_views import account_summary, finish_grant, settings_page, start_grant

SUMMARY_URL = API + "/account/summary"
FIRST = account_summary("acct-1", "Ada's Club", "ada@club.example")
PERSONAL = account_summary("acct-2", "Ada Lovelace", "ada@home.example")
MARK = "is not in the Constant Contact account now connected"


@pytest.fixture
def cc():
    with mocker() as m:
        fake = FakeCC(m)
        fake.summary = FIRST
        m.get(SUMMARY_URL, json=lambda request, context: fake.summary)
        yield fake


@pytest.fixture
def election(db, admin):
    return make_election(db, admin, has_announcement_email=0, has_reminder_emails=0)


def grant(client, election_id):
    return finish_grant(client, start_grant(client, election_id)["state"]).get_data(as_text=True)


def calls(cc, url):
    return sum(1 for r in cc.mocker.request_history if r.url.split("?")[0] == url)


def choose(client, election_id, list_id, name):
    return client.post(f"/elections/{election_id}/integration/list", follow_redirects=True,
                       data={"list_id": list_id, "list_name": name}).get_data(as_text=True)


def queued_voters(db, election_id, emails):
    """Voters voter1.. who voted, queued for removal (as a ballot leaves them)."""
    make_voters(db, election_id, count=len(emails))
    db.execute("UPDATE voters SET has_voted = 1 WHERE election_id = ?", [election_id])
    queue(db, election_id, emails)


def on_club_list_with_voter1_queued(client, db, cc, election_id):
    """Granted, the list Club voters chosen, voter1 (on it) voted and queued for removal."""
    cc.add_list("list-club", emails=["voter1@example.org"], name="Club voters")
    grant(client, election_id)
    choose(client, election_id, "list-club", "Club voters")
    queued_voters(db, election_id, ["voter1@example.org"])


def sync(app, db, tmp_path, **options):
    lines = []
    result = run_sync(db, app.config, echo=lines.append, sleep=lambda s: None,
                      lock_path=str(tmp_path / "cc_sync.lock"), **options)
    return result, lines


def test_eo_cc_asks_for_account_read():
    assert SCOPE.split() == ["account_read", "contact_data", "offline_access"]


def test_a_grant_names_the_account_on_every_election_and_the_sync_panel(app, client, db, admin, cc,
                                                                        election):
    other = make_election(db, admin, title="Second election")
    page = grant(client, election)
    assert "now configured to integrate with your Constant Contact account" in page
    assert "Connected to Ada&#39;s Club (ada@club.example)" in page
    assert calls(cc, SUMMARY_URL) == 1 and calls(cc, API + "/contact_lists") == 0
    assert one(db, "SELECT requests FROM cc_request_counts")["requests"] == 1
    cc.mocker.reset_mock()
    other_page = settings_page(client, other)
    assert other_page.count("Connected to Ada&#39;s Club (ada@club.example)") == 2   # settings and panel
    assert not cc.mocker.called


def test_a_connection_made_before_eo_cc_asked_reads_connected_without_a_request(app, client, db,
                                                                                 organisation, cc, election):
    save_token(db, SECRET_KEY, organisation, {"access_token": "a", "refresh_token": "r",
                                              "expires_at": int(time.time()) + 86400,
                                              "scope": "contact_data offline_access"})
    page = settings_page(client, election)
    assert "Connected." in page and "Connected to" not in page
    assert not cc.mocker.called


def test_a_refused_summary_still_connects_and_names_no_account(app, client, db, cc, election):
    grant(client, election)
    cc.summary = None
    cc.mocker.get(SUMMARY_URL, status_code=403, json=[{"error_key": "unauthorized",
                                                        "error_message": "Forbidden"}])
    page = grant(client, election)
    assert "now configured to integrate" in page
    assert "Connected." in page and "Ada&#39;s Club" not in page   # it may be another account now


def test_granting_the_same_account_again_checks_no_list(app, client, db, cc, election):
    cc.add_list("list-club", name="Club voters")
    grant(client, election)
    choose(client, election, "list-club", "Club voters")
    cc.mocker.reset_mock()
    grant(client, election)
    assert calls(cc, SUMMARY_URL) == 1 and calls(cc, API + "/contact_lists") == 0


def test_a_grant_for_another_account_marks_elections_whose_list_it_lacks(app, client, db, admin, cc,
                                                                          election, tmp_path):
    cc.add_list("list-club", emails=["voter1@example.org", "voter2@example.org"], name="Club voters")
    grant(client, election)
    choose(client, election, "list-club", "Club voters")
    queued_voters(db, election, ["voter1@example.org", "voter2@example.org"])
    cc.lists, cc.summary = {"list-home": "Friends"}, PERSONAL       # the personal account
    cc.mocker.reset_mock()
    page = grant(client, election)
    assert calls(cc, SUMMARY_URL) == 1 and calls(cc, API + "/contact_lists") == 1
    assert "Connected to Ada Lovelace (ada@home.example)" in page
    assert (f"The list Club voters {MARK}: Select a List again or grant access to "
            "Ada&#39;s Club (ada@club.example)") in page
    assert one(db, "SELECT cc_list_problem FROM elections WHERE id = ?", [election])["cc_list_problem"] \
        == "wrong_account"

    cc.mocker.reset_mock()
    result, _ = sync(app, db, tmp_path)
    assert not any("/contacts" in r.url or "/activities" in r.url for r in cc.mocker.request_history)
    assert states(db, election) == {"queued": 2} and result.exit_code == 0
    sync_now = client.post(f"/elections/{election}/integration/sync", follow_redirects=True)
    assert "Nothing was synced" in sync_now.get_data(as_text=True)


def test_mailings_wait_while_the_chosen_list_is_marked(db, election):
    db["elections"].update(election, {"cc_list_id": "list-club", "cc_list_name": "Club voters",
                                      "has_cc_ballot_links": 1})
    assert [e["id"] for e in mailings.due(db, election)] == [election]
    db["elections"].update(election, {"cc_list_problem": "wrong_account"})
    assert mailings.due(db, election) == []


def test_choosing_a_list_of_the_new_account_clears_the_mark_and_removes_the_queued_voters(
        app, client, db, cc, election, tmp_path):
    on_club_list_with_voter1_queued(client, db, cc, election)
    cc.summary, cc.lists = PERSONAL, {"list-home": "Friends"}   # the voter is on its list too
    for contact in cc.contacts.values():
        contact["lists"] = {"list-home"}
    grant(client, election)
    page = choose(client, election, "list-home", "Friends")
    assert MARK not in page
    row = one(db, "SELECT * FROM elections WHERE id = ?", [election])
    assert (row["cc_list_problem"], row["cc_list_account_id"]) == (None, "acct-2")
    sync(app, db, tmp_path)
    assert states(db, election) == {"done": 1}
    assert "voter1@example.org" not in cc.members("list-home")


def test_granting_the_old_account_again_clears_the_mark_without_a_list_request(app, client, db, cc,
                                                                              election):
    cc.add_list("list-club", name="Club voters")
    grant(client, election)
    choose(client, election, "list-club", "Club voters")
    cc.summary, saved_lists, cc.lists = PERSONAL, cc.lists, {}
    assert MARK in grant(client, election)
    cc.summary, cc.lists = FIRST, saved_lists
    cc.mocker.reset_mock()
    page = grant(client, election)
    assert MARK not in page and calls(cc, API + "/contact_lists") == 0


def test_when_the_grant_could_not_check_the_lists_the_sync_does_before_removing_anyone(
        app, client, db, cc, election, tmp_path):
    on_club_list_with_voter1_queued(client, db, cc, election)
    cc.summary, cc.lists = PERSONAL, {}
    cc.fail("lists", 503, {"error_key": "service_unavailable"})
    assert MARK not in grant(client, election)                    # the check failed: not marked yet
    cc.mocker.reset_mock()
    result, lines = sync(app, db, tmp_path)
    assert calls(cc, API + "/contact_lists") == 1
    assert not any("/contacts" in r.url or "remove" in r.url for r in cc.mocker.request_history)
    assert states(db, election) == {"queued": 1}
    assert any(MARK in line for line in lines)
    assert MARK in settings_page(client, election)
