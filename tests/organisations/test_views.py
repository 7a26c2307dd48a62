"""The Members page, invitations, the switcher, and what each role sees and may do."""
import os
import time
from datetime import timedelta

import pytest

from eo_cc import clock
from eo_cc.cc import tokens as cc_tokens
from eo_cc.db import one, rows
from eo_cc.organisations import members

from ..factories import (
    ADMIN_PASSWORD,
    invitation_link,
    make_admin,
    make_election,
    make_member,
    make_voters,
    organisation_of,
    outbox_mail,
)

TOKEN_URL = "https://authz.test/oauth2/default/v1/token"
REVOKE_URL = "https://authz.test/oauth2/default/v1/revoke"


@pytest.fixture
def outbox(app):
    return os.path.join(app.instance_path, "outbox")


@pytest.fixture
def sign_in(app):
    """A logged-in client of its own for an email (each person has their own browser)."""
    def open_client(email, password=ADMIN_PASSWORD):
        client = app.test_client()
        response = client.post("/auth/login", data={"email": email, "password": password})
        assert "/auth/login" not in response.headers["Location"]
        return client
    return open_client


def page(client, url):
    return client.get(url, follow_redirects=True).get_data(as_text=True)


def members_url(organisation_id):
    return f"/organisations/{organisation_id}/members"


def invite(client, organisation_id, email, role):
    return client.post(f"/organisations/{organisation_id}/invitations", data={"email": email, "role": role},
                       follow_redirects=True)


# --- the Members page and invitations -----------------------------------------------------------

def test_members_page_lists_members_with_roles_in_words_and_an_invite_button(client, db, admin,
                                                                            organisation):
    make_member(db, organisation, "admin", "sec@example.org", name="Secretary")
    make_member(db, organisation, "observer", "scrut@example.org", name="Scrutineer")
    text = page(client, members_url(organisation))
    assert ">Invite</button>" in text
    for row in ("<td>Ada</td><td>ada@example.org</td><td>Owner</td>",
                "<td>Secretary</td><td>sec@example.org</td><td>Admin</td>",
                "<td>Scrutineer</td><td>scrut@example.org</td><td>Observer</td>"):
        assert row in text
    assert "The last owner" in text  # Ada's row offers no way to demote or remove her


def test_invite_mails_a_link_that_opens_a_sign_up_for_the_invited_address(app, client, admin,
                                                                          organisation, outbox):
    text = invite(client, organisation, "Sec@Example.org", "admin").get_data(as_text=True)
    assert "Invitation sent to sec@example.org." in text
    assert "sec@example.org" in text and "Revoke" in text  # pending, on the Members page
    mail = outbox_mail(outbox, "sec@example.org")[0]
    assert "Ada (ada@example.org) invites you" in mail and "as Admin" in mail
    signup = app.test_client().get(invitation_link(outbox, "sec@example.org")).get_data(as_text=True)
    assert "Join Ada&#39;s organisation" in signup and "Create account and join" in signup
    assert "<strong>sec@example.org</strong>" in signup


def test_invited_person_signs_up_and_joins_with_the_role_and_no_organisation_of_their_own(
        app, client, db, admin, organisation, outbox):
    invite(client, organisation, "scrut@example.org", "observer")
    newcomer = app.test_client()
    response = newcomer.post(invitation_link(outbox, "scrut@example.org"), follow_redirects=True, data={
        "name": "Scrutineer", "email": "someone-else@example.org", "password": "long enough pw",
        "confirm": "long enough pw", "timezone": "UTC"})
    text = response.get_data(as_text=True)
    assert "Welcome to Ada&#39;s organisation: you are a member as Observer." in text
    account = one(db, "SELECT id, email FROM admins WHERE name = 'Scrutineer'")
    assert account["email"] == "scrut@example.org"  # the posted email is ignored
    assert [(m["organisation_id"], m["role"]) for m in members.memberships_of(db, account["id"])] == [
        (organisation, "observer")]
    entry = one(db, "SELECT action, detail FROM audit_log WHERE admin_id = ?", [account["id"]])
    assert (entry["action"], entry["detail"]) == ("joined the organisation", "Observer")


def test_an_invitation_link_works_once(app, client, admin, organisation, outbox):
    invite(client, organisation, "sec@example.org", "admin")
    link = invitation_link(outbox, "sec@example.org")
    form = {"name": "Sec", "password": "long enough pw", "confirm": "long enough pw", "timezone": "UTC"}
    assert app.test_client().post(link, data=form).status_code == 302
    again = app.test_client().get(link)
    assert again.status_code == 404 and "does not work" in again.get_data(as_text=True)


def test_an_admin_with_an_account_logs_in_from_the_link_and_joins(app, client, db, admin, organisation,
                                                                  outbox, sign_in):
    other = make_admin(db, email="sec@example.org", name="Sec")
    invite(client, organisation, "sec@example.org", "admin")
    link = invitation_link(outbox, "sec@example.org")
    assert "Log in to join" in page(app.test_client(), link)
    visitor = app.test_client()
    response = visitor.post("/auth/login?next=" + link.split("localhost", 1)[1],
                            data={"email": "sec@example.org", "password": ADMIN_PASSWORD})
    assert response.headers["Location"].endswith(link.split("localhost", 1)[1])
    assert "Join Ada&#39;s organisation</button>" in page(visitor, link)
    response = visitor.post(link + "/accept", follow_redirects=True)
    assert "you are a member as Admin" in response.get_data(as_text=True)
    assert {m["role"] for m in members.memberships_of(db, other)} == {"owner", "admin"}
    assert "Switch</button>" in response.get_data(as_text=True)  # two organisations now


def test_an_invitation_cannot_be_accepted_by_another_account(app, client, db, admin, organisation,
                                                              outbox, sign_in):
    make_admin(db, email="intruder@example.org")
    invite(client, organisation, "sec@example.org", "admin")
    link = invitation_link(outbox, "sec@example.org")
    intruder = sign_in("intruder@example.org")
    assert "this invitation is for" in page(intruder, link)
    assert intruder.post(link + "/accept").status_code == 403
    assert len(members.members_of(db, organisation)) == 1


def test_a_revoked_invitation_link_no_longer_works(app, client, db, admin, organisation, outbox):
    invite(client, organisation, "sec@example.org", "admin")
    invitation_id = one(db, "SELECT id FROM invitations")["id"]
    text = client.post(f"/organisations/{organisation}/invitations/{invitation_id}/revoke",
                       follow_redirects=True).get_data(as_text=True)
    assert "The invitation to sec@example.org is revoked" in text
    assert app.test_client().get(invitation_link(outbox, "sec@example.org")).status_code == 404
    assert one(db, "SELECT action, detail FROM audit_log WHERE action = 'revoked an invitation'")[
        "detail"] == "sec@example.org as Admin"


def test_an_expired_invitation_link_no_longer_works(app, client, db, admin, organisation, outbox):
    invite(client, organisation, "sec@example.org", "admin")
    db.execute("UPDATE invitations SET expires_at = ?", [clock.iso(clock.now() - timedelta(seconds=1))])
    assert app.test_client().get(invitation_link(outbox, "sec@example.org")).status_code == 404


def test_inviting_a_member_again_is_refused_on_the_page(client, db, admin, organisation):
    make_member(db, organisation, "admin", "sec@example.org")
    text = invite(client, organisation, "sec@example.org", "observer").get_data(as_text=True)
    assert "sec@example.org is already a member of this organisation." in text
    assert rows(db, "SELECT * FROM invitations") == []


# --- changing and removing members ------------------------------------------------------------

def test_owner_changes_a_role_and_the_members_page_log_names_who_did_it(client, db, admin, organisation):
    sec = make_member(db, organisation, "admin", "sec@example.org", name="Sec")
    text = client.post(f"/organisations/{organisation}/members/{sec}/role",
                       data={f"member-{sec}-role": "observer"}, follow_redirects=True).get_data(as_text=True)
    assert "Sec is now Observer." in text
    assert members.membership(db, organisation, sec)["role"] == "observer"
    assert "Ada (ada@example.org)" in text and "Sec (sec@example.org): Admin → Observer" in text


def test_the_last_owner_cannot_be_demoted_from_the_page(client, db, admin, organisation):
    text = client.post(f"/organisations/{organisation}/members/{admin}/role",
                       data={f"member-{admin}-role": "admin"}, follow_redirects=True).get_data(as_text=True)
    assert "The last owner cannot be demoted" in text
    assert members.membership(db, organisation, admin)["role"] == "owner"


def test_the_last_owner_cannot_leave(client, db, admin, organisation):
    text = client.post(f"/organisations/{organisation}/leave", follow_redirects=True).get_data(as_text=True)
    assert "The last owner cannot leave" in text
    assert members.membership(db, organisation, admin)["role"] == "owner"


def test_a_removed_member_is_logged_out_on_their_next_request_with_a_plain_message(
        client, db, admin, organisation, sign_in):
    election_id = make_election(db, admin)
    sec = make_member(db, organisation, "admin", "sec@example.org", name="Sec")
    secretary = sign_in("sec@example.org")
    assert secretary.get(f"/elections/{election_id}/roster").status_code == 200
    text = client.post(f"/organisations/{organisation}/members/{sec}/remove",
                       follow_redirects=True).get_data(as_text=True)
    assert "Sec is no longer a member" in text
    response = secretary.get(f"/elections/{election_id}/roster", follow_redirects=True)
    assert response.request.path == "/auth/login"
    assert "You are no longer a member of Ada&#39;s organisation, so you have been logged out." \
        in response.get_data(as_text=True)
    assert secretary.get(f"/elections/{election_id}").headers["Location"].startswith("/auth/login")
    assert "removed a member" in [e["action"] for e in rows(db, "SELECT action FROM audit_log")]


def test_a_lowered_role_takes_effect_on_the_next_request_by_ending_the_session(
        client, db, admin, organisation, sign_in):
    election_id = make_election(db, admin)
    sec = make_member(db, organisation, "admin", "sec@example.org")
    secretary = sign_in("sec@example.org")
    assert secretary.get(f"/elections/{election_id}/roster").status_code == 200
    members.change_role(db, organisation, sec, "observer")
    response = secretary.get(f"/elections/{election_id}/roster", follow_redirects=True)
    assert "Your role in Ada&#39;s organisation is now Observer" in response.get_data(as_text=True)
    observer = sign_in("sec@example.org")
    assert observer.get(f"/elections/{election_id}/roster").status_code == 403
    assert observer.get(f"/elections/{election_id}").status_code == 200


def test_a_raised_role_takes_effect_at_once_without_logging_out(db, admin, organisation, sign_in):
    election_id = make_election(db, admin)
    scrut = make_member(db, organisation, "observer", "scrut@example.org")
    scrutineer = sign_in("scrut@example.org")
    assert scrutineer.get(f"/elections/{election_id}/roster").status_code == 403
    members.change_role(db, organisation, scrut, "admin")
    assert scrutineer.get(f"/elections/{election_id}/roster").status_code == 200


def test_an_owner_who_steps_down_stays_logged_in(client, db, admin, organisation):
    make_member(db, organisation, "owner", "chair@example.org")
    response = client.post(f"/organisations/{organisation}/members/{admin}/role",
                           data={f"member-{admin}-role": "admin"})
    assert response.headers["Location"] == "/elections/"
    assert client.get("/elections/").status_code == 200
    assert client.get(members_url(organisation)).status_code == 403


def test_leaving_moves_the_admin_on_to_their_own_organisation(db, admin, organisation, sign_in):
    other = make_admin(db, email="sec@example.org", name="Sec")
    members.add_member(db, organisation, other, "admin")
    secretary = sign_in("sec@example.org")
    secretary.post("/organisations/switch", data={"organisation_id": organisation})
    assert "Ada&#39;s organisation: elections" in page(secretary, "/elections/")
    text = secretary.post(f"/organisations/{organisation}/leave", follow_redirects=True).get_data(as_text=True)
    assert "You have left Ada&#39;s organisation." in text
    assert "Sec&#39;s organisation: elections" in text
    assert members.membership(db, organisation, other) is None


# --- organisations of one's own -----------------------------------------------------------------

def test_the_switcher_shows_the_chosen_organisations_elections(db, admin, organisation, sign_in):
    make_election(db, admin, title="Ada's board")
    other = make_admin(db, email="sec@example.org", name="Sec")
    make_election(db, other, title="Sec's board")
    members.add_member(db, organisation, other, "observer")
    secretary = sign_in("sec@example.org")
    own = page(secretary, "/elections/")
    assert "Sec&#39;s board" in own and "Ada&#39;s board" not in own and "Switch</button>" in own
    secretary.post("/organisations/switch", data={"organisation_id": organisation})
    theirs = page(secretary, "/elections/")
    assert "Ada&#39;s board" in theirs and "Sec&#39;s board" not in theirs
    assert "You are Observer here." in theirs and "New election" not in theirs


def test_switching_to_an_organisation_one_is_not_in_changes_nothing(client, db, admin):
    stranger = organisation_of(db, make_admin(db, email="stranger@example.org"))
    make_election(db, None, organisation_id=stranger, title="Not yours")
    text = client.post("/organisations/switch", data={"organisation_id": stranger},
                       follow_redirects=True).get_data(as_text=True)
    assert "Choose one of your organisations." in text and "Not yours" not in text


def test_new_elections_belong_to_the_current_organisation_and_every_member_sees_them(
        client, db, admin, organisation, sign_in):
    make_member(db, organisation, "admin", "sec@example.org")
    sign_in("sec@example.org").post("/elections/new", data={"title": "Made by Sec"})
    election = one(db, "SELECT * FROM elections WHERE title = 'Made by Sec'")
    assert election["organisation_id"] == organisation
    assert "Made by Sec" in page(client, "/elections/")
    log = page(client, f"/elections/{election['id']}/audit")
    assert "Sec (sec@example.org)" in log and "created the election" in log


def test_an_admin_who_belongs_nowhere_can_start_an_organisation(app, db, admin, organisation, sign_in):
    loner = make_member(db, organisation, "observer", "loner@example.org")
    members.remove_member(db, organisation, loner)
    client = sign_in("loner@example.org")
    assert "You are not a member of any organisation now" in page(client, "/elections/")
    assert client.get("/elections/new").status_code == 404
    text = client.post("/organisations/new", data={"name": "Loner Club"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Loner Club: elections" in text and "You are Owner here." in text


# --- what an observer sees ----------------------------------------------------------------------

def test_an_observer_sees_turnout_and_the_audit_log_but_no_action_or_roster(db, admin, organisation,
                                                                           sign_in):
    election_id = make_election(db, admin)
    make_voters(db, election_id, count=3)
    make_member(db, organisation, "observer", "scrut@example.org")
    scrutineer = sign_in("scrut@example.org")
    dashboard = page(scrutineer, f"/elections/{election_id}")
    assert "0 of 3 voted" in dashboard and "Audit log" in dashboard
    assert "Close voting" not in dashboard and ">Roster<" not in dashboard and ">Edit<" not in dashboard
    integration = page(scrutineer, f"/elections/{election_id}/integration")
    assert "Sync status" in integration
    assert "Grant access" not in integration.replace("Grant access again", "") \
        and "Sync now" not in integration
    for url in (f"/elections/{election_id}/roster", f"/elections/{election_id}/roster/credentials",
                f"/elections/{election_id}/roster/download"):
        assert scrutineer.get(url).status_code == 403
    assert scrutineer.post(f"/elections/{election_id}/integration/grant").status_code == 403


# --- one Constant Contact connection per organisation -------------------------------------------

def test_a_grant_by_an_admin_connects_the_organisation_for_every_member_and_election(
        app, client, db, admin, organisation, sign_in, requests_mock):
    first = make_election(db, admin, title="First")
    second = make_election(db, admin, title="Second")
    make_member(db, organisation, "admin", "sec@example.org", name="Sec")
    requests_mock.post(TOKEN_URL, json={"access_token": "a", "refresh_token": "r", "token_type": "Bearer",
                                        "expires_in": 86400})
    requests_mock.get("https://api.test/v3/account/summary", json={
        "encoded_account_id": "acct-1", "organization_name": "Ada's Club", "contact_email": "ada@club.example"})
    secretary = sign_in("sec@example.org")
    secretary.post(f"/elections/{first}/integration/grant")
    with secretary.session_transaction() as session:
        state = next(key for key in session if key.startswith("_state_cc_")).removeprefix("_state_cc_")
    done = secretary.get("/integration/cc/callback", query_string={"code": "c", "state": state},
                         follow_redirects=True)
    assert "now configured to integrate with your Constant Contact account" in done.get_data(as_text=True)
    assert cc_tokens.get_connection(db, organisation)["organisation_id"] == organisation
    assert "Connected to Ada&#39;s Club (ada@club.example)" in page(client, f"/elections/{second}/integration")
    for election_id in (first, second):
        log = page(client, f"/elections/{election_id}/audit")
        assert "Sec (sec@example.org)" in log and "granted Constant Contact access" in log
    assert "granted Constant Contact access" in page(client, members_url(organisation))


def test_only_an_owner_disconnects_and_the_logs_name_them(app, client, db, admin, organisation, sign_in,
                                                          requests_mock):
    election_id = make_election(db, admin)
    make_member(db, organisation, "admin", "sec@example.org")
    cc_tokens.save_token(db, app.config["SECRET_KEY"], organisation, {
        "access_token": "a", "refresh_token": "r", "expires_at": int(time.time()) + 86400})
    requests_mock.post(REVOKE_URL, text="")
    secretary = sign_in("sec@example.org")
    assert "Disconnect" not in page(secretary, f"/elections/{election_id}/integration")
    assert secretary.post(f"/elections/{election_id}/integration/disconnect").status_code == 403
    client.post(f"/elections/{election_id}/integration/disconnect")
    assert cc_tokens.get_connection(db, organisation) is None
    entry = one(db, "SELECT * FROM audit_log WHERE action = 'disconnected Constant Contact'")
    assert (entry["organisation_id"], entry["election_id"], entry["admin_id"]) == (organisation, None, admin)
    assert "Ada (ada@example.org)" in page(client, f"/elections/{election_id}/audit")


def test_a_grant_finished_after_switching_organisation_stores_nothing(
        app, db, admin, organisation, sign_in, requests_mock):
    election_id = make_election(db, admin)
    other = make_admin(db, email="sec@example.org")
    members.add_member(db, organisation, other, "admin")
    requests_mock.post(TOKEN_URL, json={"access_token": "a", "refresh_token": "r", "expires_in": 60})
    secretary = sign_in("sec@example.org")
    secretary.post(f"/elections/{election_id}/integration/grant")
    with secretary.session_transaction() as session:
        state = next(key for key in session if key.startswith("_state_cc_")).removeprefix("_state_cc_")
    secretary.post("/organisations/switch", data={"organisation_id": organisation_of(db, other)})
    done = secretary.get("/integration/cc/callback", query_string={"code": "c", "state": state},
                         follow_redirects=True)
    assert "did not start here" in done.get_data(as_text=True)
    assert rows(db, "SELECT * FROM cc_connections") == [] and not requests_mock.called
