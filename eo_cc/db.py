"""The one database helper: sqlite-utils over SQLite in WAL mode.

`connect()` has no Flask in it so the cron job and the sandbox use it too;
`get_db()` keeps one connection per request on `g`.
"""
import contextlib
import sqlite3

import click
from flask import current_app, g
from flask.cli import with_appcontext
import sqlite_utils

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


def connect(path):
    """Open the database at path with WAL, foreign keys and a busy timeout."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    db = Database(conn)
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA foreign_keys = ON")
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


def get_db():
    """The request's database connection, opened on first use."""
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    return g.db


def close_db(exception=None):
    db = g.pop("db", None)
    if db is not None:
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
