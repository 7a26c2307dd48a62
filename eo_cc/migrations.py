"""The schema, grown one named migration at a time. Never edit a released one.

Each step lives in eo_cc/schema/ with its concept; HISTORY lists them in the order they are
applied. Ballot secrecy lives in the schema: `receipts`, `ballots` and `ballot_selections`
have random keys, no timestamps, no rowid and no column that leads to `voters` or from a
receipt to a ballot; `voters` has nothing that leads to either. The byte order of their
pages is taken care of by voting/ballot_box.py, which rewrites them in key order.
"""
import click
from flask import current_app
from flask.cli import with_appcontext
from sqlite_utils import Migrations

from .db import connect
from .schema import constant_contact_accounts, first, mailings, organisations, ranked, secrecy

HISTORY = [*first.STEPS, *secrecy.STEPS, *organisations.STEPS, *mailings.STEPS,
           *constant_contact_accounts.STEPS, *ranked.STEPS]

migrations = Migrations("eo_cc")
for step in HISTORY:
    migrations(transactional=getattr(step, "transactional", True))(step)


def migrate(db):
    """Apply every pending migration."""
    migrations.apply(db)


@click.command("init-db")
@with_appcontext
def init_db_command():
    """Create or upgrade the database (safe to run again)."""
    db = connect(current_app.config["DATABASE"])
    migrate(db)
    db.close()
    click.echo(f"Database ready: {current_app.config['DATABASE']}")


def init_app(app):
    app.cli.add_command(init_db_command)
