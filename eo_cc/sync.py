"""Placeholder: the batch removal logic (Flask-free)."""


def sync_status(db, election_id, config):
    """What the Integration Settings page shows about syncing this election."""
    queued = db.execute("SELECT count(*) FROM cc_removals WHERE election_id = ? AND state IN "
                        "('queued', 'submitted')", [election_id]).fetchone()[0]
    return {"queued": queued, "last_run": None, "failures": [], "not_in_list": 0}
