"""The one database helper: sqlite-utils over SQLite in WAL mode.

`connect()` has no Flask in it so the cron job and the sandbox use it too;
`get_db()` lends each request its thread's connection (kept open between requests).
"""
import contextlib
import os
import sqlite3
import threading

import click
import sqlite_utils
from flask import current_app, g
from flask.cli import with_appcontext

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


def migrate(db):
    """Apply every pending migration."""
    from .migrations import migrations

    migrations.apply(db)


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


@click.command("init-db")
@with_appcontext
def init_db_command():
    """Create or upgrade the database (safe to run again)."""
    db = connect(current_app.config["DATABASE"])
    migrate(db)
    db.close()
    click.echo(f"Database ready: {current_app.config['DATABASE']}")


def init_app(app):
    app.teardown_appcontext(close_db)
    app.cli.add_command(init_db_command)
