"""Asynchronous remove_list_memberships activities: initialized -> processing -> completed."""
import json
import time

from eo_cc.db import immediate, one, rows

from .store import new_id, stamp

MAX_CONTACTS = 500
MAX_LISTS = 50
MAX_QUEUED = 1000  # CC answers 429 beyond this many unfinished activities per account
FAILURE_MESSAGES = {
    "failed": "The activity failed to complete.",
    "timed_out": "The activity timed out before completing.",
}


def validate(db, account_id, body):
    """(contact_ids, list_ids) from a request body, or raise ValueError with CC-like wording."""
    if not isinstance(body, dict):
        raise ValueError("The request body must be a JSON object.")
    source = body.get("source")
    contact_ids = source.get("contact_ids") if isinstance(source, dict) else None
    list_ids = body.get("list_ids")
    if not isinstance(contact_ids, list) or not contact_ids:
        raise ValueError("source.contact_ids must be a non-empty array of contact ids.")
    if len(contact_ids) > MAX_CONTACTS:
        raise ValueError(f"source.contact_ids allows at most {MAX_CONTACTS} contact ids.")
    if not isinstance(list_ids, list) or not list_ids or len(list_ids) > MAX_LISTS:
        raise ValueError(f"list_ids must be an array of 1 to {MAX_LISTS} list ids.")
    if not all(isinstance(i, str) for i in contact_ids + list_ids):
        raise ValueError("Ids must be strings.")
    marks = ",".join("?" * len(list_ids))
    found = one(db, f"SELECT count(*) AS n FROM lists WHERE account_id = ? AND list_id IN ({marks})",
                [account_id, *list_ids])["n"]
    if found != len(set(list_ids)):
        raise ValueError("list_ids contains a list that does not exist in this account.")
    return contact_ids, list_ids


def create(db, account_id, contact_ids, list_ids, delay, outcome):
    """Queue a removal that finishes `delay` seconds from now with the given outcome."""
    row = {"activity_id": new_id(), "account_id": account_id,
           "contact_ids": json.dumps(contact_ids), "list_ids": json.dumps(list_ids),
           "outcome": outcome, "created_at": stamp(), "due_at": time.time() + delay}
    db["activities"].insert(row)
    return describe(get(db, row["activity_id"], account_id), delay)


def queued(db, account_id):
    """How many of the account's activities are still unfinished."""
    return db.execute("SELECT count(*) FROM activities WHERE state = 'initialized' AND account_id = ?",
                      [account_id]).fetchone()[0]


def get(db, activity_id, account_id):
    return one(db, "SELECT * FROM activities WHERE activity_id = ? AND account_id = ?",
               [activity_id, account_id])


def describe(row, delay):
    """The activity as CC shows it; a pending one is initialized, then processing."""
    total = len(json.loads(row["contact_ids"]))
    state, percent, done = row["state"], 0, 0
    if state == "completed":
        percent, done = 100, total
    elif state == "initialized":
        remaining = row["due_at"] - time.time()
        if delay and remaining < delay * 2 / 3:
            state = "processing"
            percent = max(1, min(99, int(100 * (1 - remaining / delay))))
            done = total * percent // 100
    return {
        "activity_id": row["activity_id"], "state": state, "percent_done": percent,
        "activity_errors": json.loads(row["errors"]), "created_at": row["created_at"],
        "updated_at": row["completed_at"] or row["created_at"], "completed_at": row["completed_at"],
        "status": {"items_total_count": total, "items_completed_count": done,
                   "list_count": len(json.loads(row["list_ids"]))},
        "_links": {"self": {"href": f"/v3/activities/{row['activity_id']}"}},
    }


def finish_due(db):
    """Finish every activity whose time has come; a completed one removes its memberships."""
    due = rows(db, "SELECT activity_id FROM activities WHERE state = 'initialized' AND due_at <= ?",
               [time.time()])
    for row in due:
        _finish(db, row["activity_id"])
    return len(due)


def _finish(db, activity_id):
    with immediate(db):
        row = one(db, "SELECT * FROM activities WHERE activity_id = ? AND state = 'initialized'",
                  [activity_id])
        if row is None:  # another thread finished it first
            return
        errors = []
        if row["outcome"] == "completed":
            _remove_memberships(db, row)
        else:
            errors = [FAILURE_MESSAGES[row["outcome"]]]
        db.execute("UPDATE activities SET state = ?, errors = ?, completed_at = ? WHERE activity_id = ?",
                   [row["outcome"], json.dumps(errors), stamp(), activity_id])


def _remove_memberships(db, row):
    contact_ids = json.loads(row["contact_ids"])
    list_ids = json.loads(row["list_ids"])
    contact_marks = ",".join("?" * len(contact_ids))
    list_marks = ",".join("?" * len(list_ids))
    db.execute(f"""
        DELETE FROM memberships
        WHERE list_ref IN (SELECT id FROM lists WHERE account_id = ? AND list_id IN ({list_marks}))
          AND contact_ref IN (SELECT id FROM contacts WHERE account_id = ? AND contact_id IN ({contact_marks}))
    """, [row["account_id"], *list_ids, row["account_id"], *contact_ids])
    db.execute(f"UPDATE lists SET updated_at = ? WHERE account_id = ? AND list_id IN ({list_marks})",
               [stamp(), row["account_id"], *list_ids])
