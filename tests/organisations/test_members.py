"""Organisations and members: every account starts with its own, and an organisation keeps an owner."""
import re
import threading
from pathlib import Path

import pytest

from eo_cc.db import connect, rows
from eo_cc.organisations import members
from eo_cc.organisations.members import MembershipError

from ..factories import make_admin, make_member, organisation_of, outbox_mail


def test_signing_up_makes_the_new_admin_owner_of_a_new_organisation(app, client, db):
    client.post("/auth/signup", data={"name": "Grace", "email": "grace@example.org",
                                      "password": "long enough pw", "confirm": "long enough pw",
                                      "timezone": "UTC"}).close()
    [mail] = outbox_mail(Path(app.instance_path) / "outbox", "grace@example.org")
    client.post(re.search(r"https?://[^/]+(/auth/signup/\S+)", mail).group(1))
    grace = db.execute("SELECT id FROM admins WHERE email = 'grace@example.org'").fetchone()[0]
    assert [(m["role"], m["organisation_name"]) for m in members.memberships_of(db, grace)] == [
        ("owner", "Grace's organisation")]
    assert "Grace&#39;s organisation: elections" in client.get("/elections/").get_data(as_text=True)


def test_create_admin_command_makes_the_admin_owner_of_a_new_organisation(runner, db):
    result = runner.invoke(args=["create-admin", "chair@example.org", "--name", "Chair",
                                 "--password", "long enough pw"])
    assert result.exit_code == 0, result.output
    chair = db.execute("SELECT id FROM admins WHERE email = 'chair@example.org'").fetchone()[0]
    assert [m["role"] for m in members.memberships_of(db, chair)] == ["owner"]


def test_an_account_made_to_join_an_organisation_gets_none_of_its_own(db):
    owner = make_admin(db)
    joined = make_member(db, organisation_of(db, owner), "observer", "scrutineer@example.org")
    assert [(m["organisation_id"], m["role"]) for m in members.memberships_of(db, joined)] == [
        (organisation_of(db, owner), "observer")]


def test_adding_someone_who_is_already_a_member_keeps_their_role(db):
    owner = make_admin(db)
    organisation_id = organisation_of(db, owner)
    assert members.add_member(db, organisation_id, owner, "observer") is False
    assert members.membership(db, organisation_id, owner)["role"] == "owner"


@pytest.mark.parametrize("change, message", [
    (lambda db, o, a: members.change_role(db, o, a, "admin"), "The last owner cannot be demoted"),
    (lambda db, o, a: members.remove_member(db, o, a), "The last owner cannot be removed"),
    (lambda db, o, a: members.remove_member(db, o, a, is_leaving=True), "The last owner cannot leave"),
], ids=["demote", "remove", "leave"])
def test_the_last_owner_stays_an_owner(db, change, message):
    owner = make_admin(db)
    organisation_id = organisation_of(db, owner)
    with pytest.raises(MembershipError, match=message):
        change(db, organisation_id, owner)
    assert members.membership(db, organisation_id, owner)["role"] == "owner"


def test_an_owner_can_step_down_while_another_owner_remains(db):
    owner = make_admin(db)
    organisation_id = organisation_of(db, owner)
    make_member(db, organisation_id, "owner", "second@example.org")
    assert members.change_role(db, organisation_id, owner, "observer") == "owner"
    assert members.membership(db, organisation_id, owner)["role"] == "observer"


def test_two_owners_demoting_each_other_at_once_leave_one_owner(app, db):
    first = make_admin(db)
    organisation_id = organisation_of(db, first)
    second = make_member(db, organisation_id, "owner", "second@example.org")
    barrier, outcomes = threading.Barrier(2), []

    def demote(admin_id):
        own = connect(app.config["DATABASE"])
        try:
            barrier.wait()
            members.change_role(own, organisation_id, admin_id, "admin")
            outcomes.append("demoted")
        except MembershipError:
            outcomes.append("refused")
        finally:
            own.close()

    threads = [threading.Thread(target=demote, args=(admin_id,)) for admin_id in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["demoted", "refused"]
    owners = rows(db, "SELECT admin_id FROM memberships WHERE organisation_id = ? AND role = 'owner'",
                  [organisation_id])
    assert len(owners) == 1


def test_members_are_listed_owners_first_with_names_and_emails(db):
    owner = make_admin(db, name="Zoe", email="zoe@example.org")
    organisation_id = organisation_of(db, owner)
    make_member(db, organisation_id, "observer", "amy@example.org", name="Amy")
    make_member(db, organisation_id, "admin", "bob@example.org", name="Bob")
    assert [(m["name"], m["email"], m["role"]) for m in members.members_of(db, organisation_id)] == [
        ("Zoe", "zoe@example.org", "owner"), ("Bob", "bob@example.org", "admin"),
        ("Amy", "amy@example.org", "observer")]
