"""Mail to voters: the announcement, reminders, ballot links and vote confirmations, and the
`send-mail` command that cron runs.

Flask-free apart from that command (cron sends most of this mail): links are built from
BASE_URL, texts come from templates/mail/.
"""
from collections import defaultdict

import click
from flask import current_app
from flask.cli import with_appcontext

from .. import clock
from ..crypto import Box, ballot_link_token
from ..db import connect, one, rows
from ..elections import voting_window
from ..mail import deliver, render, retry_queued
from .ballots import format_receipt


def election_url(config, election, base_url=None):
    return f"{(base_url or config['BASE_URL']).rstrip('/')}/vote/{election['slug']}"


def ballot_link_url(config, election, voter, base_url=None):
    """The voter's personal ballot link (endpoint voting.ballot_link)."""
    token = ballot_link_token(config["SECRET_KEY"], voter["id"], voter["link_version"])
    return f"{election_url(config, election, base_url)}/link/{voter['id']}/{token}"


def _context(config, election, voter, base_url=None):
    return {"election": election, "voter": voter,
            "closes": clock.format_local(election["closes_at"], empty=None),
            "election_url": election_url(config, election, base_url),
            "link": ballot_link_url(config, election, voter, base_url)}


def _claim(db, sql, params):
    """Run a conditional UPDATE; True when this caller won (so mail goes out once)."""
    return db.execute(sql, params).rowcount > 0


def send_announcement(db, config, election_id, now=None, base_url=None):
    """Mail every voter who has not voted their credentials and link, once; returns how many.

    Only while voting is open and the election sends its own announcement. The
    election is marked announced before sending, so a crash half-way can never
    announce twice; mail that fails is queued without the password. base_url
    (e.g. request.host_url) overrides BASE_URL in the links.
    """
    now = now or clock.now()
    election = one(db, "SELECT * FROM elections WHERE id = ?", [election_id])
    if not election or not election["has_announcement_email"] or election["announcement_sent_at"] \
            or not voting_window.is_open(election, now):
        return 0
    if not _claim(db, """UPDATE elections SET announcement_sent_at = ?
                         WHERE id = ? AND announcement_sent_at IS NULL""", [clock.iso(now), election_id]):
        return 0
    box = Box(config["SECRET_KEY"], "voter-passwords")
    voters = rows(db, "SELECT * FROM voters WHERE election_id = ? AND has_voted = 0 ORDER BY id",
                  [election_id])
    for voter in voters:
        context = _context(config, election, voter, base_url)
        deliver(db, config, voter["email"], f"Voting is open: {election['title']}",
                render("announcement.txt", password=box.open(voter["password_encrypted"]), **context),
                fallback_body=render("announcement.txt", password=None, **context))
    return len(voters)


def send_due_reminders(db, config, now=None):
    """Send due reminders of open elections that send their own; returns mails sent.

    Several overdue reminders of one election go out as one mail per voter.
    """
    now = now or clock.now()
    due = defaultdict(list)
    for reminder in rows(db, """SELECT r.id, r.election_id, r.send_at FROM reminders r
                                JOIN elections e ON e.id = r.election_id
                                WHERE r.sent_at IS NULL AND e.has_reminder_emails = 1"""):
        if clock.parse(reminder["send_at"]) <= now:
            due[reminder["election_id"]].append(reminder["id"])
    return sum(_send_reminder(db, config, election_id, ids, now) for election_id, ids in due.items())


def _send_reminder(db, config, election_id, reminder_ids, now):
    election = one(db, "SELECT * FROM elections WHERE id = ?", [election_id])
    if not voting_window.is_open(election, now):
        return 0
    marks = ",".join("?" * len(reminder_ids))
    if not _claim(db, f"UPDATE reminders SET sent_at = ? WHERE sent_at IS NULL AND id IN ({marks})",
                  [clock.iso(now), *reminder_ids]):
        return 0
    voters = rows(db, "SELECT * FROM voters WHERE election_id = ? AND has_voted = 0 ORDER BY id",
                  [election_id])
    for voter in voters:
        deliver(db, config, voter["email"], f"Reminder: please vote in {election['title']}",
                render("reminder.txt", **_context(config, election, voter)))
    return len(voters)


def send_ballot_link(db, config, election, voter, base_url=None):
    """Mail a voter their (new) personal ballot link and Voter ID."""
    deliver(db, config, voter["email"], f"Your ballot link for {election['title']}",
            render("ballot_link.txt", **_context(config, election, voter, base_url)))


def send_vote_confirmation(db, config, election, voter, receipt_code):
    """Confirm a cast ballot with its receipt code; call only after the ballot is committed.

    The receipt proves that a ballot was counted, not what it holds (no stored row leads
    from a receipt to a ballot), so a queued copy may carry it.
    """
    context = {"election": election, "voter": voter, "election_url": election_url(config, election)}
    return deliver(db, config, voter["email"], f"Your vote in {election['title']} was received",
                   render("confirmation.txt", receipt=format_receipt(receipt_code), **context))


def send_due(db, config, now=None):
    """Everything cron sends: announcements of open elections, due reminders, queued retries."""
    now = now or clock.now()
    unannounced = rows(db, """SELECT id FROM elections WHERE has_announcement_email = 1
                              AND announcement_sent_at IS NULL AND state != 'closed'""")
    return {
        "announcements": sum(send_announcement(db, config, e["id"], now) for e in unannounced),
        "reminders": send_due_reminders(db, config, now),
        "retried": retry_queued(db, config, now),
    }


@click.command("send-mail")
@with_appcontext
def send_mail_command():
    """Send due announcements, reminders and queued mail (run from cron every 5 minutes)."""
    db = connect(current_app.config["DATABASE"])
    try:
        counts = send_due(db, current_app.config)
    finally:
        db.close()
    click.echo(", ".join(f"{name}: {count}" for name, count in counts.items()))


def init_app(app):
    app.cli.add_command(send_mail_command)
