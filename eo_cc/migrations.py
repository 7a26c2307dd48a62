"""The schema, grown one named migration at a time. Never edit a released one.

Ballot secrecy lives here: `ballots` and `ballot_selections` have random keys,
no timestamps, no rowid (so no insertion order) and no column that leads to
`voters`; `voters` has nothing that leads to a ballot.
"""
from sqlite_utils import Migrations

migrations = Migrations("eo_cc")


@migrations()
def m001_admins(db):
    db.executescript("""
    CREATE TABLE admins (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        session_token TEXT NOT NULL UNIQUE,   -- Flask-Login alternative id, rotated on logout
        timezone TEXT NOT NULL DEFAULT 'UTC',
        created_at TEXT NOT NULL
    );
    CREATE TABLE throttles (                  -- failed sign-ins, per admin email or voter id + IP
        key TEXT PRIMARY KEY,
        failures INTEGER NOT NULL DEFAULT 0,
        first_failure_at TEXT NOT NULL,
        locked_until TEXT
    );
    """)


@migrations()
def m002_elections(db):
    db.executescript("""
    CREATE TABLE elections (
        id INTEGER PRIMARY KEY,
        admin_id INTEGER NOT NULL REFERENCES admins(id),
        slug TEXT NOT NULL UNIQUE,            -- random, for the voters' public URLs
        title TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        opens_at TEXT,                        -- UTC ISO-8601
        closes_at TEXT,
        state TEXT NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'open', 'closed')),
        has_announcement_email INTEGER NOT NULL DEFAULT 1,
        has_reminder_emails INTEGER NOT NULL DEFAULT 1,
        has_live_results INTEGER NOT NULL DEFAULT 0,
        announcement_sent_at TEXT,
        cc_list_id TEXT,
        cc_list_name TEXT,
        cc_list_chosen_at TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX elections_admin ON elections(admin_id);
    CREATE TABLE questions (
        id INTEGER PRIMARY KEY,
        election_id INTEGER NOT NULL REFERENCES elections(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        prompt TEXT NOT NULL,
        max_choices INTEGER NOT NULL DEFAULT 1 CHECK (max_choices >= 1)
    );
    CREATE INDEX questions_election ON questions(election_id, position);
    CREATE TABLE choices (
        id INTEGER PRIMARY KEY,
        question_id INTEGER NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        label TEXT NOT NULL,
        is_abstain INTEGER NOT NULL DEFAULT 0  -- an explicit "Abstain" choice
    );
    CREATE INDEX choices_question ON choices(question_id, position);
    CREATE TABLE reminders (
        id INTEGER PRIMARY KEY,
        election_id INTEGER NOT NULL REFERENCES elections(id) ON DELETE CASCADE,
        send_at TEXT NOT NULL,
        sent_at TEXT
    );
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        election_id INTEGER REFERENCES elections(id) ON DELETE CASCADE,
        admin_id INTEGER REFERENCES admins(id),
        action TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL
    );
    CREATE INDEX audit_log_election ON audit_log(election_id, id);
    """)


@migrations()
def m003_voters_and_ballots(db):
    db.executescript("""
    CREATE TABLE voters (
        id INTEGER PRIMARY KEY,
        election_id INTEGER NOT NULL REFERENCES elections(id) ON DELETE CASCADE,
        voter_code TEXT NOT NULL,             -- the "Voter ID" a voter types
        name TEXT NOT NULL DEFAULT '',
        email TEXT NOT NULL,                  -- trimmed, lower-cased
        password_encrypted TEXT NOT NULL,     -- Fernet, so credentials can be re-downloaded
        link_version INTEGER NOT NULL DEFAULT 1,  -- bumped to invalidate a personal ballot link
        has_voted INTEGER NOT NULL DEFAULT 0,
        voted_at TEXT,                        -- for turnout; ballots carry no time at all
        created_at TEXT NOT NULL,
        UNIQUE (election_id, voter_code),
        UNIQUE (election_id, email)
    );
    CREATE INDEX voters_voted ON voters(election_id, has_voted);
    CREATE TABLE ballots (
        receipt_code TEXT PRIMARY KEY,        -- random: no order, no time
        election_id INTEGER NOT NULL REFERENCES elections(id) ON DELETE CASCADE
    ) WITHOUT ROWID;
    CREATE TABLE ballot_selections (
        receipt_code TEXT NOT NULL REFERENCES ballots(receipt_code) ON DELETE CASCADE,
        choice_id INTEGER NOT NULL REFERENCES choices(id) ON DELETE CASCADE,
        PRIMARY KEY (receipt_code, choice_id)
    ) WITHOUT ROWID;
    CREATE INDEX ballot_selections_choice ON ballot_selections(choice_id);
    CREATE INDEX ballots_election ON ballots(election_id);
    """)


@migrations()
def m004_mail(db):
    db.executescript("""
    CREATE TABLE mail_queue (                 -- mail that could not be sent yet; retried later
        id INTEGER PRIMARY KEY,
        to_address TEXT NOT NULL,
        subject TEXT NOT NULL,
        body TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        next_attempt_at TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    """)


@migrations()
def m005_constant_contact(db):
    db.executescript("""
    CREATE TABLE cc_connections (             -- one per admin: CC rotates refresh tokens
        id INTEGER PRIMARY KEY,
        admin_id INTEGER NOT NULL UNIQUE REFERENCES admins(id) ON DELETE CASCADE,
        access_token_encrypted TEXT NOT NULL,
        refresh_token_encrypted TEXT,
        expires_at INTEGER,                   -- epoch seconds, as Authlib keeps it
        scope TEXT,
        account_name TEXT,
        needs_grant INTEGER NOT NULL DEFAULT 0,  -- refresh refused: "Grant access again"
        last_error TEXT,
        connected_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE cc_removals (                -- the outbox written in the ballot's transaction
        id INTEGER PRIMARY KEY,
        election_id INTEGER NOT NULL REFERENCES elections(id) ON DELETE CASCADE,
        email TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'queued'
            CHECK (state IN ('queued', 'submitted', 'done', 'not_in_list', 'failed')),
        list_id TEXT,                         -- the list it was removed from / submitted to
        contact_id TEXT,
        activity_id TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        queued_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (election_id, email)
    );
    CREATE INDEX cc_removals_state ON cc_removals(election_id, state);
    CREATE TABLE cc_activities (
        activity_id TEXT PRIMARY KEY,
        election_id INTEGER NOT NULL REFERENCES elections(id) ON DELETE CASCADE,
        list_id TEXT NOT NULL,
        contact_count INTEGER NOT NULL,
        state TEXT NOT NULL,
        submitted_at TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE TABLE cc_contacts (                -- what sync learned: email -> contact id, per list
        list_id TEXT NOT NULL,
        email TEXT NOT NULL,
        contact_id TEXT,                      -- NULL: looked up, not on the list
        fetched_at TEXT NOT NULL,
        PRIMARY KEY (list_id, email)
    );
    CREATE TABLE cc_request_counts (          -- our share of CC's per-day budget, per UTC day
        day TEXT PRIMARY KEY,
        requests INTEGER NOT NULL DEFAULT 0,
        quota_exceeded_at TEXT
    );
    CREATE TABLE sync_runs (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        exit_code INTEGER,
        requests INTEGER NOT NULL DEFAULT 0,
        message TEXT
    );
    CREATE TABLE sync_run_elections (
        run_id INTEGER NOT NULL REFERENCES sync_runs(id) ON DELETE CASCADE,
        election_id INTEGER NOT NULL REFERENCES elections(id) ON DELETE CASCADE,
        removed INTEGER NOT NULL DEFAULT 0,
        not_in_list INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        requests INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        PRIMARY KEY (run_id, election_id)
    );
    """)


@migrations()
def m060_sync_list_sizes_and_dry_runs(db):
    db.executescript("""
    CREATE TABLE cc_list_sizes (              -- membership counts, to choose the cheaper look-up
        list_id TEXT PRIMARY KEY,
        membership_count INTEGER,
        fetched_at TEXT NOT NULL
    );
    ALTER TABLE sync_runs ADD COLUMN is_dry_run INTEGER NOT NULL DEFAULT 0;
    """)


# --- organisations (issue 11) ----------------------------------------------------------

ORGANISATION_TABLES = """
CREATE TABLE organisations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE memberships (                -- who works in which organisation, with one role each
    organisation_id INTEGER NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    admin_id INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'observer')),
    joined_at TEXT NOT NULL,
    PRIMARY KEY (organisation_id, admin_id)
);
CREATE INDEX memberships_admin ON memberships(admin_id);
CREATE TABLE invitations (
    id INTEGER PRIMARY KEY,
    organisation_id INTEGER NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    email TEXT NOT NULL COLLATE NOCASE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'observer')),
    token_hash TEXT NOT NULL UNIQUE,      -- SHA-256 of the mailed token, never the token itself
    invited_by_admin_id INTEGER REFERENCES admins(id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    accepted_at TEXT,
    accepted_by_admin_id INTEGER REFERENCES admins(id),
    revoked_at TEXT
);
CREATE INDEX invitations_organisation ON invitations(organisation_id, email);
"""

# The owner column of each table that an organisation now owns: (old definition, new one).
REKEYED = {
    "elections": ("admin_id INTEGER NOT NULL REFERENCES admins(id)",
                  "organisation_id INTEGER NOT NULL REFERENCES organisations(id)"),
    "cc_connections": ("admin_id INTEGER NOT NULL UNIQUE REFERENCES admins(id) ON DELETE CASCADE",
                       "organisation_id INTEGER NOT NULL UNIQUE REFERENCES organisations(id) "
                       "ON DELETE CASCADE"),
}


def _statements(script):
    """One statement at a time: executescript() would commit the open transaction first."""
    return [statement for statement in script.split(";") if statement.strip()]


def _rekey_table(db, table, old_column, new_column):
    """Rebuild `table` with its admin_id column replaced by organisation_id, keeping every row.

    SQLite cannot change a column's foreign key in place: the documented way is a new
    table, a copy, a drop and a rename, with foreign keys off so the drop cascades nowhere.
    The rest of the table's definition, indexes and triggers are copied as they are, so
    columns that later migrations add are kept too.
    """
    sql = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                     [table]).fetchone()[0]
    if old_column not in sql:
        raise RuntimeError(f"{table} has no column {old_column!r} to re-key")
    new_sql = sql.replace(f"CREATE TABLE {table} (", f"CREATE TABLE {table}_rekeyed (", 1)
    new_sql = new_sql.replace(old_column, new_column, 1).replace("-- one per admin", "-- one per organisation")
    extras = [row[0] for row in db.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') "
        "AND sql IS NOT NULL AND name != 'elections_admin'", [table]).fetchall()]
    columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})").fetchall()]
    targets = ", ".join("organisation_id" if name == "admin_id" else name for name in columns)
    db.execute(new_sql)
    # Each admin's new organisation has the admin's id (see m110_organisations).
    db.execute(f"INSERT INTO {table}_rekeyed ({targets}) SELECT {', '.join(columns)} FROM {table}")
    db.execute(f"DROP TABLE {table}")
    db.execute(f"ALTER TABLE {table}_rekeyed RENAME TO {table}")
    for statement in extras:
        db.execute(statement)


@migrations(transactional=False)
def m110_organisations(db):
    """Organisations own elections and the CC connection; each admin owns one, holding their data.

    Not in sqlite-utils' transaction: foreign keys must be off (outside any transaction)
    while elections is rebuilt, or dropping the old table would cascade to every voter,
    question and ballot. The work itself is one transaction of its own.
    """
    if "organisations" in db.table_names():  # committed, but the run died before recording it
        return
    db.execute("PRAGMA foreign_keys = OFF")
    if db.execute("PRAGMA foreign_keys").fetchone()[0]:
        raise RuntimeError("foreign keys could not be turned off: a transaction is open")
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(ORGANISATION_TABLES):
                db.execute(statement)
            db.execute("""INSERT INTO organisations (id, name, created_at)
                          SELECT id, COALESCE(NULLIF(TRIM(name), ''), email) || '''s organisation',
                                 created_at FROM admins""")
            db.execute("""INSERT INTO memberships (organisation_id, admin_id, role, joined_at)
                          SELECT id, id, 'owner', created_at FROM admins""")
            for table, (old_column, new_column) in REKEYED.items():
                _rekey_table(db, table, old_column, new_column)
            db.execute("CREATE INDEX elections_organisation ON elections(organisation_id)")
            db.execute("ALTER TABLE audit_log ADD COLUMN organisation_id INTEGER "
                       "REFERENCES organisations(id)")
            db.execute("""UPDATE audit_log SET organisation_id = COALESCE(
                              (SELECT organisation_id FROM elections WHERE id = audit_log.election_id),
                              audit_log.admin_id)""")
            db.execute("CREATE INDEX audit_log_organisation ON audit_log(organisation_id, id)")
            broken = db.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"foreign keys broken by the migration: {broken[:5]}")
        except BaseException:
            db.conn.rollback()
            raise
        db.execute("COMMIT")
    finally:
        db.execute("PRAGMA foreign_keys = ON")
