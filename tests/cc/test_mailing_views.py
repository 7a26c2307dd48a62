"""Constant Contact mailings on Integration Settings: the buttons, the panel, a list made from the roster."""
import time

import pytest

from eo_cc.cc import list_check
from eo_cc.cc import mailing_views
from eo_cc.cc import tokens as cc_tokens
from eo_cc.db import one, rows
from eo_cc.elections import views as election_views

from ..factories import ADMIN_PASSWORD, make_election, make_member, make_voters, outbox_mail
from .fake_cc import LIST_ID, mocker
from .fake_mailings import MailingsCC

PAGE = "/elections/{}/integration"


@pytest.fixture
def started(monkeypatch):
    """The detached runs the buttons start (not started for real in these tests)."""
    runs = []
    monkeypatch.setattr(mailing_views, "start_background_sync",
                        lambda config, election_id: runs.append(election_id) or True)
    return runs


@pytest.fixture
def connected(app, db, organisation):
    cc_tokens.save_token(db, app.config["SECRET_KEY"], organisation, {
        "access_token": "stored-access", "refresh_token": "stored-refresh", "token_type": "Bearer",
        "expires_at": int(time.time()) + 86400, "scope": "contact_data offline_access"})
    return organisation


@pytest.fixture
def election_id(app, db, admin, connected):
    """An open election using the list "Voters", with voter1..3 on its roster."""
    election_id = make_election(db, admin, cc_list_id=LIST_ID, cc_list_name="Voters",
                                has_announcement_email=0, has_reminder_emails=0)
    make_voters(db, election_id, secret_key=app.config["SECRET_KEY"])
    return election_id


def page(client, election_id):
    return client.get(PAGE.format(election_id)).get_data(as_text=True)


def checked(db, election_id):
    """A check's result as the sync stores it: voter3 missing, one stranger, voter2 unsubscribed."""
    list_check.store(db, election_id, LIST_ID, list_check.Found(3, 1, [
        ("missing", "voter3@example.org", "Voter 3", None),
        ("stranger", "stranger@example.org", "Sam Stranger", "c-9"),
        ("unsubscribed", "voter2@example.org", "Voter 2", "c-2")]), requests=1)


def test_the_panel_offers_ballot_links_with_their_cost_and_the_check(client, election_id):
    shown = page(client, election_id)
    for words in ("Ballot links in Constant Contact", "Put ballot links into Constant Contact",
                  "Roster and list", "Not checked yet.", "Check the list now",
                  "Create a list from this roster", "one request per 500 list members"):
        assert words in shown


def test_putting_links_in_turns_them_on_and_starts_the_run(client, db, election_id, started):
    response = client.post(PAGE.format(election_id) + "/ballot-links")
    assert response.status_code == 302
    assert one(db, "SELECT has_cc_ballot_links FROM elections WHERE id = ?", [election_id])["has_cc_ballot_links"] == 1
    assert started == [election_id]
    assert "put ballot links into Constant Contact" in [r["action"] for r in rows(db, "SELECT action FROM audit_log")]
    shown = page(client, election_id)
    assert "Privacy:" in shown and "a ballot link is a credential" in shown
    assert "deletes the field it made, and every link in it" in shown


def test_the_privacy_note_follows_the_keep_setting(client, db, election_id, started):
    client.post(PAGE.format(election_id) + "/ballot-links")
    client.post(PAGE.format(election_id) + "/ballot-links/field", data={"keep": "y"})
    assert one(db, "SELECT keeps_cc_ballot_link_field AS k FROM elections WHERE id = ?", [election_id])["k"] == 1
    assert "until you delete the field there" in page(client, election_id)
    client.post(PAGE.format(election_id) + "/ballot-links/field", data={})
    assert one(db, "SELECT keeps_cc_ballot_link_field AS k FROM elections WHERE id = ?", [election_id])["k"] == 0


def test_the_field_and_how_to_insert_it_are_shown_once_made(client, db, election_id, started):
    client.post(PAGE.format(election_id) + "/ballot-links")
    db["cc_link_fields"].insert({"election_id": election_id, "label": "Ballot link – Board election",
                                 "custom_field_id": "f-1", "name": "Ballot_link_–_Board_election",
                                 "create_attempts": 1, "created_at": "2026-01-01T00:00:00+00:00"})
    shown = page(client, election_id)
    assert "Put the link into your Constant Contact email" in shown
    assert shown.count("Ballot link – Board election") >= 2
    assert "3 new or changed link(s) go in at the next sync" in shown


def test_asking_for_a_check_records_it_and_starts_the_run(client, db, election_id, started):
    client.post(PAGE.format(election_id) + "/roster-check")
    assert list_check.last_check(db, election_id)["requested_at"]
    assert started == [election_id]
    assert "A check is asked for" in page(client, election_id)


def test_the_panel_shows_what_the_check_found_with_a_button_for_each_fix(client, db, election_id):
    checked(db, election_id)
    shown = page(client, election_id)
    for words in ("Add them to the list", "Remove them from the list", "Send them their ballot link from eo_cc",
                  "implicit permission", "their contacts stay in Constant Contact", "stranger@example.org"):
        assert words in shown


def test_each_fix_is_asked_for_once_and_started(client, db, election_id, started):
    checked(db, election_id)
    client.post(PAGE.format(election_id) + "/roster-check/add")
    client.post(PAGE.format(election_id) + "/roster-check/remove")
    client.post(PAGE.format(election_id) + "/roster-check/remove")
    assert {r["kind"]: r["fix"] for r in rows(db, "SELECT kind, fix FROM cc_list_differences")} == {
        "missing": "requested", "stranger": "requested", "unsubscribed": None}
    assert started == [election_id, election_id]
    assert "Remove them from the list" not in page(client, election_id)


def test_the_check_waits_while_fixes_are_being_made(client, db, election_id, started):
    checked(db, election_id)
    client.post(PAGE.format(election_id) + "/roster-check/add")
    response = client.post(PAGE.format(election_id) + "/roster-check", follow_redirects=True)
    assert b"still being made" in response.data
    assert list_check.last_check(db, election_id)["requested_at"] is None


def test_send_links_mails_the_unsubscribed_voters_at_once(app, client, db, election_id, started):
    checked(db, election_id)
    client.post(PAGE.format(election_id) + "/roster-check/send-links")
    mails = outbox_mail(f"{app.instance_path}/outbox", "voter2@example.org")
    assert len(mails) == 1 and "/link/" in mails[0]
    assert started == []     # eo_cc's own mail: no Constant Contact request


@pytest.mark.parametrize("kind, filename", [("missing", "not-on-the-list"), ("stranger", "not-on-the-roster"),
                                            ("unsubscribed", "unsubscribed")])
def test_each_difference_downloads_as_csv(client, db, election_id, kind, filename):
    checked(db, election_id)
    response = client.get(PAGE.format(election_id) + f"/roster-check.csv?kind={kind}")
    assert response.status_code == 200 and filename in response.headers["Content-Disposition"]
    assert len(response.get_data(as_text=True).strip().splitlines()) == 2


def test_an_unknown_kind_of_download_is_not_found(client, election_id):
    assert client.get(PAGE.format(election_id) + "/roster-check.csv?kind=everyone").status_code == 404


def test_an_observer_sees_the_counts_but_no_emails_and_no_buttons(app, client, db, organisation, election_id):
    checked(db, election_id)
    make_member(db, organisation, "observer", "watcher@example.org")
    client.post("/auth/logout")
    client.post("/auth/login", data={"email": "watcher@example.org", "password": ADMIN_PASSWORD})
    shown = page(client, election_id)
    assert "Roster and list" in shown and "not on the roster" in shown
    for hidden in ("stranger@example.org", "Add them to the list", "Check the list now",
                   "Put ballot links into Constant Contact", "Create a list from this roster"):
        assert hidden not in shown
    assert client.post(PAGE.format(election_id) + "/roster-check/add").status_code == 403


def test_nothing_is_asked_for_once_voting_has_closed(client, db, election_id, started):
    db.execute("UPDATE elections SET state = 'closed' WHERE id = ?", [election_id])
    client.post(PAGE.format(election_id) + "/ballot-links")
    client.post(PAGE.format(election_id) + "/roster-check")
    assert started == [] and list_check.last_check(db, election_id) is None


# --- a list made from the roster ---------------------------------------------------------------

@pytest.fixture
def cc():
    with mocker() as m:
        yield MailingsCC(m)


def test_the_confirmation_says_what_happens_to_permission_before_anything_is_made(client, cc, election_id):
    shown = client.get(PAGE.format(election_id) + "/create-list").get_data(as_text=True)
    for words in ("Create a list from this roster", "implicit permission", "keep their permission",
                  "stays unsubscribed", 'value="Board election"', "3</strong>"):
        assert words in shown
    assert cc.made_lists == []


def test_creating_the_list_chooses_it_and_asks_the_run_to_import_the_roster(client, db, cc, election_id,
                                                                           started):
    response = client.post(PAGE.format(election_id) + "/create-list",
                           data={"name": "Board election 2026", "with_links": "y"})
    assert response.status_code == 302
    election = one(db, "SELECT * FROM elections WHERE id = ?", [election_id])
    assert cc.made_lists == ["Board election 2026"]
    assert (election["cc_list_name"], election["has_cc_ballot_links"]) == ("Board election 2026", 1)
    assert {r["email"]: r["fix"] for r in list_check.differences(db, election_id, "missing")} == {
        f"voter{n}@example.org": "requested" for n in (1, 2, 3)}
    assert started == [election_id]


def test_a_list_name_constant_contact_has_already_is_said_on_the_form(client, db, cc, election_id, started):
    cc.add_list("other", [], name="Board election")
    shown = client.post(PAGE.format(election_id) + "/create-list", data={"name": "board election"}).get_data(
        as_text=True)
    assert "already has a list named board election" in shown
    assert one(db, "SELECT cc_list_id FROM elections WHERE id = ?", [election_id])["cc_list_id"] == LIST_ID
    assert started == []


def test_the_voter_page_fits_a_constant_contact_mailing(client, db, election_id):
    slug = one(db, "SELECT slug FROM elections WHERE id = ?", [election_id])["slug"]
    shown = client.get(f"/vote/{slug}").get_data(as_text=True)
    assert "Voter ID and password are in the announcement email" not in shown
    db.execute("UPDATE elections SET has_cc_ballot_links = 1 WHERE id = ?", [election_id])
    shown = client.get(f"/vote/{slug}").get_data(as_text=True)
    assert "email about this election has your personal ballot link" in shown
    assert "Get a new ballot link" in shown


def test_closing_voting_starts_the_run_that_deletes_the_ballot_link_field(client, db, election_id, monkeypatch):
    runs = []
    monkeypatch.setattr(election_views, "start_background_sync", lambda config, eid: runs.append(eid) or True)
    db["cc_link_fields"].insert({"election_id": election_id, "label": "Ballot link – Board election",
                                 "custom_field_id": "f-1", "name": "Ballot_link", "create_attempts": 1,
                                 "created_at": "2026-01-01T00:00:00+00:00"})
    client.post(f"/elections/{election_id}/close")
    assert runs == [election_id]


def test_closing_an_election_without_a_field_starts_no_run(client, election_id, monkeypatch):
    runs = []
    monkeypatch.setattr(election_views, "start_background_sync", lambda config, eid: runs.append(eid) or True)
    client.post(f"/elections/{election_id}/close")
    assert runs == []


def test_a_check_of_the_list_used_before_is_not_shown_for_the_new_one(client, db, election_id):
    checked(db, election_id)
    db.execute("UPDATE elections SET cc_list_id = 'list-new' WHERE id = ?", [election_id])
    shown = page(client, election_id)
    assert "Not checked yet." in shown and "stranger@example.org" not in shown
    csv_text = client.get(PAGE.format(election_id) + "/roster-check.csv?kind=stranger").get_data(as_text=True)
    assert "stranger@example.org" not in csv_text
