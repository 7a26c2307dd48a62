import os
from datetime import timedelta
from pathlib import Path

import pytest

from eo_cc import clock, mail
from eo_cc.crypto import random_code
from eo_cc.db import one, rows
from eo_cc.voting import notices
from eo_cc.voting.ballots import format_receipt

from ..factories import make_admin, make_election, make_voters


@pytest.fixture
def config(app):
    return app.config


def sent(config):
    """{recipient: [mail text]} from the file outbox."""
    folder = os.path.join(os.path.dirname(config["DATABASE"]), "outbox")
    mails = {}
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        text = Path(folder, name).read_text()
        to = next(line[4:] for line in text.splitlines() if line.startswith("To: "))
        mails.setdefault(to, []).append(text)
    return mails


def new_election(db, **columns):
    admin_id = make_admin(db, email=f"{random_code(6).lower()}@example.org")
    election_id = make_election(db, admin_id, **columns)
    voter_ids = make_voters(db, election_id, count=3)
    db.execute("UPDATE voters SET has_voted = 1 WHERE id = ?", [voter_ids[2]])
    return election_id


def test_announcement_mails_each_non_voter_credentials_and_link(config, db):
    election_id = new_election(db)
    assert notices.send_announcement(db, config, election_id) == 2
    mails = sent(config)
    assert set(mails) == {"voter1@example.org", "voter2@example.org"}
    text = mails["voter1@example.org"][0]
    voter = one(db, "SELECT * FROM voters WHERE voter_code = 'V0001'")
    election = one(db, "SELECT * FROM elections WHERE id = ?", [election_id])
    assert "Voter ID: V0001" in text and "Password: pw-1" in text
    assert notices.ballot_link_url(config, election, voter) in text
    assert text.count(config["BASE_URL"]) >= 2


def test_announcement_links_can_use_the_site_address_of_the_request(config, db):
    notices.send_announcement(db, config, new_election(db), base_url="https://vote.example.org/")
    assert "https://vote.example.org/vote/" in sent(config)["voter1@example.org"][0]


def test_announcement_is_sent_once(config, db):
    election_id = new_election(db)
    notices.send_announcement(db, config, election_id)
    assert notices.send_announcement(db, config, election_id) == 0
    assert one(db, "SELECT announcement_sent_at FROM elections")["announcement_sent_at"]
    assert len(sent(config)["voter1@example.org"]) == 1


@pytest.mark.parametrize("columns", [
    {"has_announcement_email": 0},
    {"state": "draft", "opens_in_hours": 3},
    {"state": "closed"},
])
def test_announcement_respects_checkbox_and_window(config, db, columns):
    election_id = new_election(db, **columns)
    assert notices.send_announcement(db, config, election_id) == 0
    assert sent(config) == {}


def test_queued_announcement_leaves_out_the_password(config, db):
    config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=1)
    notices.send_announcement(db, config, new_election(db))
    bodies = [mail.open_body(config, r["body"]) for r in rows(db, "SELECT body FROM mail_queue")]
    assert len(bodies) == 2
    assert all("pw-" not in body and "/link/" in body for body in bodies)


def add_reminder(db, election_id, due_in_hours=-1):
    db["reminders"].insert({"election_id": election_id,
                            "send_at": clock.iso(clock.now() + timedelta(hours=due_in_hours))})


def test_due_reminder_reaches_only_non_voters_once(config, db):
    election_id = new_election(db)
    add_reminder(db, election_id)
    add_reminder(db, election_id, due_in_hours=-2)  # two overdue: still one mail each
    add_reminder(db, election_id, due_in_hours=5)   # not due yet
    assert notices.send_due_reminders(db, config) == 2
    mails = sent(config)
    assert set(mails) == {"voter1@example.org", "voter2@example.org"}
    assert all(len(texts) == 1 and "You have not voted yet" in texts[0] for texts in mails.values())
    assert "Password" not in mails["voter1@example.org"][0]
    assert notices.send_due_reminders(db, config) == 0
    assert one(db, "SELECT count(*) AS n FROM reminders WHERE sent_at IS NULL")["n"] == 1


@pytest.mark.parametrize("columns", [
    {"has_reminder_emails": 0},
    {"state": "closed"},
    {"state": "draft", "opens_in_hours": 3},
])
def test_reminders_respect_checkbox_and_window(config, db, columns):
    election_id = new_election(db, **columns)
    add_reminder(db, election_id)
    assert notices.send_due_reminders(db, config) == 0
    assert sent(config) == {}


def test_send_due_announces_elections_opened_by_their_window(config, db):
    opened = new_election(db, state="draft", opens_in_hours=-1)
    later = new_election(db, state="draft", opens_in_hours=2)
    db["mail_queue"].insert({"to_address": "x@example.org", "subject": "s",
                             "body": mail.seal_body(config, "b"),
                             "next_attempt_at": clock.iso(), "created_at": clock.iso()})
    add_reminder(db, opened)
    counts = notices.send_due(db, config)
    assert counts == {"announcements": 2, "reminders": 2, "retried": 1}
    assert one(db, "SELECT announcement_sent_at FROM elections WHERE id = ?", [later]) == {
        "announcement_sent_at": None}


def test_confirmation_carries_the_receipt_also_when_queued(config, db):
    """A receipt proves "counted" only, so the queued (encrypted) copy may keep it."""
    election_id = new_election(db)
    election = one(db, "SELECT * FROM elections WHERE id = ?", [election_id])
    voter = one(db, "SELECT * FROM voters WHERE voter_code = 'V0001'")
    assert notices.send_vote_confirmation(db, config, election, voter, "ABCDEFGHJKMN") is True
    assert format_receipt("ABCDEFGHJKMN") in sent(config)["voter1@example.org"][0]
    config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=1)
    assert notices.send_vote_confirmation(db, config, election, voter, "ABCDEFGHJKMN") is False
    sealed = one(db, "SELECT body FROM mail_queue")["body"]
    assert "ABCD" not in sealed
    body = mail.open_body(config, sealed)
    assert "was received" in body and format_receipt("ABCDEFGHJKMN") in body


def test_ballot_link_mail_uses_the_given_site_address(config, db):
    election_id = new_election(db)
    election = one(db, "SELECT * FROM elections WHERE id = ?", [election_id])
    voter = one(db, "SELECT * FROM voters WHERE voter_code = 'V0002'")
    notices.send_ballot_link(db, config, election, voter, base_url="https://vote.example.org/")
    text = sent(config)["voter2@example.org"][0]
    assert f"https://vote.example.org/vote/{election['slug']}/link/{voter['id']}/" in text
