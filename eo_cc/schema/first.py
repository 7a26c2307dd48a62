"""The first schema: admins, elections, the roster and ballot box, mail, the Constant Contact sync."""


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


def m060_sync_list_sizes_and_dry_runs(db):
    db.executescript("""
    CREATE TABLE cc_list_sizes (              -- membership counts, to choose the cheaper look-up
        list_id TEXT PRIMARY KEY,
        membership_count INTEGER,
        fetched_at TEXT NOT NULL
    );
    ALTER TABLE sync_runs ADD COLUMN is_dry_run INTEGER NOT NULL DEFAULT 0;
    """)


STEPS = [m001_admins, m002_elections, m003_voters_and_ballots, m004_mail, m005_constant_contact,
         m060_sync_list_sizes_and_dry_runs]
