"""What the sync reports: each run's results (printed, recorded) and each election's status panel.

Flask-free: the cron job prints run results, Integration Settings shows the status.
"""
from dataclasses import dataclass, field
from datetime import timedelta, timezone

from .. import clock
from ..db import one, rows
from . import accounts, sharing
from .budget import quota_exceeded_today
from .removals import DONE, NOT_IN_LIST, QUEUED, SUBMITTED, WAITING

UP_TO_DATE = "Your list is up to date — safe to send a reminder now"
FAILURES_SHOWN = 20
SCAN_RESTARTED = ("Constant Contact no longer accepted the place where the last list scan stopped "
                  "(its cursor had expired), so the list was paged again from page 1")


@dataclass
class ElectionResult:
    """What one run did for one election."""
    election_id: int
    title: str
    removed: int = 0
    not_in_list: int = 0
    failed: int = 0
    processing: int = 0
    would_remove: int = 0
    submitted: int = 0
    requests: int = 0
    held: int = 0          # queued until the voter votes in another election on the same list
    error: str | None = None
    scan_restarted: bool = False   # CC refused where the last list scan stopped

    def summary(self, dry_run=False):
        name = f'Election {self.election_id} "{self.title}"'
        if dry_run:
            text = (f"{name}: would remove {self.would_remove}, {self.not_in_list} not in the list "
                    f"(dry run, nothing changed), {self.requests} requests")
        else:
            text = (f"{name}: {self.removed} removed, {self.not_in_list} not in the list, "
                    f"{self.failed} still queued, {self.requests} requests")
            if self.processing:
                text += f", {self.processing} still being processed by Constant Contact"
            if self.held:
                text += (f", {self.held} kept on the shared list until they vote in the other "
                         "election(s) on it")
        if self.scan_restarted:
            text += f"; {SCAN_RESTARTED}"
        return text + (f"; error: {self.error}" if self.error else "")


@dataclass
class RunResult:
    """The outcome of one run; exit_code 0 all done, 1 some removals remain queued, 2 config."""
    exit_code: int
    message: str
    run_id: int | None = None
    elections: list = field(default_factory=list)
    requests: int = 0

    def total(self, name):
        return sum(getattr(result, name) for result in self.elections)


def run_message(result, dry_run):
    """The one line that sums a run up (the flash after Sync now, the last line in cron mail)."""
    if dry_run:
        return (f"Dry run: would remove {result.total('would_remove')}, "
                f"{result.total('not_in_list')} not in the list ({result.requests} requests).")
    text = (f"Sync finished: {result.total('removed')} removed, "
            f"{result.total('not_in_list')} not in the list, {result.total('failed')} still queued")
    if result.total("processing"):
        text += f", {result.total('processing')} still being processed by Constant Contact"
    if any(r.scan_restarted for r in result.elections):
        text += f" ({SCAN_RESTARTED})"
    errors = [r.error for r in result.elections if r.error]
    return text + (f" ({errors[0]})." if errors else ".")


def sync_status(db, election_id, config, tz=None):
    """The sync panel's data for one election; times shown in the tz name given (default UTC)."""
    election = one(db, "SELECT organisation_id, cc_list_id, cc_list_name, cc_list_problem, "
                       "cc_list_account_name FROM elections WHERE id = ?", [election_id]) or {}
    counts = sharing.count_states(db, "r.election_id = ?", [election_id])
    connection = one(db, "SELECT needs_grant, last_error, account_name, account_email FROM cc_connections "
                         "WHERE organisation_id = ?", [election.get("organisation_id")])
    quota_exceeded = quota_exceeded_today(db)
    next_run = next_run_at(clock.now(), int(config["CC_SYNC_INTERVAL_MINUTES"]),
                           after_midnight=quota_exceeded)
    status = {
        "has_list": bool(election.get("cc_list_id")),
        "list_name": election.get("cc_list_name"),
        "queued": counts.get(QUEUED, 0) + counts.get("held", 0) + counts.get(SUBMITTED, 0),
        "submitted": counts.get(SUBMITTED, 0),
        "held": counts.get("held", 0),
        "done": counts.get(DONE, 0),
        "not_in_list": counts.get(NOT_IN_LIST, 0),
        "not_in_list_emails": not_in_list_emails(db, election_id),
        "failures": _failures(db, election_id),
        "last_run": _last_run(db, election_id),
        "next_run_at": clock.iso(next_run),
        "next_run_display": _hhmm(next_run, tz),
        "needs_grant": bool(connection and connection["needs_grant"]),
        "is_connected": connection is not None,
        "connection": connection,
        "list_problem": accounts.problem_message(election) if election.get("cc_list_problem") else None,
        "quota_exceeded": quota_exceeded,
    }
    status["verdict"] = verdict(status)
    return status


def not_in_list_emails(db, election_id):
    """Emails of voters who voted but were not on the chosen list, alphabetically."""
    return [row["email"] for row in rows(
        db, f"SELECT email FROM cc_removals WHERE election_id = ? AND state = '{NOT_IN_LIST}' "
            "ORDER BY email", [election_id])]


def next_run_at(now, interval_minutes=60, after_midnight=False):
    """The next scheduled run: the next multiple of the interval after midnight UTC."""
    midnight = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    slots = (now - midnight) // timedelta(minutes=interval_minutes) + 1
    moment = midnight + slots * timedelta(minutes=interval_minutes)
    if after_midnight:
        moment = max(moment, midnight + timedelta(days=1))
    return moment


def _hhmm(moment, timezone_name):
    return clock.format_local(moment, timezone_name, fmt="%H:%M")


def _failures(db, election_id):
    return rows(db, f"""
        SELECT email, last_error, attempts, state, updated_at FROM cc_removals
        WHERE election_id = ? AND last_error IS NOT NULL AND state IN {WAITING}
        ORDER BY updated_at DESC, email LIMIT ?""", [election_id, FAILURES_SHOWN])


def _last_run(db, election_id):
    return one(db, """
        SELECT r.started_at AS at, r.finished_at, e.removed, e.not_in_list, e.failed, e.error
        FROM sync_run_elections e JOIN sync_runs r ON r.id = e.run_id
        WHERE e.election_id = ? AND r.is_dry_run = 0 ORDER BY r.id DESC LIMIT 1""",
               [election_id])


def verdict(status, tz=None):
    """The one sentence that tells the admin whether the list is safe to mail (times in tz)."""
    held = status.get("held", 0)
    queued = status["queued"] - held
    if not status["has_list"]:
        return "No Constant Contact list is chosen yet, so nothing is removed from a list."
    if queued == 0:
        if held:
            return (f"{UP_TO_DATE}; {held} voter(s) who voted stay on the shared list until they "
                    "vote in the other election on it.")
        return UP_TO_DATE
    voters = "1 voter who voted is" if queued == 1 else f"{queued} voters who voted are"
    if status.get("list_problem"):
        return f"{voters} still on the list; {status['list_problem']}"
    if status["needs_grant"] or not status["is_connected"]:
        return f"{voters} still on the list; grant access again so they can be removed."
    when = _hhmm(clock.parse(status["next_run_at"]), tz) if tz else status["next_run_display"]
    return f"{voters} still on the list; they will be removed at {when}"

