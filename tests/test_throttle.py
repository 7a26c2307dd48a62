"""Failed sign-ins are counted per key, also when many arrive at the same moment."""
import threading
import time
from datetime import timedelta

from eo_cc import clock, throttle
from eo_cc.db import connect, immediate, one

from .factories import make_election, make_voters

BURST = 12


def test_failures_lock_the_key_at_the_limit(db):
    for _ in range(throttle.MAX_FAILURES - 1):
        throttle.record_failure(db, "k")
    assert not throttle.is_locked(db, "k")
    throttle.record_failure(db, "k")
    assert throttle.is_locked(db, "k")


def test_a_failure_after_the_window_starts_counting_again(db):
    old = clock.iso(clock.now() - throttle.WINDOW - timedelta(minutes=1))
    db["throttles"].insert({"key": "k", "failures": 4, "first_failure_at": old, "locked_until": None})
    throttle.record_failure(db, "k")
    row = one(db, "SELECT * FROM throttles WHERE key = 'k'")
    assert row["failures"] == 1 and row["first_failure_at"] > old and not throttle.is_locked(db, "k")


def test_a_burst_of_parallel_wrong_passwords_is_counted_in_full_and_locks_the_voter(app, db, admin):
    """Guesses sent all at once must not overwrite each other's count (read, then write, lost)."""
    election_id = make_election(db, admin)
    make_voters(db, election_id, count=1, secret_key=app.config["SECRET_KEY"])
    slug = db["elections"].get(election_id)["slug"]
    # Hold the write lock while the guesses arrive, so they all read the count before any writes it.
    locked, release = threading.Event(), threading.Event()

    def hold_lock():
        holder = connect(app.config["DATABASE"])
        with immediate(holder):
            locked.set()
            release.wait(5)
        holder.close()

    def guess(n):
        app.test_client().post(f"/vote/{slug}", data={"voter_id": "V0001", "password": f"wrong-{n}"})

    holder = threading.Thread(target=hold_lock)
    holder.start()
    locked.wait(5)
    guesses = [threading.Thread(target=guess, args=(n,)) for n in range(BURST)]
    for thread in guesses:
        thread.start()
    time.sleep(1)
    release.set()
    for thread in [holder, *guesses]:
        thread.join(30)
    row = one(db, "SELECT * FROM throttles WHERE key = ?", [f"voter:{slug}:v0001"])
    assert row["failures"] == BURST
    assert throttle.is_locked(db, f"voter:{slug}:v0001")
