"""The removal outbox, `cc_removals`: a row per voter who voted, until CC confirms the removal.

A ballot's own transaction queues its voter here (the vote path never calls CC); the sync
moves rows from queued to submitted (an activity is running) to done, or to not_in_list
when the email is not on the chosen list. These names are the only states.
"""
from .. import clock

QUEUED = "queued"
SUBMITTED = "submitted"
DONE = "done"
NOT_IN_LIST = "not_in_list"
FAILED = "failed"          # allowed by the schema; the sync keeps failing removals queued instead
WAITING = (QUEUED, SUBMITTED)


def queue(db, election_id, email, now=None):
    """Queue one voter's email for removal from the election's list (inside the caller's transaction)."""
    stamp = clock.iso(now)
    db.execute(f"""INSERT INTO cc_removals (election_id, email, state, queued_at, updated_at)
                   VALUES (?, ?, '{QUEUED}', ?, ?)
                   ON CONFLICT (election_id, email)
                   DO UPDATE SET state = '{QUEUED}', updated_at = excluded.updated_at""",
               [election_id, email, stamp, stamp])


def requeue_voted(db, election_id):
    """Queue every voter who has voted again, afresh, for the election's current list; returns how many."""
    now = clock.iso()
    cursor = db.execute(f"""
        INSERT INTO cc_removals (election_id, email, state, attempts, queued_at, updated_at)
        SELECT election_id, email, '{QUEUED}', 0, :now, :now FROM voters
        WHERE election_id = :election_id AND has_voted = 1
        ON CONFLICT (election_id, email) DO UPDATE SET
            state = '{QUEUED}', list_id = NULL, contact_id = NULL, activity_id = NULL,
            attempts = 0, last_error = NULL, queued_at = :now, updated_at = :now
        """, {"election_id": election_id, "now": now})
    return cursor.rowcount

