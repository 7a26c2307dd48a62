"""Mixing the ballot box, so that no cast order survives on disk.

SQLite writes each new row of a page below the rows written before it, and keeps every
commit in the write-ahead log until a checkpoint: both give away the order in which
ballots were cast, and voters.voted_at gives the order in which voters voted. Mixing
rewrites the receipts, the ballots and their selections in key order (random keys: an
order that means nothing), with deleted bytes overwritten (the connection's
secure_delete), then empties the WAL with a TRUNCATE checkpoint.

It runs after every MIX_BALLOTS_EVERY ballots (once the casting voter has their page),
from cron every 5 minutes (`flask --app eo_cc mix-ballots`) and when an admin closes
voting. A copy of the instance folder can therefore order only the ballots cast since
the last mix. Flask-free, apart from the command.
"""
import logging
import time

import click
from flask import current_app
from flask.cli import with_appcontext

from .. import clock
from ..db import BUSY_TIMEOUT_MS, connect, immediate, one

log = logging.getLogger(__name__)

# Each table of the ballot box with its key, parents first (selections refer to ballots).
TABLES = (("receipts", ("election_id", "code")),
          ("ballots", ("election_id", "ballot_id")),
          ("ballot_selections", ("election_id", "ballot_id", "choice_id")))
CHECKPOINT_ATTEMPTS = 20
CHECKPOINT_WAIT_SECONDS = 0.05
# A TRUNCATE checkpoint keeps writers (voters casting) out while it waits for readers, so
# each attempt waits briefly and lets them in between attempts.
CHECKPOINT_BUSY_MS = 100


def unmixed(db):
    """Ballots cast since the box was last mixed."""
    return one(db, "SELECT unmixed FROM ballot_box WHERE id = 1")["unmixed"]


def is_due(db, config):
    return unmixed(db) >= config["MIX_BALLOTS_EVERY"]


def mix(db, now=None):
    """Rewrite the ballot box in key order and empty the WAL; returns how many ballots it held.

    A box with nothing new since the last mix is left alone (returns 0).
    """
    with immediate(db):
        if not unmixed(db):
            return 0
        # Every column, so a mix copies whatever a ballot holds (weight, rank).
        names = {table: [column.name for column in db[table].columns] for table, _ in TABLES}
        copies = {table: db.execute(f"SELECT {', '.join(names[table])} FROM {table} "
                                    f"ORDER BY {', '.join(key)}").fetchall() for table, key in TABLES}
        for table, _ in reversed(TABLES):
            db.execute(f"DELETE FROM {table}")
        for table, _ in TABLES:
            db.conn.executemany(f"INSERT INTO {table} ({', '.join(names[table])}) VALUES "
                                f"({', '.join('?' * len(names[table]))})", copies[table])
        db.execute("UPDATE ballot_box SET unmixed = 0, mixed_at = ? WHERE id = 1", [clock.iso(now)])
    empty_the_wal(db)
    return len(copies["ballots"])


def empty_the_wal(db):
    """Checkpoint the WAL into the database and cut it to nothing; True when it worked.

    A reader in the middle of a transaction makes the checkpoint give up without an error,
    so it is tried again for about three seconds. The -shm index then still names the pages the
    old frames wrote; one more small write and checkpoint replace those names with its own.
    """
    if not _truncate(db):
        log.warning("The WAL could not be emptied (a long read is going on); the next mix tries again.")
        return False
    db.execute("UPDATE ballot_box SET mixed_at = mixed_at WHERE id = 1")
    return _truncate(db)


def _truncate(db):
    db.execute(f"PRAGMA busy_timeout = {CHECKPOINT_BUSY_MS}")
    try:
        for _ in range(CHECKPOINT_ATTEMPTS):
            busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return True
            time.sleep(CHECKPOINT_WAIT_SECONDS)
        return False
    finally:
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


def mix_in_own_connection(database):
    """Mix with a connection of its own (after a request has ended); never raises."""
    db = connect(database)
    try:
        mix(db)
    except Exception:  # the ballot is stored; a failed mix is retried by the next one or cron
        log.exception("Mixing the ballot box failed")
    finally:
        db.close()


@click.command("mix-ballots")
@with_appcontext
def mix_ballots_command():
    """Rewrite the ballot box so no cast order survives on disk (run from cron every 5 minutes)."""
    db = connect(current_app.config["DATABASE"])
    try:
        mixed = mix(db)
    finally:
        db.close()
    click.echo(f"Mixed {mixed} ballots." if mixed else "Nothing new to mix.")


def init_app(app):
    app.cli.add_command(mix_ballots_command)
