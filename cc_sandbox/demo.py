"""Demo data for `make demo`: an organisation with two members (an owner and an observer) and an
open election whose roster matches a sandbox list.

It takes eo_cc's database and secret key, so the demo script and its test share it.
Seeding is idempotent: run it again and nothing is added twice.
"""
from datetime import timedelta

from eo_cc import clock
from eo_cc.auth import create_admin
from eo_cc.crypto import Box, random_code
from eo_cc.db import one, rows
from eo_cc.elections.questions import save_choices
from eo_cc.organisations import members
from eo_cc.roster import voters as roster

from . import store as sandbox_store

ADMIN_EMAIL = "admin@eo-cc.test"
ADMIN_PASSWORD = "demo-admin-password"
ADMIN_NAME = "Demo Admin"
OBSERVER_EMAIL = "observer@eo-cc.test"
OBSERVER_PASSWORD = "demo-observer-password"
OBSERVER_NAME = "Demo Observer"
ORGANISATION_NAME = "Riverside Residents' Association"
ELECTION_TITLE = "Annual Meeting 2026"
VOTER_COUNT = 25
VOTING_DAYS = 7
QUESTIONS = [
    ("Who should chair the association for 2026?", ["Alice Chen", "Bob Okafor"], 1, True),
    ("Which projects should we fund next year?",
     ["Community garden", "Lending library", "Youth choir"], 2, False),
]


def sandbox_config(sandbox_url):
    """The CC_* settings that point eo_cc at a local sandbox, as the app the sandbox's demo registers."""
    return {
        "CC_CLIENT_ID": sandbox_store.DEMO_CLIENT_ID,
        "CC_CLIENT_SECRET": sandbox_store.DEMO_CLIENT_SECRET,
        "CC_AUTHORIZE_URL": f"{sandbox_url}/oauth2/default/v1/authorize",
        "CC_ACCESS_TOKEN_URL": f"{sandbox_url}/oauth2/default/v1/token",
        "CC_REVOKE_URL": f"{sandbox_url}/oauth2/default/v1/revoke",
        "CC_API_BASE_URL": f"{sandbox_url}/v3",
    }


def roster_csv_text(count=VOTER_COUNT):
    """The demo roster as CSV: voter1..N@example.org (the sandbox list's people); passwords generated."""
    lines = ["voter_id,name,email"]
    lines += [f"V{n:04d},Voter {n},voter{n}@example.org" for n in range(1, count + 1)]
    return "\n".join(lines) + "\n"


def seed(db, secret_key):
    """Create the demo organisation, its members and the open demo election unless they exist;
    return the election row.

    Each step checks its own result, so a run interrupted half-way is completed by the next.
    """
    organisation_id = seed_organisation(db)
    election = one(db, "SELECT * FROM elections WHERE organisation_id = ? AND title = ?",
                   [organisation_id, ELECTION_TITLE])
    if election is None:
        with db.atomic():
            election_id = insert_election(db, organisation_id)
            insert_questions(db, election_id)
    else:
        election_id = election["id"]
    if not one(db, "SELECT 1 AS x FROM voters WHERE election_id = ?", [election_id]):
        import_demo_roster(db, secret_key, election_id)
    open_voting(db, election_id)
    return one(db, "SELECT * FROM elections WHERE id = ?", [election_id])


def seed_organisation(db):
    """The demo admin's organisation, with the demo observer as its second member; its id."""
    admin = one(db, "SELECT id FROM admins WHERE email = ?", [ADMIN_EMAIL])
    if admin is None:
        create_admin(db, ADMIN_NAME, ADMIN_EMAIL, ADMIN_PASSWORD)
    owner = one(db, """SELECT m.organisation_id FROM memberships m JOIN admins a ON a.id = m.admin_id
                       WHERE a.email = ? AND m.role = ? ORDER BY m.joined_at LIMIT 1""",
                [ADMIN_EMAIL, members.OWNER])
    organisation_id = owner["organisation_id"]
    if admin is None:
        members.rename(db, organisation_id, ORGANISATION_NAME)
    observer = one(db, "SELECT id FROM admins WHERE email = ?", [OBSERVER_EMAIL])
    observer_id = observer["id"] if observer else create_admin(
        db, OBSERVER_NAME, OBSERVER_EMAIL, OBSERVER_PASSWORD, has_organisation=False)
    members.add_member(db, organisation_id, observer_id, members.OBSERVER)
    return organisation_id


def insert_election(db, organisation_id):
    """A draft election closing in a week, with eo_cc's own mail off (Constant Contact sends it)."""
    now = clock.now()
    return db["elections"].insert({
        "organisation_id": organisation_id, "slug": random_code(10).lower(), "title": ELECTION_TITLE,
        "description": "Elect the chair and choose next year's projects.",
        "state": "draft", "closes_at": clock.iso(now + timedelta(days=VOTING_DAYS)),
        "has_announcement_email": 0, "has_reminder_emails": 0,
        "created_at": clock.iso(now), "updated_at": clock.iso(now),
    }).last_pk


def insert_questions(db, election_id):
    for position, (prompt, labels, max_choices, has_abstain) in enumerate(QUESTIONS):
        question_id = db["questions"].insert({
            "election_id": election_id, "position": position, "prompt": prompt,
            "max_choices": max_choices}).last_pk
        save_choices(db, question_id, labels, has_abstain)


def import_demo_roster(db, secret_key, election_id):
    """Load the demo roster exactly as an admin's upload is loaded (before voting opens)."""
    parsed = roster.parse_roster(roster_csv_text().encode(),
                                     roster.existing_voters(db, election_id))
    return roster.import_roster(db, election_id, parsed, secret_key)


def open_voting(db, election_id):
    """Open a draft demo election now, for VOTING_DAYS days."""
    election = one(db, "SELECT * FROM elections WHERE id = ?", [election_id])
    if election["state"] != "draft":
        return
    now = clock.now()
    db["elections"].update(election_id, {
        "state": "open", "opens_at": clock.iso(now),
        "closes_at": clock.iso(now + timedelta(days=VOTING_DAYS)), "updated_at": clock.iso(now)})


def voter_logins(db, secret_key, election_id, count=2):
    """The first `count` voters' (Voter ID, password) pairs, for printing."""
    box = Box(secret_key, "voter-passwords")
    found = rows(db, "SELECT voter_code, password_encrypted FROM voters WHERE election_id = ? "
                     "ORDER BY voter_code LIMIT ?", [election_id, count])
    return [(row["voter_code"], box.open(row["password_encrypted"])) for row in found]
