"""JSON imports into an election's list (contacts_json_import): packed into as few requests as fit
CC's 4 MB, recorded, polled, and settled when CC has finished them.

Flask-free. An import also puts every contact it carries on the list, so the callers never put a
voter who has voted into one, and when an import finishes (however it finishes) every voter in it
who voted meanwhile is queued for removal again. The sync never runs removals and imports on one
list at the same time (see mailings.py), so that removal comes after the import.
"""
import json
from dataclasses import dataclass
from datetime import timedelta

from .. import clock
from ..db import rows
from .api import MAX_IMPORT_BYTES, MAX_IMPORT_CONTACTS, CCError, QuotaExceeded, activity_error, import_size
from .removals import QUEUED, WAITING

FINISHED_OK = "completed"
FINISHED_BADLY = {"failed", "cancelled", "timed_out"}
# An activity CC has not finished after a day is given up (and what it carried asked for again), so
# that it never holds up the removals on its list for good.
GIVE_UP_AFTER = timedelta(days=1)
LINKS, ADD = "links", "add"


@dataclass
class Entry:
    """One contact in an import: its JSON (import_data item) and what it stands for in eo_cc."""
    payload: dict          # {"email": ..., "first_name": ..., "cf:<name>": ...}
    voter_id: int | None   # None: a link cleared from an address no voter has now
    link_version: int | None = None   # the link it puts into CC, if any

    @property
    def email(self):
        return self.payload["email"]


def pack(entries, list_ids, max_bytes=MAX_IMPORT_BYTES, max_contacts=MAX_IMPORT_CONTACTS):
    """Split entries into the fewest consecutive imports whose bodies stay under both limits."""
    base = import_size({"import_data": [], "list_ids": list(list_ids)})
    chunks, chunk, size = [], [], base
    for entry in entries:
        grows = len(json.dumps(entry.payload).encode()) + (2 if chunk else 0)  # ", " between items
        if chunk and (size + grows >= max_bytes or len(chunk) == max_contacts):
            chunks.append(chunk)
            chunk, size = [], base
            grows -= 2
        if base + grows >= max_bytes:
            raise ValueError(f"one contact is too big for an import: {entry.email}")
        chunk.append(entry)
        size += grows
    if chunk:
        chunks.append(chunk)
    return chunks


def submit(db, client, call, election_id, list_id, purpose, entries, on_submitted=None):
    """Send the entries as few imports as fit; returns the activity ids CC gave them.

    Each import is recorded (with who it carries) as soon as CC has accepted it, so a run
    that dies later still polls and settles it next time. on_submitted(activity_id, chunk)
    runs inside that transaction.
    """
    submitted = []
    for chunk in pack(entries, [list_id]):
        activity = call(client.import_contacts, [entry.payload for entry in chunk], [list_id])
        activity_id = str(activity["activity_id"])
        with db.atomic():
            db["cc_imports"].insert({
                "activity_id": activity_id, "election_id": election_id, "list_id": list_id,
                "purpose": purpose, "contact_count": len(chunk),
                "state": activity.get("state") or "initialized", "submitted_at": clock.iso()})
            db["cc_import_contacts"].insert_all(
                ({"activity_id": activity_id, "email": entry.email, "voter_id": entry.voter_id,
                  "link_version": entry.link_version} for entry in chunk), batch_size=1000)
            if on_submitted is not None:
                on_submitted(activity_id, chunk)
        submitted.append(activity_id)
    return submitted


def unfinished(db, election_id=None, list_id=None):
    """Imports CC has not finished yet (of an election, or on a list), oldest first."""
    return rows(db, """SELECT * FROM cc_imports WHERE finished_at IS NULL
                       AND (:election_id IS NULL OR election_id = :election_id)
                       AND (:list_id IS NULL OR list_id = :list_id)
                       ORDER BY submitted_at, activity_id""",
                {"election_id": election_id, "list_id": list_id})


def check(db, client, call, activity_id):
    """Poll one import; settle it when finished. Returns its state (None: unknown to CC)."""
    try:
        activity = call(client.activity, activity_id)
    except CCError as error:
        if error.status != 404 or isinstance(error, QuotaExceeded):
            raise
        # CC keeps activities 10 days; sending the same contacts again is harmless.
        settle(db, activity_id, "expired", f"activity {activity_id} no longer known")
        return "expired"
    state = activity.get("state")
    if state == FINISHED_OK or state in FINISHED_BADLY:
        status = activity.get("status") or {}
        settle(db, activity_id, state, activity_error(activity), status.get("cannot_add_to_list_count"))
    elif given_up(db.execute("SELECT submitted_at FROM cc_imports WHERE activity_id = ?",
                             [activity_id]).fetchone()[0]):
        settle(db, activity_id, "timed_out", "Constant Contact did not finish it within a day")
        return "timed_out"
    return state


def given_up(submitted_at):
    """True for an activity submitted more than GIVE_UP_AFTER ago."""
    return bool(submitted_at) and submitted_at < clock.iso(clock.now() - GIVE_UP_AFTER)


def settle(db, activity_id, state, error=None, cannot_add=None):
    """Record how an import finished: what CC now holds, and who must be removed again."""
    now = clock.iso()
    with db.atomic():
        found = rows(db, "SELECT * FROM cc_imports WHERE activity_id = ? AND finished_at IS NULL",
                     [activity_id])
        if not found:
            return
        done = found[0]
        db.execute("UPDATE cc_imports SET state = ?, error = ?, cannot_add_count = ?, finished_at = ? "
                   "WHERE activity_id = ?", [state, error or None, cannot_add, now, activity_id])
        if state == FINISHED_OK:
            _record_links(db, done, now)
            _forget_membership(db, done)
        requeue_voted(db, done)
        if done["purpose"] == ADD:
            _settle_additions(db, done, state, error, now)


def _record_links(db, done, now):
    """The links a completed import put into CC (or cleared) are what CC holds now."""
    db.execute("""
        INSERT INTO cc_ballot_links (election_id, email, voter_id, link_version, pushed_at)
        SELECT ?, email, voter_id, link_version, ? FROM cc_import_contacts
        WHERE activity_id = ? AND voter_id IS NOT NULL AND link_version IS NOT NULL
        ON CONFLICT (election_id, email) DO UPDATE SET voter_id = excluded.voter_id,
            link_version = excluded.link_version, pushed_at = excluded.pushed_at""",
               [done["election_id"], now, done["activity_id"]])
    db.execute("""DELETE FROM cc_ballot_links WHERE election_id = ? AND email IN
                  (SELECT email FROM cc_import_contacts WHERE activity_id = ? AND voter_id IS NULL)""",
               [done["election_id"], done["activity_id"]])


def _forget_membership(db, done):
    """Contacts added to the list: what the look-up cache said about them no longer holds."""
    if done["purpose"] == ADD:
        db.execute("DELETE FROM cc_contacts WHERE list_id = ? AND email IN "
                   "(SELECT email FROM cc_import_contacts WHERE activity_id = ?)",
                   [done["list_id"], done["activity_id"]])


def requeue_voted(db, done):
    """Queue for removal, afresh, every voter in the import who has voted: the import may have put
    them back on the list after an earlier removal. Returns how many."""
    now = clock.iso()
    return db.execute(f"""
        INSERT INTO cc_removals (election_id, email, state, attempts, queued_at, updated_at)
        SELECT v.election_id, v.email, '{QUEUED}', 0, :now, :now
        FROM cc_import_contacts i JOIN voters v ON v.id = i.voter_id
        WHERE i.activity_id = :activity_id AND v.has_voted = 1 AND v.election_id = :election_id
        ON CONFLICT (election_id, email) DO UPDATE SET
            state = '{QUEUED}', list_id = NULL, contact_id = NULL, activity_id = NULL,
            last_error = NULL, updated_at = :now
        WHERE cc_removals.state NOT IN {WAITING}""",
                      {"now": now, "activity_id": done["activity_id"],
                       "election_id": done["election_id"]}).rowcount


def _settle_additions(db, done, state, error, now):
    """The roster check's missing voters: added, or asked for again at the next run."""
    if state == FINISHED_OK:
        db.execute("UPDATE cc_list_differences SET fix = 'added', last_error = NULL, updated_at = ? "
                   "WHERE activity_id = ? AND fix = 'submitted'", [now, done["activity_id"]])
    else:
        reason = f"Constant Contact import {state}" + (f": {error}" if error else "")
        db.execute("UPDATE cc_list_differences SET fix = 'requested', activity_id = NULL, "
                   "attempts = attempts + 1, last_error = ?, updated_at = ? "
                   "WHERE activity_id = ? AND fix = 'submitted'", [reason, now, done["activity_id"]])

