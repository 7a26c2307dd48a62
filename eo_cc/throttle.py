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
    """Count one failure; lock the key once it reaches max_failures within WINDOW.

    One statement, so guesses sent in parallel cannot read the same count and each write
    count + 1 (which would let a burst of guesses through as one failure).
    """
    now = clock.now()
    stale = "throttles.first_failure_at < :window_start"
    count = f"CASE WHEN {stale} THEN 1 ELSE throttles.failures + 1 END"
    db.execute(f"""
        INSERT INTO throttles (key, failures, first_failure_at, locked_until)
        VALUES (:key, 1, :now, CASE WHEN :max <= 1 THEN :until END)
        ON CONFLICT (key) DO UPDATE SET
            failures = {count},
            first_failure_at = CASE WHEN {stale} THEN :now ELSE throttles.first_failure_at END,
            locked_until = CASE WHEN {count} >= :max THEN :until
                                WHEN {stale} THEN NULL ELSE throttles.locked_until END""",
               {"key": key, "now": clock.iso(now), "window_start": clock.iso(now - WINDOW),
                "max": max_failures, "until": clock.iso(now + LOCKOUT)})


def clear(db, key):
    db.execute("DELETE FROM throttles WHERE key = ?", [key])
