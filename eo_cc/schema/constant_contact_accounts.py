"""Which Constant Contact account a connection is, lists chosen in another account, and list scans
that resume where they stopped."""


def m140_cc_list_scans(db):
    db.executescript("""
    CREATE TABLE cc_list_scans (              -- how far paging a list's members got, written in the
        list_id TEXT PRIMARY KEY,             --   transaction that caches each page's contact ids
        next_cursor TEXT,                     -- the next page's link; NULL: start at page 1
        pages_done INTEGER NOT NULL DEFAULT 0,
        started_at TEXT NOT NULL,             -- resumed only while younger than the cache's age limit
        updated_at TEXT NOT NULL,
        is_complete INTEGER NOT NULL DEFAULT 0,
        completed_at TEXT
    );
    """)


def m140_cc_connection_accounts(db):
    db.executescript("""
    ALTER TABLE cc_connections ADD COLUMN account_id TEXT;     -- CC's encoded_account_id
    ALTER TABLE cc_connections ADD COLUMN account_email TEXT;  -- account_name holds its organisation
    ALTER TABLE cc_connections ADD COLUMN account_checked_at TEXT;
    ALTER TABLE elections ADD COLUMN cc_list_account_id TEXT;  -- the account the chosen list is in
    ALTER TABLE elections ADD COLUMN cc_list_account_name TEXT;
    ALTER TABLE elections ADD COLUMN cc_list_problem TEXT      -- no removal is sent while set
        CHECK (cc_list_problem IN ('wrong_account', 'deleted'));
    ALTER TABLE elections ADD COLUMN cc_list_problem_at TEXT;
    """)


STEPS = [m140_cc_list_scans, m140_cc_connection_accounts]
