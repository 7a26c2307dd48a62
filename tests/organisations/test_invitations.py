"""Invitations: a single-use link, kept only as a hash, that expires after 7 days."""
import threading
from datetime import timedelta

import pytest

from eo_cc import clock
from eo_cc.db import connect
from eo_cc.organisations import invitations, members
from eo_cc.organisations.invitations import InvitationError

from ..factories import database_bytes, make_admin, make_member, organisation_of


@pytest.fixture
def organisation_id(db):
    return organisation_of(db, make_admin(db))


@pytest.fixture
def owner(db, organisation_id):
    return db.execute("SELECT admin_id FROM memberships WHERE organisation_id = ?",
                      [organisation_id]).fetchone()[0]


def test_the_database_keeps_only_a_hash_of_the_token(app, db, organisation_id, owner):
    _, token = invitations.invite(db, organisation_id, "new@example.org", "admin", owner)
    data = database_bytes(app.config["DATABASE"])
    assert b"new@example.org" in data and invitations.token_hash(token).encode() in data
    assert token.encode() not in data


def test_the_token_opens_its_invitation_and_no_other_text_does(db, organisation_id, owner):
    invitation_id, token = invitations.invite(db, organisation_id, "New@Example.org ", "observer", owner)
    found = invitations.find_pending(db, token)
    assert (found["id"], found["email"], found["role"]) == (invitation_id, "new@example.org", "observer")
    assert invitations.find_pending(db, token[:-1]) is None
    assert invitations.find_pending(db, "") is None


def test_an_invitation_expires_after_seven_days(db, organisation_id, owner):
    sent = clock.now()
    _, token = invitations.invite(db, organisation_id, "new@example.org", "admin", owner, now=sent)
    assert invitations.find_pending(db, token, now=sent + timedelta(days=7, seconds=-1))
    assert invitations.find_pending(db, token, now=sent + timedelta(days=7)) is None
    late = invitations.find_pending(db, token, now=sent)
    with pytest.raises(InvitationError):
        invitations.accept(db, late, owner, now=sent + timedelta(days=8))


def test_an_invitation_works_once(db, organisation_id, owner):
    _, token = invitations.invite(db, organisation_id, "new@example.org", "admin", owner)
    invitation = invitations.find_pending(db, token)
    first = make_member(db, organisation_of(db, make_admin(db, email="other@example.org")),
                        "observer", "new@example.org")
    assert invitations.accept(db, invitation, first)["role"] == "admin"
    assert invitations.find_pending(db, token) is None
    with pytest.raises(InvitationError):
        invitations.accept(db, invitation, first)


def test_two_accepts_of_one_invitation_at_once_let_one_person_in(app, db, organisation_id, owner):
    _, token = invitations.invite(db, organisation_id, "new@example.org", "admin", owner)
    invitation = invitations.find_pending(db, token)
    elsewhere = organisation_of(db, make_admin(db, email="elsewhere@example.org"))
    people = [make_member(db, elsewhere, "observer", f"p{n}@example.org") for n in (1, 2)]
    barrier, outcomes = threading.Barrier(2), []

    def accept(admin_id):
        own = connect(app.config["DATABASE"])
        try:
            barrier.wait()
            invitations.accept(own, invitation, admin_id)
            outcomes.append("joined")
        except InvitationError:
            outcomes.append("refused")
        finally:
            own.close()

    threads = [threading.Thread(target=accept, args=(person,)) for person in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["joined", "refused"]
    assert len(members.members_of(db, organisation_id)) == 2  # the owner and one of them


def test_a_revoked_invitation_opens_nothing(db, organisation_id, owner):
    invitation_id, token = invitations.invite(db, organisation_id, "new@example.org", "admin", owner)
    assert invitations.revoke(db, organisation_id, invitation_id)["email"] == "new@example.org"
    assert invitations.find_pending(db, token) is None
    assert invitations.pending_invitations(db, organisation_id) == []


def test_another_organisation_cannot_revoke_an_invitation(db, organisation_id, owner):
    invitation_id, token = invitations.invite(db, organisation_id, "new@example.org", "admin", owner)
    other = organisation_of(db, make_admin(db, email="other@example.org"))
    assert invitations.revoke(db, other, invitation_id) is None
    assert invitations.find_pending(db, token) is not None


def test_inviting_the_same_address_again_replaces_the_earlier_link(db, organisation_id, owner):
    _, first = invitations.invite(db, organisation_id, "new@example.org", "admin", owner)
    _, second = invitations.invite(db, organisation_id, "new@example.org", "observer", owner)
    assert invitations.find_pending(db, first) is None
    assert invitations.find_pending(db, second)["role"] == "observer"
    assert [i["email"] for i in invitations.pending_invitations(db, organisation_id)] == ["new@example.org"]


def test_a_member_cannot_be_invited_again(db, organisation_id, owner):
    make_member(db, organisation_id, "observer", "member@example.org")
    with pytest.raises(InvitationError, match="already a member"):
        invitations.invite(db, organisation_id, "MEMBER@example.org", "admin", owner)
