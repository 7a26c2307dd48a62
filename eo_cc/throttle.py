"""Slow down guessing: count failed sign-ins per key and lock the key for a while."""
from datetime import timedelta

from . import clock
from .db import one

MAX_FAILURES = 5
# One address may be a whole office or a phone network behind NAT: allow it many more tries.
MAX_FAILURES_PER_ADDRESS = 50
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)


def is_locked(db, key):
    """True while key is locked out after too many failures."""
    row = one(db, "SELECT locked_until FROM throttles WHERE key = ?", [key])
    return bool(row and row["locked_until"] and clock.parse(row["locked_until"]) > clock.now())


def record_failure(db, key, max_failures=MAX_FAILURES):
    """Count one failure; lock the key once it reaches max_failures within WINDOW."""
    now = clock.now()
    row = one(db, "SELECT * FROM throttles WHERE key = ?", [key])
    if row is None or clock.parse(row["first_failure_at"]) < now - WINDOW:
        row = {"key": key, "failures": 0, "first_failure_at": clock.iso(now), "locked_until": None}
    row["failures"] += 1
    if row["failures"] >= max_failures:
        row["locked_until"] = clock.iso(now + LOCKOUT)
    db["throttles"].upsert(row, pk="key")


def clear(db, key):
    db.execute("DELETE FROM throttles WHERE key = ?", [key])
