"""Organisations and their members: who works in which organisation, with which role.

Flask-free. An organisation owns elections and the Constant Contact connection; every
admin is a member of one or more, as owner, admin or observer. An organisation always
keeps at least one owner: the last one cannot leave, be removed or be demoted.
"""
from .. import clock
from ..db import one, rows

OWNER, ADMIN, OBSERVER = "owner", "admin", "observer"
ROLE_NAMES = {OWNER: "Owner", ADMIN: "Admin", OBSERVER: "Observer"}
RANK = {OBSERVER: 0, ADMIN: 1, OWNER: 2}
ROLE_ORDER = "CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END"
MAX_NAME_LENGTH = 200


class MembershipError(ValueError):
    """A change to the members that is refused; str() says why, for the page."""


def create_first_organisation(db, admin_id, admin_name):
    """A new admin's own organisation, e.g. "Ada's organisation" (the owner can rename it)."""
    return create_organisation(db, f"{admin_name.strip()}'s organisation", admin_id)


def create_organisation(db, name, owner_id):
    """A new organisation with owner_id as its owner; returns its id."""
    now = clock.iso()
    with db.atomic():
        organisation_id = db["organisations"].insert(
            {"name": name.strip()[:MAX_NAME_LENGTH], "created_at": now}).last_pk
        add_member(db, organisation_id, owner_id, OWNER)
    return organisation_id


def get_organisation(db, organisation_id):
    return one(db, "SELECT * FROM organisations WHERE id = ?", [organisation_id])


def rename(db, organisation_id, name):
    db.execute("UPDATE organisations SET name = ? WHERE id = ?",
               [name.strip()[:MAX_NAME_LENGTH], organisation_id])


def membership(db, organisation_id, admin_id):
    """The admin's membership of the organisation (with its name), or None."""
    return one(db, """
        SELECT m.organisation_id, m.admin_id, m.role, m.joined_at, o.name AS organisation_name
        FROM memberships m JOIN organisations o ON o.id = m.organisation_id
        WHERE m.organisation_id = ? AND m.admin_id = ?""", [organisation_id, admin_id])


def memberships_of(db, admin_id):
    """Every organisation the admin belongs to: the ones they own first, then the oldest first.

    The first is where a new session starts.
    """
    return rows(db, f"""
        SELECT m.organisation_id, m.admin_id, m.role, m.joined_at, o.name AS organisation_name
        FROM memberships m JOIN organisations o ON o.id = m.organisation_id
        WHERE m.admin_id = ? ORDER BY {ROLE_ORDER}, m.joined_at, m.organisation_id""", [admin_id])


def members_of(db, organisation_id):
    """The organisation's members with their names and emails: owners first, then by name."""
    return rows(db, f"""
        SELECT a.id AS admin_id, a.name, a.email, m.role, m.joined_at
        FROM memberships m JOIN admins a ON a.id = m.admin_id
        WHERE m.organisation_id = ?
        ORDER BY {ROLE_ORDER}, a.name COLLATE NOCASE, a.email""", [organisation_id])


def add_member(db, organisation_id, admin_id, role):
    """Make the admin a member; returns False (and changes nothing) when they already are one."""
    if role not in ROLE_NAMES:
        raise MembershipError(f"There is no role {role!r}.")
    inserted = db.execute(
        "INSERT INTO memberships (organisation_id, admin_id, role, joined_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (organisation_id, admin_id) DO NOTHING",
        [organisation_id, admin_id, role, clock.iso()]).rowcount
    return inserted == 1


def change_role(db, organisation_id, admin_id, role):
    """Give a member another role; returns their old role. The last owner stays an owner."""
    if role not in ROLE_NAMES:
        raise MembershipError(f"There is no role {role!r}.")
    with db.atomic():  # BEGIN IMMEDIATE: two owners demoting each other queue, one at a time
        old = _member_row(db, organisation_id, admin_id)
        if old["role"] == OWNER and role != OWNER:
            _refuse_if_last_owner(db, organisation_id, "be demoted")
        db.execute("UPDATE memberships SET role = ? WHERE organisation_id = ? AND admin_id = ?",
                   [role, organisation_id, admin_id])
    return old["role"]


def remove_member(db, organisation_id, admin_id, is_leaving=False):
    """Take the admin out of the organisation; returns the removed membership's role."""
    with db.atomic():
        old = _member_row(db, organisation_id, admin_id)
        if old["role"] == OWNER:
            _refuse_if_last_owner(db, organisation_id, "leave" if is_leaving else "be removed")
        db.execute("DELETE FROM memberships WHERE organisation_id = ? AND admin_id = ?",
                   [organisation_id, admin_id])
    return old["role"]


def _member_row(db, organisation_id, admin_id):
    found = one(db, "SELECT role FROM memberships WHERE organisation_id = ? AND admin_id = ?",
                [organisation_id, admin_id])
    if found is None:
        raise MembershipError("That person is not a member of this organisation.")
    return found


def _refuse_if_last_owner(db, organisation_id, what):
    """what: "leave", "be removed" or "be demoted"."""
    owners = one(db, "SELECT COUNT(*) AS n FROM memberships WHERE organisation_id = ? AND role = ?",
                 [organisation_id, OWNER])["n"]
    if owners <= 1:
        raise MembershipError(f"The last owner cannot {what}: make another member an owner first.")
