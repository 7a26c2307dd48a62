"""Slow down guessing: count each sign-in attempt per key before its password is checked.

Counting first, in one transaction, means guesses sent all at once cannot all be checked
before any of them is counted: at most `max_failures` attempts are checked per window,
however many arrive together. A right password then takes its own attempt back.
"""
from datetime import timedelta

from . import clock
from .db import one

MAX_FAILURES = 5
# One address may be a whole office or a phone network behind NAT: allow it many more tries.
MAX_FAILURES_PER_ADDRESS = 50
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)


def attempt(db, key, max_failures=MAX_FAILURES, now=None):
    """Count one attempt on key; True when it may be checked, False while the key is locked.

    The attempt that reaches max_failures is still checked, and locks the key if it fails.
    """
    now = now or clock.now()
    with db.atomic():
        row = one(db, "SELECT * FROM throttles WHERE key = ?", [key])
        if row and row["locked_until"] and clock.parse(row["locked_until"]) > now:
            return False
        if row is None or clock.parse(row["first_failure_at"]) < now - WINDOW:
            failures, first = 1, clock.iso(now)
        else:
            failures, first = row["failures"] + 1, row["first_failure_at"]
        db.execute("INSERT OR REPLACE INTO throttles (key, failures, first_failure_at, locked_until) "
                   "VALUES (?, ?, ?, ?)", [key, failures, first,
                                           clock.iso(now + LOCKOUT) if failures >= max_failures else None])
    return True


def attempt_all(db, keys_and_limits, now=None):
    """Count the attempt on every key (never fewer); True when none of them is locked."""
    allowed = [attempt(db, key, limit, now) for key, limit in keys_and_limits]
    return all(allowed)


def clear(db, key):
    """The right password: forget every failure on this key."""
    db.execute("DELETE FROM throttles WHERE key = ?", [key])


def forgive(db, key):
    """The right password on a shared key (an address): take back only this attempt."""
    db.execute("UPDATE throttles SET failures = max(failures - 1, 0) WHERE key = ? AND locked_until IS NULL",
               [key])


def is_locked(db, key, now=None):
    """True while key is locked out after too many failures."""
    row = one(db, "SELECT locked_until FROM throttles WHERE key = ?", [key])
    now = now or clock.now()
    return bool(row and row["locked_until"] and clock.parse(row["locked_until"]) > now)
