"""Asynchronous bulk activities, initialized -> processing -> completed (or failed, timed_out):
remove_list_memberships and contacts_json_import share one queue, one delay and one status endpoint."""
import json
import time

from eo_cc.db import immediate, one, rows

from . import imports, store
from .ids import new_id, stamp

REMOVAL = "remove_list_memberships"
IMPORT = "contacts_json_import"
MAX_CONTACTS = 500
MAX_LISTS = 50
MAX_QUEUED = 1000  # CC answers 429 beyond this many unfinished activities per account
FAILURE_MESSAGES = {
    "failed": "The activity failed to complete.",
    "timed_out": "The activity timed out before completing.",
}


def validate(db, account_id, body):
    """(contact_ids, list_ids) from a removal's body, or raise ValueError with CC-like wording
    (store.ListNotFound for a list the account does not have)."""
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
    store.account_list_refs(db, account_id, list_ids)
    return contact_ids, list_ids


def create(db, account_id, list_ids, delay, outcome, contact_ids=(), import_data=None):
    """Queue an activity that finishes `delay` seconds from now with the given outcome: a removal of
    contact_ids, or (with import_data) a JSON import."""
    row = {"activity_id": new_id(), "account_id": account_id,
           "kind": REMOVAL if import_data is None else IMPORT,
           "contact_ids": json.dumps(list(contact_ids)), "list_ids": json.dumps(list_ids),
           "import_data": None if import_data is None else json.dumps(import_data),
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
    total = _total(row)
    state, percent, done = row["state"], 0, 0
    if state == "completed":
        percent, done = 100, total
    elif state == "initialized":
        remaining = row["due_at"] - time.time()
        if delay and remaining < delay * 2 / 3:
            state = "processing"
            percent = max(1, min(99, int(100 * (1 - remaining / delay))))
            done = total * percent // 100
    if row["kind"] == IMPORT:
        status = json.loads(row["counts"]) if row["counts"] else {
            "items_total_count": total, "person_count": done, "error_count": 0, "correctable_count": 0,
            "cannot_add_to_list_count": 0}
    else:
        status = {"items_total_count": total, "items_completed_count": done,
                  "list_count": len(json.loads(row["list_ids"]))}
    return {
        "activity_id": row["activity_id"], "state": state, "percent_done": percent,
        "activity_errors": json.loads(row["errors"]), "created_at": row["created_at"],
        "updated_at": row["completed_at"] or row["created_at"], "completed_at": row["completed_at"],
        "status": status, "_links": {"self": {"href": f"/v3/activities/{row['activity_id']}"}},
    }


def _total(row):
    return len(json.loads(row["import_data"] if row["kind"] == IMPORT else row["contact_ids"]))


def finish_due(db):
    """Finish every activity whose time has come: a completed one does its work."""
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
        errors, counts = [], None
        if row["outcome"] != "completed":
            errors = [FAILURE_MESSAGES[row["outcome"]]]
        elif row["kind"] == IMPORT:
            counts = json.dumps(imports.apply(db, row))
        else:
            _remove_memberships(db, row)
        db.execute("UPDATE activities SET state = ?, errors = ?, counts = ?, completed_at = ? "
                   "WHERE activity_id = ?", [row["outcome"], json.dumps(errors), counts, stamp(), activity_id])


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


def import_stats(db):
    """Every JSON import so far: its state and how many contacts it brought (for /_sandbox/stats)."""
    return [{"activity_id": row["activity_id"], "state": row["state"], "created_at": row["created_at"],
             "contact_count": row["contact_count"], "list_ids": json.loads(row["list_ids"])}
            for row in rows(db, "SELECT activity_id, state, created_at, list_ids, "
                                "json_array_length(import_data) AS contact_count FROM activities "
                                "WHERE kind = ? ORDER BY rowid", [IMPORT])]
