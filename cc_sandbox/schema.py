"""The sandbox's own schema (a separate SQLite file, migration set "cc_sandbox").

Lists and contacts have an integer key for joins and paging plus the public
UUID that CC shows; memberships are a WITHOUT ROWID table keyed by
(list, contact) so a 100,000-member list pages by primary key.
"""
from sqlite_utils import Migrations

migrations = Migrations("cc_sandbox")


@migrations()
def m001_accounts_and_clients(db):
    db.executescript("""
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE accounts (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        organization_name TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE clients (
        client_id TEXT PRIMARY KEY,
        client_secret TEXT NOT NULL,
        name TEXT NOT NULL,
        redirect_uris TEXT NOT NULL DEFAULT '[]',   -- JSON array, beyond any loopback address
        created_at TEXT NOT NULL
    );
    """)


@migrations()
def m002_lists_and_contacts(db):
    db.executescript("""
    CREATE TABLE lists (
        id INTEGER PRIMARY KEY,
        list_id TEXT NOT NULL UNIQUE,
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        name TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        is_favorite INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'active',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX lists_account ON lists(account_id, id);
    CREATE TABLE contacts (
        id INTEGER PRIMARY KEY,
        contact_id TEXT NOT NULL UNIQUE,
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        email TEXT NOT NULL,
        first_name TEXT NOT NULL DEFAULT '',
        last_name TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'active',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX contacts_account_email ON contacts(account_id, email);
    CREATE TABLE memberships (
        list_ref INTEGER NOT NULL REFERENCES lists(id),
        contact_ref INTEGER NOT NULL REFERENCES contacts(id),
        PRIMARY KEY (list_ref, contact_ref)
    ) WITHOUT ROWID;
    CREATE INDEX memberships_contact ON memberships(contact_ref, list_ref);
    """)


@migrations()
def m003_grants_and_tokens(db):
    db.executescript("""
    CREATE TABLE auth_codes (
        code_hash TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        account_id INTEGER NOT NULL,
        redirect_uri TEXT NOT NULL,
        scope TEXT NOT NULL,
        code_challenge TEXT,
        expires_at REAL NOT NULL,             -- epoch seconds
        is_used INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE grants (                     -- one per accepted authorization
        id INTEGER PRIMARY KEY,
        client_id TEXT NOT NULL,
        account_id INTEGER NOT NULL,
        scope TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE access_tokens (
        token_hash TEXT PRIMARY KEY,
        grant_id INTEGER NOT NULL REFERENCES grants(id),
        expires_at REAL NOT NULL,
        is_revoked INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE refresh_tokens (
        token_hash TEXT PRIMARY KEY,
        grant_id INTEGER NOT NULL REFERENCES grants(id),
        is_active INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL
    );
    CREATE INDEX refresh_tokens_grant ON refresh_tokens(grant_id);
    """)


@migrations()
def m004_activities_and_forbidden_calls(db):
    db.executescript("""
    CREATE TABLE activities (
        activity_id TEXT PRIMARY KEY,
        account_id INTEGER NOT NULL,
        contact_ids TEXT NOT NULL,            -- JSON array
        list_ids TEXT NOT NULL,               -- JSON array
        outcome TEXT NOT NULL CHECK (outcome IN ('completed', 'failed', 'timed_out')),
        state TEXT NOT NULL DEFAULT 'initialized',
        errors TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL,
        due_at REAL NOT NULL,                 -- epoch seconds when it finishes
        completed_at TEXT
    );
    CREATE INDEX activities_pending ON activities(state, due_at);
    CREATE TABLE forbidden_calls (
        id INTEGER PRIMARY KEY,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        query TEXT NOT NULL DEFAULT '',
        client_id TEXT,
        at TEXT NOT NULL
    );
    """)


@migrations()
def m005_account_details_custom_fields_and_imports(db):
    """CC's account summary, deleted lists, custom fields with their values, JSON imports, spent tokens."""
    db.executescript("""
    ALTER TABLE accounts ADD COLUMN encoded_account_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE accounts ADD COLUMN contact_email TEXT NOT NULL DEFAULT '';
    ALTER TABLE accounts ADD COLUMN first_name TEXT NOT NULL DEFAULT '';
    ALTER TABLE accounts ADD COLUMN last_name TEXT NOT NULL DEFAULT '';
    UPDATE accounts SET contact_email = email,
        encoded_account_id = lower(hex(randomblob(7)));
    ALTER TABLE lists ADD COLUMN deleted_at TEXT;
    CREATE TABLE custom_fields (
        id INTEGER PRIMARY KEY,
        custom_field_id TEXT NOT NULL UNIQUE,
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        label TEXT NOT NULL,
        name TEXT NOT NULL,
        type TEXT NOT NULL DEFAULT 'string',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX custom_fields_account_name ON custom_fields(account_id, name COLLATE NOCASE);
    CREATE TABLE custom_field_values (
        contact_ref INTEGER NOT NULL REFERENCES contacts(id),
        field_ref INTEGER NOT NULL REFERENCES custom_fields(id),
        value TEXT NOT NULL,
        PRIMARY KEY (contact_ref, field_ref)
    ) WITHOUT ROWID;
    CREATE INDEX custom_field_values_field ON custom_field_values(field_ref);
    ALTER TABLE activities ADD COLUMN kind TEXT NOT NULL DEFAULT 'remove_list_memberships';
    ALTER TABLE activities ADD COLUMN import_data TEXT;   -- JSON array: the contacts a JSON import brings
    ALTER TABLE activities ADD COLUMN counts TEXT;        -- JSON object: an import's status counts
    ALTER TABLE refresh_tokens ADD COLUMN spent_at TEXT;  -- set when a refresh rotated it away
    """)
