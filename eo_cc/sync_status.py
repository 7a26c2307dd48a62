"""What the Integration Settings page shows about an election's sync (Flask-free)."""
from datetime import timedelta, timezone

from . import clock
from .db import one, rows
from .localtime import zone

UP_TO_DATE = "Your list is up to date — safe to send a reminder now"
FAILURES_SHOWN = 20


def sync_status(db, election_id, config, tz=None):
    """The sync panel's data for one election; times shown in the tz name given (default UTC)."""
    election = one(db, "SELECT admin_id, cc_list_id, cc_list_name FROM elections WHERE id = ?",
                   [election_id]) or {}
    counts = dict(db.execute("SELECT state, count(*) FROM cc_removals WHERE election_id = ? "
                             "GROUP BY state", [election_id]).fetchall())
    connection = one(db, "SELECT needs_grant, last_error FROM cc_connections WHERE admin_id = ?",
                     [election.get("admin_id")])
    quota_exceeded = _quota_exceeded_today(db)
    next_run = next_run_at(clock.now(), int(config.get("CC_SYNC_INTERVAL_MINUTES") or 60),
                           after_midnight=quota_exceeded)
    status = {
        "has_list": bool(election.get("cc_list_id")),
        "list_name": election.get("cc_list_name"),
        "queued": counts.get("queued", 0) + counts.get("submitted", 0),
        "submitted": counts.get("submitted", 0),
        "done": counts.get("done", 0),
        "not_in_list": counts.get("not_in_list", 0),
        "not_in_list_emails": not_in_list_emails(db, election_id),
        "failures": _failures(db, election_id),
        "last_run": _last_run(db, election_id),
        "next_run_at": clock.iso(next_run),
        "next_run_display": _hhmm(next_run, tz),
        "needs_grant": bool(connection and connection["needs_grant"]),
        "is_connected": connection is not None,
        "quota_exceeded": quota_exceeded,
    }
    status["verdict"] = verdict(status)
    return status


def not_in_list_emails(db, election_id):
    """Emails of voters who voted but were not on the chosen list, alphabetically."""
    return [row["email"] for row in rows(
        db, "SELECT email FROM cc_removals WHERE election_id = ? AND state = 'not_in_list' "
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
    tz = zone(timezone_name)
    return f"{moment.astimezone(tz):%H:%M} {tz.key}"


def _failures(db, election_id):
    return rows(db, """
        SELECT email, last_error, attempts, state, updated_at FROM cc_removals
        WHERE election_id = ? AND last_error IS NOT NULL AND state IN ('queued', 'submitted', 'failed')
        ORDER BY updated_at DESC, email LIMIT ?""", [election_id, FAILURES_SHOWN])


def _last_run(db, election_id):
    return one(db, """
        SELECT r.started_at AS at, r.finished_at, e.removed, e.not_in_list, e.failed, e.error
        FROM sync_run_elections e JOIN sync_runs r ON r.id = e.run_id
        WHERE e.election_id = ? AND r.is_dry_run = 0 ORDER BY r.id DESC LIMIT 1""",
               [election_id])


def _quota_exceeded_today(db):
    day = clock.now().date().isoformat()
    row = one(db, "SELECT quota_exceeded_at FROM cc_request_counts WHERE day = ?", [day])
    return bool(row and row["quota_exceeded_at"])


def verdict(status, tz=None):
    """The one sentence that tells the admin whether the list is safe to mail (times in tz)."""
    queued = status["queued"]
    if not status["has_list"]:
        return "No Constant Contact list is chosen yet, so nothing is removed from a list."
    if queued == 0:
        return UP_TO_DATE
    voters = "1 voter who voted is" if queued == 1 else f"{queued} voters who voted are"
    if status["needs_grant"] or not status["is_connected"]:
        return f"{voters} still on the list; grant access again so they can be removed."
    when = _hhmm(clock.parse(status["next_run_at"]), tz) if tz else status["next_run_display"]
    return f"{voters} still on the list; they will be removed at {when}"

