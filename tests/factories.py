"""Build rows straight into the database, independent of the views under test."""
import email
import re
import secrets
import threading
from datetime import timedelta
from pathlib import Path

from eo_cc import clock
from eo_cc.auth import create_admin
from eo_cc.crypto import Box, random_code
from eo_cc.organisations.members import add_member

ADMIN_PASSWORD = "correct horse battery"
SECRET_KEY = "test-secret-key-not-for-production"


def make_admin(db, email="ada@example.org", password=ADMIN_PASSWORD, name="Ada", timezone="UTC"):
    return create_admin(db, name, email, password, timezone)


def organisation_of(db, admin_id):
    """The organisation the admin's account was created with (the first they own)."""
    return db.execute("SELECT organisation_id FROM memberships WHERE admin_id = ? AND role = 'owner' "
                      "ORDER BY joined_at, organisation_id LIMIT 1", [admin_id]).fetchone()[0]


def make_member(db, organisation_id, role, email, name=None, password=ADMIN_PASSWORD):
    """An admin account that belongs only to organisation_id, with role; returns its id."""
    admin_id = create_admin(db, name or email.split("@")[0].title(), email, password,
                            has_organisation=False)
    add_member(db, organisation_id, admin_id, role)
    return admin_id


def make_election(db, admin_id, title="Board election", state="open", questions=None,
                  opens_in_hours=-1, closes_in_hours=48, organisation_id=None, **columns):
    """An election with questions: [(prompt, [labels], max_choices)]; returns its id.

    It belongs to organisation_id, or else to the organisation admin_id's account came with.
    """
    now = clock.now()
    election_id = db["elections"].insert({
        "organisation_id": organisation_id or organisation_of(db, admin_id),
        "slug": random_code(10).lower(), "title": title,
        "description": "Choose our next board.", "state": state,
        "opens_at": clock.iso(now + timedelta(hours=opens_in_hours)),
        "closes_at": clock.iso(now + timedelta(hours=closes_in_hours)),
        "created_at": clock.iso(now), "updated_at": clock.iso(now), **columns,
    }).last_pk
    questions = questions if questions is not None else [
        ("Who should chair the board?", ["Alice", "Bob"], 1),
        ("Which projects should we fund?", ["Library", "Garden", "Choir"], 2),
    ]
    for position, (prompt, labels, max_choices) in enumerate(questions):
        question_id = db["questions"].insert({
            "election_id": election_id, "position": position, "prompt": prompt,
            "max_choices": max_choices}).last_pk
        db["choices"].insert_all(
            {"question_id": question_id, "position": i, "label": label,
             "is_abstain": int(label == "Abstain")}
            for i, label in enumerate(labels))
    return election_id


def make_ranked_question(db, election_id, prompt, labels, seats=1):
    """A ranked question after the election's others; returns {label: choice id}."""
    position = len(db.execute("SELECT id FROM questions WHERE election_id = ?", [election_id]).fetchall())
    question_id = db["questions"].insert({"election_id": election_id, "position": position, "prompt": prompt,
                                          "kind": "ranked", "seats": seats}).last_pk
    db["choices"].insert_all({"question_id": question_id, "position": i, "label": label}
                             for i, label in enumerate(labels))
    return {r["label"]: r["id"] for r in db.query("SELECT id, label FROM choices WHERE question_id = ?",
                                                  [question_id])}


def make_voters(db, election_id, count=3, secret_key=SECRET_KEY, domain="example.org", weights=None):
    """Voters voter1..N with password pw-N (and weights[n - 1], default 1); returns their ids."""
    box = Box(secret_key, "voter-passwords")
    now = clock.iso()
    rows = [{"election_id": election_id, "voter_code": f"V{n:04d}", "name": f"Voter {n}",
             "email": f"voter{n}@{domain}", "password_encrypted": box.seal(f"pw-{n}"),
             "weight": weights[n - 1] if weights else 1,
             "created_at": now} for n in range(1, count + 1)]
    db["voters"].insert_all(rows)
    return [r["id"] for r in db.query(
        "SELECT id FROM voters WHERE election_id = ? ORDER BY id", [election_id])]


def database_bytes(path):
    """The database file and its write-ahead log, where fresh rows live first."""
    data = b""
    for suffix in ("", "-wal"):
        try:
            with open(str(path) + suffix, "rb") as f:
                data += f.read()
        except FileNotFoundError:
            pass
    return data


def outbox_mail(folder, to):
    """The texts of the .eml files in a file outbox addressed to `to`, oldest first."""
    found = []
    for path in sorted(Path(folder).glob("*.eml")) if Path(folder).is_dir() else []:
        message = email.message_from_bytes(path.read_bytes())
        if message["To"] == to:
            found.append(message.get_payload(decode=True).decode())
    return found


def invitation_link(folder, to):
    """The link in the newest invitation mailed to `to`."""
    return re.findall(r"https?://\S+/invitations/\S+", outbox_mail(folder, to)[-1])[-1]


def put_ballot(db, election_id, choice_ids, receipt=None):
    """A ballot straight into the box (and, given one, its receipt), as a cast stores them."""
    ballot_id = secrets.token_hex(16)
    db["ballots"].insert({"election_id": election_id, "ballot_id": ballot_id})
    db["ballot_selections"].insert_all({"election_id": election_id, "ballot_id": ballot_id, "choice_id": c}
                                       for c in choice_ids)
    if receipt:
        db["receipts"].insert({"election_id": election_id, "code": receipt})
    return ballot_id


def count_calls(monkeypatch, module, name):
    """Wrap module.name so every call is recorded (thread-safe); returns the list of calls."""
    calls, lock, real = [], threading.Lock(), getattr(module, name)

    def counting(*args):
        with lock:
            calls.append(args)
        return real(*args)

    monkeypatch.setattr(module, name, counting)
    return calls


def all_at_once_behind_a_write_lock(database, attempt, count):
    """Start count threads of attempt(n) while another connection holds the write lock, and
    release it once they have all started: they queue on the lock and arrive together."""
    locked, release, started = threading.Event(), threading.Event(), threading.Barrier(count + 1)

    def hold_lock():
        from eo_cc.db import connect, immediate

        holder = connect(database)
        with immediate(holder):
            locked.set()
            release.wait(10)
        holder.close()

    def run(n):
        started.wait()
        attempt(n)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    locked.wait(5)
    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    started.wait()
    release.set()
    for thread in [holder, *threads]:
        thread.join(30)


def wait_for_background_mail(timeout=10):
    """Wait for the mail a request started without waiting for it (a new ballot link)."""
    for thread in threading.enumerate():
        if thread.name == "new-ballot-link-mail":
            thread.join(timeout)
            assert not thread.is_alive(), "the new-link mail did not finish"
