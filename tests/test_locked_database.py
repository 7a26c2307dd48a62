"""Voters and admins act while another connection holds the database's write lock.

A long write (BEGIN IMMEDIATE held for a few seconds, as a big roster import or a
sync run might) must make requests wait, not fail: no 500, no lost or doubled ballot,
no duplicate account. The busy timeout in eo_cc/db.py (10 s) is what lets them queue.
"""
import re
import threading
import time

import pytest

from eo_cc.cc import tokens as cc_tokens
from eo_cc.db import BUSY_TIMEOUT_MS, connect, immediate

from .factories import make_election, make_voters, organisation_of

HOLD_SECONDS = 2.5
VOTERS = 6
RECEIPT = re.compile(r'class="receipt">([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})<')


@pytest.fixture
def election(app, db, admin):
    """An open election with VOTERS voters; returns (slug, [voter ids], {question id: choice id})."""
    election_id = make_election(db, admin, has_announcement_email=0)
    voter_ids = make_voters(db, election_id, count=VOTERS, secret_key=app.config["SECRET_KEY"])
    choices = {row["question_id"]: row["id"] for row in db.query(
        """SELECT c.question_id, MIN(c.id) AS id FROM choices c JOIN questions q ON q.id = c.question_id
           WHERE q.election_id = ? GROUP BY c.question_id""", [election_id])}
    return election_id, db["elections"].get(election_id)["slug"], voter_ids, choices


def hold_write_lock(path, locked, released_at, seconds=HOLD_SECONDS):
    """Take the write lock, write, and keep the transaction open for a few seconds."""
    db = connect(path)
    try:
        with immediate(db):
            db.execute("UPDATE elections SET updated_at = updated_at")
            locked.set()
            time.sleep(seconds)
            released_at.append(time.monotonic())
    finally:
        db.close()


def vote(app, slug, number, choices, locked, outcome):
    """One voter's visit: sign in through the form, cast, read the receipt page."""
    client = app.test_client()
    locked.wait(5)
    started = time.monotonic()
    try:
        signed_in = client.post(f"/vote/{slug}", data={"voter_id": f"V{number:04d}",
                                                       "password": f"pw-{number}"})
        cast = client.post(f"/vote/{slug}/ballot", data={f"q{q}": str(c) for q, c in choices.items()})
        page = cast.get_data(as_text=True)
        if cast.status_code == 302:
            page = client.get(cast.headers["Location"]).get_data(as_text=True)
        found = RECEIPT.search(page)
        outcome.append({"voter": number, "statuses": [signed_in.status_code, cast.status_code],
                        "receipt": found and found.group(1).replace("-", ""),
                        "already_voted": "You have already voted" in page,
                        "started": started, "finished": time.monotonic()})
    except Exception as error:  # noqa: BLE001 -- a crash in a thread must fail the test, not vanish
        outcome.append({"voter": number, "error": repr(error)})


def run_during_long_write(app, slug, choices, visits):
    """Hold the write lock in one thread while each visit (a voter number) runs in its own."""
    locked, released_at, outcome = threading.Event(), [], []
    writer = threading.Thread(target=hold_write_lock, args=(app.config["DATABASE"], locked, released_at))
    voters = [threading.Thread(target=vote, args=(app, slug, n, choices, locked, outcome)) for n in visits]
    writer.start()
    for thread in voters:
        thread.start()
    for thread in [writer, *voters]:
        thread.join(30)
    assert len(outcome) == len(visits) and [o.get("error") for o in outcome] == [None] * len(visits)
    # The voters really were held up by the lock: they started during it and finished after it.
    assert all(o["started"] < released_at[0] < o["finished"] for o in outcome)
    return outcome


def assert_ballot_box_matches(db, election_id, receipts, choices):
    """Ballots == receipts handed out == voters marked voted == removals queued."""
    stored = {r["code"] for r in db.query("SELECT code FROM receipts WHERE election_id = ?", [election_id])}
    assert stored == set(receipts) and len(receipts) == VOTERS
    assert db.execute("SELECT COUNT(*) FROM ballots WHERE election_id = ?", [election_id]).fetchone()[0] \
        == VOTERS
    voted = db.execute("SELECT COUNT(*) FROM voters WHERE election_id = ? AND has_voted = 1",
                       [election_id]).fetchone()[0]
    queued = db.execute("SELECT COUNT(*) FROM cc_removals WHERE election_id = ?", [election_id]).fetchone()[0]
    assert len(stored) == voted == queued == VOTERS
    selections = db.execute("SELECT COUNT(*) FROM ballot_selections WHERE election_id = ?",
                            [election_id]).fetchone()[0]
    assert selections == VOTERS * len(choices)


def test_voters_casting_during_a_long_write_wait_and_every_ballot_is_counted_once(app, db, election):
    assert BUSY_TIMEOUT_MS / 1000 > HOLD_SECONDS * 2  # the lock is released well within the timeout
    election_id, slug, voter_ids, choices = election
    outcome = run_during_long_write(app, slug, choices, range(1, VOTERS + 1))
    assert all(o["statuses"] == [302, 200] for o in outcome), outcome
    receipts = [o["receipt"] for o in outcome]
    assert None not in receipts
    assert_ballot_box_matches(db, election_id, receipts, choices)


def test_a_voter_submitting_twice_during_a_long_write_gets_one_ballot(app, db, election):
    """Two tabs (or a double click) per voter, all queued behind the lock: one ballot each."""
    election_id, slug, voter_ids, choices = election
    outcome = run_during_long_write(app, slug, choices, [n for n in range(1, VOTERS + 1) for _ in "ab"])
    for number in range(1, VOTERS + 1):
        visits = [o for o in outcome if o["voter"] == number]
        assert [o["statuses"][1] for o in visits] == [200, 200]
        assert sum(1 for o in visits if o["receipt"]) == 1
        assert sum(1 for o in visits if o["already_voted"]) == 1
    assert_ballot_box_matches(db, election_id, [o["receipt"] for o in outcome if o["receipt"]], choices)


def test_two_confirmations_of_one_sign_up_queued_behind_a_long_write_make_one_account(app, db):
    """A double-clicked Create my account: both requests find the sign-up, then both insert."""
    from eo_cc.auth import start_signup

    mail = start_signup(db, "Ada", "ada@example.org", "pbkdf2:sha256:1000$x$y", "UTC")
    token = mail.args[2]["token"]
    locked, released_at, answers = threading.Event(), [], []

    def confirm():
        locked.wait(5)
        try:
            response = app.test_client().post(f"/auth/signup/{token}", follow_redirects=True)
            answers.append((response.status_code, response.get_data(as_text=True)))
        except Exception as error:  # noqa: BLE001 -- a crash in a thread must fail the test
            answers.append((500, repr(error)))

    writer = threading.Thread(target=hold_write_lock, args=(app.config["DATABASE"], locked, released_at))
    threads = [writer] + [threading.Thread(target=confirm) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(status for status, _ in answers) == [200, 200], answers
    assert sum("Welcome to eo_cc" in page for _, page in answers) == 1
    assert db["admins"].count == 1


def admin_posts(world):
    """Admin actions whose transaction reads before it writes (each a (url, form) pair)."""
    e = world["draft"]
    return {
        "add a question": (f"/elections/{e}/questions/new",
                           {"prompt": "Q?", "choices": "Yes\nNo", "max_choices": "1"}),
        "delete a question": (f"/elections/{e}/questions/{world['question']}/delete", {}),
        "move a question": (f"/elections/{e}/questions/{world['question']}/move/down", {}),
        "change settings": (f"/elections/{e}/settings", {"has_live_results": "y", "results_step": "10"}),
        "open voting": (f"/elections/{e}/open", {}),
        "disconnect Constant Contact": (f"/elections/{e}/integration/disconnect", {}),
    }


@pytest.fixture
def admin_world(app, db, admin):
    draft = make_election(db, admin, state="draft", opens_in_hours=5, has_announcement_email=0)
    make_voters(db, draft, count=2, secret_key=app.config["SECRET_KEY"])
    question = db.execute("SELECT MIN(id) FROM questions WHERE election_id = ?", [draft]).fetchone()[0]
    cc_tokens.save_token(db, app.config["SECRET_KEY"], organisation_of(db, admin),
                         {"access_token": "a", "expires_in": 3600})
    return {"draft": draft, "question": question}


@pytest.mark.parametrize("action", list(admin_posts({"draft": 0, "question": 0})))
def test_admin_actions_during_a_long_write_wait_for_it_instead_of_failing(app, db, client, admin_world,
                                                                          monkeypatch, action):
    """A transaction that reads first must still queue on the busy timeout, not fail at once."""
    monkeypatch.setattr("eo_cc.cc.tokens.revoke", lambda config, token: None)  # no network here
    url, form = admin_posts(admin_world)[action]
    audited = db["audit_log"].count
    locked, released_at = threading.Event(), []
    writer = threading.Thread(target=hold_write_lock,
                              args=(app.config["DATABASE"], locked, released_at, 1.0))
    writer.start()
    locked.wait(5)
    try:
        response = client.post(url, data=form)
    finally:
        writer.join(30)
    assert response.status_code == 302, f"{action}: {response.status_code}"
    assert db["audit_log"].count == audited + 1  # done, after waiting for the lock
