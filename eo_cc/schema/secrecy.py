"""Ballot secrecy against a copy of the disk: receipts apart from ballots, live results in steps,
and sign-ups that wait for their mail link."""
import secrets


def m070_receipts_apart_from_ballots(db):
    """A receipt proves "counted", never "what": receipts and ballots become two unordered sets.

    Each ballot gets a new random key that no receipt leads to; both sets are written in
    key order, so the old pairing and the cast order are gone from the new pages.
    """
    old_ballots = [tuple(row) for row in db.execute("SELECT receipt_code, election_id FROM ballots")]
    old_selections = [tuple(row) for row in db.execute(
        "SELECT s.receipt_code, b.election_id, s.choice_id FROM ballot_selections s "
        "JOIN ballots b ON b.receipt_code = s.receipt_code")]
    db.executescript("""
    DROP TABLE ballot_selections;
    DROP TABLE ballots;
    CREATE TABLE receipts (
        election_id INTEGER NOT NULL REFERENCES elections(id) ON DELETE CASCADE,
        code TEXT NOT NULL,                   -- random, shown once and mailed; leads to no ballot
        PRIMARY KEY (election_id, code)
    ) WITHOUT ROWID;
    CREATE TABLE ballots (
        election_id INTEGER NOT NULL REFERENCES elections(id) ON DELETE CASCADE,
        ballot_id TEXT NOT NULL,              -- random, known to nothing outside the ballot box
        PRIMARY KEY (election_id, ballot_id)
    ) WITHOUT ROWID;
    CREATE TABLE ballot_selections (          -- no secondary index: each one would keep an order too
        election_id INTEGER NOT NULL,
        ballot_id TEXT NOT NULL,
        choice_id INTEGER NOT NULL REFERENCES choices(id) ON DELETE CASCADE,
        PRIMARY KEY (election_id, ballot_id, choice_id),
        FOREIGN KEY (election_id, ballot_id) REFERENCES ballots(election_id, ballot_id) ON DELETE CASCADE
    ) WITHOUT ROWID;
    CREATE TABLE ballot_box (                 -- how many ballots came since the box was last mixed
        id INTEGER PRIMARY KEY CHECK (id = 1),
        unmixed INTEGER NOT NULL DEFAULT 0,
        mixed_at TEXT
    );
    INSERT INTO ballot_box (id, unmixed) VALUES (1, 0);
    """)
    new_ids = {receipt: secrets.token_hex(16) for receipt, _ in old_ballots}
    db.conn.executemany("INSERT INTO receipts (election_id, code) VALUES (?, ?)",
                        sorted((election_id, receipt) for receipt, election_id in old_ballots))
    db.conn.executemany("INSERT INTO ballots (election_id, ballot_id) VALUES (?, ?)",
                        sorted((election_id, new_ids[receipt]) for receipt, election_id in old_ballots))
    db.conn.executemany(
        "INSERT INTO ballot_selections (election_id, ballot_id, choice_id) VALUES (?, ?, ?)",
        sorted((election_id, new_ids[receipt], choice_id)
               for receipt, election_id, choice_id in old_selections))


def m071_live_results_in_steps(db):
    db.executescript("""
    ALTER TABLE elections ADD COLUMN results_step INTEGER NOT NULL DEFAULT 10 CHECK (results_step >= 5);
    CREATE TABLE result_snapshots (           -- live results: taken every k ballots, shown k later
        election_id INTEGER NOT NULL REFERENCES elections(id) ON DELETE CASCADE,
        ballots INTEGER NOT NULL,             -- the ballots in the box when it was taken
        votes TEXT NOT NULL,                  -- JSON {choice id: votes}
        taken_at TEXT NOT NULL,
        PRIMARY KEY (election_id, ballots)
    );
    """)


def m072_signups(db):
    db.executescript("""
    CREATE TABLE signups (                    -- a sign-up waits here until its email link is opened
        token_hash TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        email TEXT NOT NULL COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        timezone TEXT NOT NULL DEFAULT 'UTC',
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    """)


STEPS = [m070_receipts_apart_from_ballots, m071_live_results_in_steps, m072_signups]
