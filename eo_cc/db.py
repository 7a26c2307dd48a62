"""The one database helper: sqlite-utils over SQLite in WAL mode.

`connect()` has no Flask in it so the cron job and the sandbox use it too;
`get_db()` lends each request its thread's connection (kept open between requests).
"""
import contextlib
import os
import sqlite3
import threading

import sqlite_utils
from flask import current_app, g

BUSY_TIMEOUT_MS = 10_000


class Database(sqlite_utils.Database):
    """sqlite-utils' Database whose atomic() takes the write lock up front.

    A deferred BEGIN that reads before it writes (sqlite-utils' update() and delete()
    read the row first) fails at once with "database is locked" when another connection
    holds or has just committed a write: WAL will not upgrade a stale snapshot. BEGIN
    IMMEDIATE queues on the busy timeout instead.
    """

    @contextlib.contextmanager
    def atomic(self):
        if self.conn.in_transaction:  # nested: sqlite-utils' savepoint
            with super().atomic():
                yield self
        else:
            with immediate(self):
                yield self


FILE_MODE = 0o600


def connect(path):
    """Open the database at path with WAL, foreign keys and a busy timeout.

    A new database file is created private (mode 600); SQLite gives its -wal and -shm the
    same mode. Deleted rows are overwritten (secure_delete), the WAL is cut back to nothing
    after each checkpoint and temporary sorts stay in memory, so old ballots and their
    order linger nowhere on disk once the ballot box is mixed.
    """
    path = str(path)
    if path != ":memory:" and not os.path.exists(path):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    db = Database(conn)
    for pragma in (f"busy_timeout = {BUSY_TIMEOUT_MS}", "foreign_keys = ON", "secure_delete = ON",
                   "journal_size_limit = 0", "temp_store = MEMORY"):
        db.execute(f"PRAGMA {pragma}")
    if db.conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        db.conn.execute("PRAGMA journal_mode = WAL")
    return db


@contextlib.contextmanager
def immediate(db):
    """A transaction that takes the write lock up front (BEGIN IMMEDIATE).

    Concurrent writers then queue on the busy timeout instead of failing
    with "database is locked" when they upgrade a read lock later.
    """
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.conn.rollback()
        raise
    db.conn.execute("COMMIT")


def instance_file(config, name):
    """A file beside the database: the instance folder that the site and cron share."""
    return os.path.join(os.path.dirname(os.path.abspath(config["DATABASE"])), name)


def rows(db, sql, params=()):
    """Run a query and return its rows as a list of dicts."""
    return list(db.query(sql, params))


def one(db, sql, params=()):
    """Run a query and return its first row as a dict, or None."""
    return next(iter(db.query(sql, params)), None)


def statements(script):
    """A script's statements one at a time: executescript() would commit an open transaction."""
    return [statement for statement in script.split(";") if statement.strip()]


def rebuild_table(db, table, replace, renamed_columns, dropped_indexes=()):
    """Rebuild `table` with parts of its definition replaced, keeping every row (in the caller's
    transaction, with foreign keys off: SQLite cannot change a column's constraints in place).

    replace: {old text: new text} in the stored CREATE TABLE; renamed_columns: {old: new}.
    The rest of the definition, its indexes (but dropped_indexes) and triggers are kept, so
    columns added by earlier migrations survive.
    """
    sql = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]).fetchone()[0]
    new_sql = sql.replace(f"CREATE TABLE {table} (", f"CREATE TABLE {table}_rebuilt (", 1)
    for old, new in replace.items():
        if old not in new_sql and not old.startswith("--"):
            raise RuntimeError(f"{table} has no {old!r} to replace")
        new_sql = new_sql.replace(old, new, 1)
    extras = [row[1] for row in db.execute(
        "SELECT name, sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') "
        "AND sql IS NOT NULL", [table]).fetchall() if row[0] not in dropped_indexes]
    columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})").fetchall()]
    targets = ", ".join(renamed_columns.get(name, name) for name in columns)
    db.execute(new_sql)
    db.execute(f"INSERT INTO {table}_rebuilt ({targets}) SELECT {', '.join(columns)} FROM {table}")
    db.execute(f"DROP TABLE {table}")
    db.execute(f"ALTER TABLE {table}_rebuilt RENAME TO {table}")
    for statement in extras:
        db.execute(statement)


# One open connection per thread: a new one costs ~1 ms (PRAGMAs, sqlite-utils' plugin
# hooks, and the schema read again on its first query), more than most voter pages.
_local = threading.local()


def get_db():
    """The request's database connection: this thread's connection to DATABASE, opened once."""
    if "db" not in g:
        g.db = _thread_connection(current_app.config["DATABASE"])
    return g.db


def _thread_connection(path):
    """This thread's connection to path, opened on first use.

    Keyed by process too, so a connection never crosses a fork (gunicorn --preload); a
    connection to another path (an earlier app, in the tests) is closed first.
    """
    key = (path, os.getpid())
    kept = getattr(_local, "db", None)
    if kept is not None and _local.key == key:
        return kept
    if kept is not None and _local.key[1] == key[1]:
        kept.close()
    _local.db, _local.key = None, None  # if connect() fails, nothing stale is kept
    _local.db, _local.key = connect(path), key
    return _local.db


def close_db(exception=None):
    """Hand the connection back clean: a transaction a request left open is rolled back."""
    db = g.pop("db", None)
    if db is None or not db.conn.in_transaction:
        return
    try:
        db.conn.rollback()
    except sqlite3.Error:  # unusable: the next request opens a new one
        if getattr(_local, "db", None) is db:
            _local.db, _local.key = None, None
        db.close()


def init_app(app):
    app.teardown_appcontext(close_db)
