"""Constant Contact mailings (issue 10): ballot links in a custom field, JSON imports, and the
roster <-> list check with its fixes."""


def m120_constant_contact_mailings(db):
    db.executescript("""
    ALTER TABLE elections ADD COLUMN has_cc_ballot_links INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE elections ADD COLUMN keeps_cc_ballot_link_field INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE cc_link_fields (             -- the custom field eo_cc made in CC for an election's links
        election_id INTEGER PRIMARY KEY REFERENCES elections(id) ON DELETE CASCADE,
        label TEXT NOT NULL,
        custom_field_id TEXT,                 -- NULL until CC's answer to the create has been seen
        name TEXT,                            -- imports address the field as cf:<name>
        create_attempts INTEGER NOT NULL DEFAULT 0,  -- a 409 after a lost answer is our own field
        created_at TEXT NOT NULL,
        deleted_at TEXT                       -- deleted from CC, and every link in it
    );
    CREATE TABLE cc_ballot_links (            -- whose link CC holds in that field, per contact email
        election_id INTEGER NOT NULL REFERENCES elections(id) ON DELETE CASCADE,
        email TEXT NOT NULL,
        voter_id INTEGER NOT NULL,            -- no foreign key: a voter taken off the roster
        link_version INTEGER NOT NULL,        --   leaves a link behind that must be cleared
        pushed_at TEXT NOT NULL,
        PRIMARY KEY (election_id, email)
    );
    CREATE TABLE cc_imports (                 -- JSON import activities, polled until CC finishes them
        activity_id TEXT PRIMARY KEY,
        election_id INTEGER NOT NULL REFERENCES elections(id) ON DELETE CASCADE,
        list_id TEXT NOT NULL,
        purpose TEXT NOT NULL CHECK (purpose IN ('links', 'add')),
        contact_count INTEGER NOT NULL,
        state TEXT NOT NULL,                  -- CC's: initialized, processing, completed, failed, ...
        cannot_add_count INTEGER,             -- unsubscribed contacts CC would not put on the list
        error TEXT,
        submitted_at TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE INDEX cc_imports_unfinished ON cc_imports(election_id, finished_at);
    CREATE TABLE cc_import_contacts (         -- what each import carried, settled when it finishes
        activity_id TEXT NOT NULL REFERENCES cc_imports(activity_id) ON DELETE CASCADE,
        email TEXT NOT NULL,
        voter_id INTEGER,                     -- NULL: a link cleared from an address no voter has now
        link_version INTEGER,                 -- the link it put into CC; NULL: none or cleared
        PRIMARY KEY (activity_id, email)
    );
    CREATE TABLE cc_list_checks (             -- the roster <-> list check: asked for, and its last result
        election_id INTEGER PRIMARY KEY REFERENCES elections(id) ON DELETE CASCADE,
        requested_at TEXT,                    -- done by the next run, then cleared
        list_id TEXT,                         -- the list the result is about
        checked_at TEXT,
        list_members INTEGER,
        on_list INTEGER,                      -- voters who have not voted, on the list and mailable
        requests INTEGER,
        error TEXT
    );
    CREATE TABLE cc_list_differences (        -- the check's findings, and what the admin had done about them
        election_id INTEGER NOT NULL REFERENCES elections(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('missing', 'stranger', 'unsubscribed')),
        email TEXT NOT NULL,                  -- as the roster or CC spells it
        name TEXT NOT NULL DEFAULT '',
        contact_id TEXT,                      -- strangers: what remove_list_memberships takes
        fix TEXT CHECK (fix IN ('requested', 'submitted', 'added', 'removed', 'mailed')),
        activity_id TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (election_id, kind, email)
    );
    CREATE TABLE cc_mailing_log (             -- what each run did for an election's mailings, and its cost
        id INTEGER PRIMARY KEY,
        election_id INTEGER NOT NULL REFERENCES elections(id) ON DELETE CASCADE,
        action TEXT NOT NULL,
        contacts INTEGER NOT NULL DEFAULT 0,
        requests INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        at TEXT NOT NULL
    );
    CREATE INDEX cc_mailing_log_election ON cc_mailing_log(election_id, id);
    """)


STEPS = [m120_constant_contact_mailings]
