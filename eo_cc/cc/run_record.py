"""The record of each sync run (`sync_runs`, `sync_run_elections`) that the sync panel reads.

Removals are counted as they settle, inside the same transaction, so a run killed before its
end still accounts for what it removed.
"""
from .. import clock
from . import sharing
from .removals import QUEUED, SUBMITTED, WAITING


def start(db, started_at, dry_run):
    """A new run's record; returns its id."""
    return db["sync_runs"].insert({"started_at": started_at, "is_dry_run": int(dry_run)}).last_pk


def add_removed(db, run_id, election_id, count):
    """Count settled removals (call inside the transaction that settles them)."""
    db.execute(
        "INSERT INTO sync_run_elections (run_id, election_id, removed) VALUES (?, ?, ?) "
        "ON CONFLICT (run_id, election_id) DO UPDATE SET removed = removed + excluded.removed",
        [run_id, election_id, count])


def leftovers(db, election_id, started_at, last_removal_id):
    """(still queued, still processing at CC, held for a shared list) of the removals this run took on."""
    counts = sharing.count_states(
        db, f"r.election_id = ? AND r.queued_at <= ? AND r.id <= coalesce(?, r.id) AND r.state IN {WAITING}",
        [election_id, started_at, last_removal_id])
    return counts.get(QUEUED, 0), counts.get(SUBMITTED, 0), counts.get("held", 0)


def finish(db, run_id, result):
    """Write a run's outcome (a RunResult) and each election's line."""
    with db.atomic():
        db["sync_runs"].update(run_id, {
            "finished_at": clock.iso(), "exit_code": result.exit_code,
            "requests": result.requests, "message": result.message})
        db["sync_run_elections"].upsert_all(
            ({"run_id": run_id, "election_id": r.election_id, "removed": r.removed,
              "not_in_list": r.not_in_list, "failed": r.failed, "requests": r.requests,
              "error": r.error} for r in result.elections), pk=("run_id", "election_id"))
