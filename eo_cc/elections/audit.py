"""The admin-readable audit log of every change to an election."""
from .. import clock


def record(db, election_id, admin_id, action, detail=""):
    """Write one audit entry, e.g. record(db, 7, 1, "opened voting")."""
    db["audit_log"].insert({"election_id": election_id, "admin_id": admin_id, "action": action,
                            "detail": detail, "created_at": clock.iso()})
