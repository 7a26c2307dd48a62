"""Organisations own elections and the Constant Contact connection (issue 11)."""
from ..db import rebuild_table, statements

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
            for statement in statements(ORGANISATION_TABLES):
                db.execute(statement)
            db.execute("""INSERT INTO organisations (id, name, created_at)
                          SELECT id, COALESCE(NULLIF(TRIM(name), ''), email) || '''s organisation',
                                 created_at FROM admins""")
            db.execute("""INSERT INTO memberships (organisation_id, admin_id, role, joined_at)
                          SELECT id, id, 'owner', created_at FROM admins""")
            # Each admin's new organisation has the admin's id, so the ids carry over as they are.
            for table, (old_column, new_column) in REKEYED.items():
                rebuild_table(db, table, {old_column: new_column, "-- one per admin": "-- one per organisation"},
                              {"admin_id": "organisation_id"}, dropped_indexes={"elections_admin"})
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


m110_organisations.transactional = False
STEPS = [m110_organisations]
