"""Sign-in attempts are counted per key before the password is checked, also all at once."""
from datetime import timedelta

from eo_cc import clock, throttle
from eo_cc.db import one
from eo_cc.voting import views as voting_views

from .factories import (
    all_at_once_behind_a_write_lock,
    count_calls,
    make_election,
    make_voters,
)

BURST = 12


def test_the_fifth_attempt_is_still_checked_and_the_sixth_is_not(db):
    assert all(throttle.attempt(db, "k") for _ in range(throttle.MAX_FAILURES))
    assert throttle.is_locked(db, "k")
    assert throttle.attempt(db, "k") is False


def test_a_right_password_takes_the_failures_back(db):
    for _ in range(throttle.MAX_FAILURES - 1):
        throttle.attempt(db, "k")
    throttle.clear(db, "k")
    assert all(throttle.attempt(db, "k") for _ in range(throttle.MAX_FAILURES))


def test_forgive_takes_back_one_attempt_on_a_shared_key(db):
    for _ in range(3):
        throttle.attempt(db, "office", throttle.MAX_FAILURES_PER_ADDRESS)
    throttle.forgive(db, "office")
    assert one(db, "SELECT failures FROM throttles WHERE key = 'office'")["failures"] == 2


def test_an_attempt_after_the_window_starts_counting_again(db):
    old = clock.iso(clock.now() - throttle.WINDOW - timedelta(minutes=1))
    db["throttles"].insert({"key": "k", "failures": 4, "first_failure_at": old, "locked_until": None})
    assert throttle.attempt(db, "k")
    row = one(db, "SELECT * FROM throttles WHERE key = 'k'")
    assert row["failures"] == 1 and row["first_failure_at"] > old and not throttle.is_locked(db, "k")


def test_a_lock_holds_until_it_ends_even_when_the_window_has_passed(db):
    now = clock.now()
    for _ in range(throttle.MAX_FAILURES):
        throttle.attempt(db, "k", now=now)
    assert throttle.attempt(db, "k", now=now + throttle.LOCKOUT - timedelta(seconds=1)) is False
    assert throttle.attempt(db, "k", now=now + throttle.LOCKOUT + timedelta(seconds=1)) is True


def test_a_burst_of_parallel_wrong_passwords_gets_only_five_checked_and_locks_the_voter(app, db, admin,
                                                                                      monkeypatch):
    """Guesses queued behind a held write lock arrive together: each is counted before its
    password is checked, so at most MAX_FAILURES of them are checked."""
    election_id = make_election(db, admin)
    make_voters(db, election_id, count=1, secret_key=app.config["SECRET_KEY"])
    slug = db["elections"].get(election_id)["slug"]
    checked = count_calls(monkeypatch, voting_views, "check_password")
    all_at_once_behind_a_write_lock(app.config["DATABASE"], lambda n: app.test_client().post(
        f"/vote/{slug}", data={"voter_id": "V0001", "password": f"wrong-{n}"}), BURST)
    assert len(checked) == throttle.MAX_FAILURES
    assert throttle.is_locked(db, f"voter:{slug}:v0001")
