"""`flask --app eo_cc cc-sync`, and Sync now, which starts that command as a detached process.

A sync pages whole lists at CC's 4 requests a second (about 50 s for 100,000 members), far
past a web request's timeout, so Sync now never runs one inside the request: it starts
`cc-sync` in its own session, waits only until that process holds the run lock, and the
Integration Settings page shows the run going on and then its result.
"""
import json
import os
import subprocess
import sys
import time

import click
from flask import current_app
from flask.cli import with_appcontext

from ..db import connect, instance_file
from .budget import is_locked
from .sync import run_sync, sync_lock_path

LOG_FILE = "cc_sync.log"
START_WAIT_SECONDS = 10


def sync_settings(config):
    """The settings a sync reads, handed to the detached process (JSON, over a pipe); BASE_URL
    starts the ballot links it puts into Constant Contact."""
    return {key: value for key, value in config.items()
            if key in ("DATABASE", "SECRET_KEY", "BASE_URL") or key.startswith("CC_")}


@click.command("cc-sync")
@click.option("--election", "election_id", type=int, help="Sync only this election id.")
@click.option("--dry-run", is_flag=True, help="Resolve and report, but remove nobody.")
@click.option("--verbose", is_flag=True, help="Print every activity poll and retry.")
@click.option("--settings-from-stdin", is_flag=True, hidden=True,
              help="Read the site's settings as JSON from standard input (Sync now).")
@with_appcontext
def cc_sync_command(election_id, dry_run, verbose, settings_from_stdin):
    """Remove voters who voted from each election's Constant Contact list."""
    config = dict(current_app.config)
    if settings_from_stdin:
        config.update(json.load(sys.stdin))
    db = connect(config["DATABASE"])
    try:
        result = run_sync(db, config, election_id=election_id, dry_run=dry_run, verbose=verbose,
                          echo=click.echo)
    finally:
        db.close()
    click.get_current_context().exit(result.exit_code)


def is_sync_running(config):
    """True while a sync run (hourly, Sync now or from the shell) holds the run lock."""
    return is_locked(sync_lock_path(config))


def start_background_sync(config, election_id):
    """Start `cc-sync --election ID` detached; True once it runs, False if a run is going on.

    Its output goes to cc_sync.log in the instance folder. The process outlives the request
    (its own session); Python's subprocess module reaps it once it has finished.
    """
    if is_sync_running(config):
        return False
    log_fd = os.open(instance_file(config, LOG_FILE), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "eo_cc", "cc-sync", "--election", str(election_id),
             "--settings-from-stdin"],
            stdin=subprocess.PIPE, stdout=log_fd, stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        os.close(log_fd)
    process.stdin.write(json.dumps(sync_settings(config)).encode())
    process.stdin.close()
    deadline = time.monotonic() + START_WAIT_SECONDS
    while time.monotonic() < deadline and process.poll() is None and not is_sync_running(config):
        time.sleep(0.02)
    return True


def init_app(app):
    app.cli.add_command(cc_sync_command)
