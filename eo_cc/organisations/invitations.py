"""Invitations to join an organisation: a single-use emailed link that expires after 7 days.

Flask-free. The link carries a random token; the database keeps only its SHA-256, so a
copy of the database cannot be turned into a working invitation.
"""
import hashlib
import secrets
from datetime import timedelta

from .. import clock
from ..db import one, rows
from .members import ROLE_NAMES, add_member, membership

VALID_FOR = timedelta(days=7)


class InvitationError(ValueError):
    """An invitation that cannot be made or used; str() says why, for the page."""


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def invite(db, organisation_id, email, role, invited_by_admin_id, now=None):
    """Invite an address with a role; returns (invitation id, token for the link).

    An earlier pending invitation of the same address to the same organisation is
    revoked, so only the newest link works.
    """
    email = email.strip().lower()
    if role not in ROLE_NAMES:
        raise InvitationError(f"There is no role {role!r}.")
    now = now or clock.now()
    token = secrets.token_urlsafe(32)
    with db.atomic():
        if one(db, """SELECT 1 AS x FROM memberships m JOIN admins a ON a.id = m.admin_id
                      WHERE m.organisation_id = ? AND a.email = ?""", [organisation_id, email]):
            raise InvitationError(f"{email} is already a member of this organisation.")
        db.execute("UPDATE invitations SET revoked_at = ? WHERE organisation_id = ? AND email = ? "
                   "AND accepted_at IS NULL AND revoked_at IS NULL",
                   [clock.iso(now), organisation_id, email])
        invitation_id = db["invitations"].insert({
            "organisation_id": organisation_id, "email": email, "role": role,
            "token_hash": token_hash(token), "invited_by_admin_id": invited_by_admin_id,
            "created_at": clock.iso(now), "expires_at": clock.iso(now + VALID_FOR)}).last_pk
    return invitation_id, token


def find_pending(db, token, now=None):
    """The invitation a token opens, with its organisation's name, if it can still be used."""
    return one(db, """
        SELECT i.*, o.name AS organisation_name, a.name AS invited_by_name,
               a.email AS invited_by_email
        FROM invitations i JOIN organisations o ON o.id = i.organisation_id
        LEFT JOIN admins a ON a.id = i.invited_by_admin_id
        WHERE i.token_hash = ? AND i.accepted_at IS NULL AND i.revoked_at IS NULL
          AND i.expires_at > ?""", [token_hash(token or ""), clock.iso(now or clock.now())])


def pending_invitations(db, organisation_id, now=None):
    """The organisation's invitations that can still be used, newest first."""
    return rows(db, """
        SELECT i.*, a.name AS invited_by_name, a.email AS invited_by_email
        FROM invitations i LEFT JOIN admins a ON a.id = i.invited_by_admin_id
        WHERE i.organisation_id = ? AND i.accepted_at IS NULL AND i.revoked_at IS NULL
          AND i.expires_at > ? ORDER BY i.created_at DESC, i.id DESC""",
                [organisation_id, clock.iso(now or clock.now())])


def revoke(db, organisation_id, invitation_id):
    """Revoke a pending invitation of this organisation; returns its row, or None."""
    with db.atomic():
        invitation = one(db, "SELECT * FROM invitations WHERE id = ? AND organisation_id = ? "
                             "AND accepted_at IS NULL AND revoked_at IS NULL",
                         [invitation_id, organisation_id])
        if invitation is not None:
            db.execute("UPDATE invitations SET revoked_at = ? WHERE id = ?",
                       [clock.iso(), invitation_id])
    return invitation


def accept(db, invitation, admin_id, now=None):
    """Use the invitation for admin_id: they join with its role. Single use.

    Returns the membership; raises InvitationError when the invitation was used, revoked
    or expired in the meantime. An admin who is already a member keeps their role.
    """
    now = clock.iso(now or clock.now())
    with db.atomic():
        claimed = db.execute(
            "UPDATE invitations SET accepted_at = ?, accepted_by_admin_id = ? WHERE id = ? "
            "AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?",
            [now, admin_id, invitation["id"], now]).rowcount
        if not claimed:
            raise InvitationError("This invitation has already been used, was revoked or has expired.")
        add_member(db, invitation["organisation_id"], admin_id, invitation["role"])
    return membership(db, invitation["organisation_id"], admin_id)
