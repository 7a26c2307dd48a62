"""What keeps a sync run polite: the run lock, the daily request budget and backoff.

CC's limits (4 requests/s, 10,000/day) belong to eo_cc's API key and are shared by
every account that granted access, so we count our own requests per UTC day and
never retry in a tight loop.
"""
import contextlib
import fcntl
import os
import random
import time

from .. import clock
from ..db import one
from .api import CCError, QuotaExceeded

MAX_ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 1.0
THROTTLED_BASE_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0


class BudgetExhausted(Exception):
    """Our own daily request budget (CC_DAILY_REQUEST_BUDGET) is used up."""


def open_lock_file(path):
    """A descriptor to flock (the file is made private, mode 600, if new)."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)


@contextlib.contextmanager
def sync_lock(path, wait_seconds=2.0):
    """Hold an exclusive flock on path; yields False when another process holds it."""
    fd = open_lock_file(path)
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.1)
        yield True
    finally:
        os.close(fd)  # releases the lock


def is_locked(path):
    """True while some process holds the flock on path (without waiting for it)."""
    fd = open_lock_file(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def utc_day():
    return clock.now().date().isoformat()


def quota_exceeded_today(db):
    """True once Constant Contact has said today's quota for our API key is used up."""
    row = one(db, "SELECT quota_exceeded_at FROM cc_request_counts WHERE day = ?", [utc_day()])
    return bool(row and row["quota_exceeded_at"])


class RequestLedger:
    """Counts every CC request in cc_request_counts (per UTC day) and enforces the budget."""

    def __init__(self, db, budget):
        self.db = db
        self.budget = budget
        self.requests = 0          # sent by this run
        self._unsaved = 0          # counted, not yet added to today's row
        self._saved_used = 0       # today's row when last read

    def used_today(self):
        return self._saved_used + self._unsaved

    def count(self):
        """The client's on_request hook: one more request, or BudgetExhausted to veto it.

        It runs between the pacer's slot and the send, so it only counts in memory: a
        slow database write there would bunch requests up and draw 429s. save() writes.
        """
        if self.used_today() >= self.budget:
            raise self._exhausted()
        self.requests += 1
        self._unsaved += 1

    def save(self):
        """Add the requests counted since the last save to today's row, and re-read it."""
        day = utc_day()
        if self._unsaved:
            self.db.execute(
                "INSERT INTO cc_request_counts (day, requests) VALUES (?, ?) "
                "ON CONFLICT (day) DO UPDATE SET requests = requests + excluded.requests",
                [day, self._unsaved])
            self._unsaved = 0
        row = one(self.db, "SELECT requests FROM cc_request_counts WHERE day = ?", [day])
        self._saved_used = row["requests"] if row else 0

    def check(self):
        """Save the count; raise BudgetExhausted when one more request would go over budget."""
        self.save()
        if self.used_today() >= self.budget:
            raise self._exhausted()

    def _exhausted(self):
        return BudgetExhausted(f"today's Constant Contact request budget ({self.budget}) is used "
                               "up; syncing resumes after 00:00 UTC")

    def quota_exceeded_today(self):
        return quota_exceeded_today(self.db)

    def record_quota_exceeded(self):
        self.db.execute(
            "INSERT INTO cc_request_counts (day, requests, quota_exceeded_at) VALUES (?, 0, ?) "
            "ON CONFLICT (day) DO UPDATE SET quota_exceeded_at = excluded.quota_exceeded_at",
            [utc_day(), clock.iso()])


def request_counter(db):
    """An on_request hook for other CC callers (e.g. the list page) sharing the daily count."""
    def count():
        db.execute("INSERT INTO cc_request_counts (day, requests) VALUES (?, 1) "
                   "ON CONFLICT (day) DO UPDATE SET requests = requests + 1", [utc_day()])
    return count


def backoff_delay(attempt, error=None, rng=random):
    """Exponential backoff with jitter: about 1, 2, 4, 8 ... seconds, capped.

    A per-second throttle clears within the second, so it starts at half that.
    """
    base = THROTTLED_BASE_SECONDS if getattr(error, "error_key", None) == "throttled" \
        else BACKOFF_BASE_SECONDS
    ceiling = min(BACKOFF_MAX_SECONDS, base * 2 ** (attempt - 1))
    return ceiling * rng.uniform(0.5, 1.0)


def call_with_backoff(fn, *args, ledger, sleep=time.sleep, log=None, attempts=MAX_ATTEMPTS):
    """Call fn(*args), retrying retryable CCErrors a bounded number of times with backoff."""
    for attempt in range(1, attempts + 1):
        ledger.check()
        try:
            return fn(*args)
        except QuotaExceeded:
            raise
        except CCError as error:
            if not error.retryable or attempt == attempts:
                raise
            delay = backoff_delay(attempt, error)
            if log:
                log(f"  {error}; retrying in {delay:.1f}s (attempt {attempt + 1} of {attempts})")
            sleep(delay)
    raise AssertionError("unreachable")
