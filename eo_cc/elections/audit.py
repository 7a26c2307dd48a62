"""The admin-readable audit log: every change to an election or to an organisation, and who made it.

Each row names its organisation. Election rows name the election too; organisation
rows (members, invitations, the Constant Contact connection) have none, and show on the
Members page. Connection events show on every election's log as well, since they stop
or start the removals of all of the organisation's elections.
"""
from .. import clock
from ..db import rows

CONNECTION_ACTIONS = ("granted Constant Contact access", "disconnected Constant Contact")


def record(db, election_id, admin_id, action, detail="", organisation_id=None):
    """Write one audit entry, e.g. record(db, 7, 1, "opened voting").

    An organisation's entry passes election_id None and its organisation_id; an election's
    entry takes its organisation from the election.
    """
    db.execute("""INSERT INTO audit_log (election_id, admin_id, action, detail, created_at,
                                         organisation_id)
                  VALUES (?, ?, ?, ?, ?, COALESCE(?, (SELECT organisation_id FROM elections
                                                      WHERE id = ?)))""",
               [election_id, admin_id, action, detail, clock.iso(), organisation_id, election_id])


def election_entries(db, election):
    """The election's log, newest first, with the organisation's connection events."""
    placeholders = ", ".join("?" for _ in CONNECTION_ACTIONS)
    return rows(db, f"""
        SELECT l.*, a.name AS admin_name, a.email AS admin_email
        FROM audit_log l LEFT JOIN admins a ON a.id = l.admin_id
        WHERE l.election_id = ?
           OR (l.election_id IS NULL AND l.organisation_id = ? AND l.action IN ({placeholders}))
        ORDER BY l.id DESC""", [election["id"], election["organisation_id"], *CONNECTION_ACTIONS])


def organisation_entries(db, organisation_id):
    """The organisation's own log (members, invitations, the connection), newest first."""
    return rows(db, """
        SELECT l.*, a.name AS admin_name, a.email AS admin_email
        FROM audit_log l LEFT JOIN admins a ON a.id = l.admin_id
        WHERE l.organisation_id = ? AND l.election_id IS NULL
        ORDER BY l.id DESC""", [organisation_id])
