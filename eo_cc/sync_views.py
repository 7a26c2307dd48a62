"""The Flask side of the Constant Contact sync: Sync now, the CSV of emails not on the list,
and the `flask cc-sync` command. The work itself is sync.run_sync."""
import os

import click
from flask import (Blueprint, current_app, flash, redirect, render_template, url_for)
from flask.cli import with_appcontext
from flask_login import current_user, login_required

from .db import connect, get_db
from .downloads import csv_response
from .elections import load_election
from .sync import run_sync
from .sync_status import not_in_list_emails, sync_status, verdict

bp = Blueprint("sync", __name__)

SYNC_NOW_POLL_SECONDS = 10   # a web request should not wait long; the next run polls the rest


def lock_path(app):
    return os.path.join(app.instance_path, "cc_sync.lock")


@bp.route("/elections/<int:election_id>/sync")
@login_required
def show(election_id):
    """The sync panel on a page of its own."""
    election = load_election(election_id)
    return render_template("sync/show.html", election=election,
                           sync_status=sync_status(get_db(), election_id, current_app.config))


@bp.route("/elections/<int:election_id>/sync", methods=["POST"])
@login_required
def sync_now(election_id):
    """Run the sync for this election now (same lock as the hourly run)."""
    election = load_election(election_id)
    if not election["cc_list_id"]:
        flash("Choose a Constant Contact list first.", "warning")
        return redirect(url_for("integration.settings", election_id=election_id))
    lines = []
    result = run_sync(get_db(), current_app.config, election_id=election_id, echo=lines.append,
                      lock_path=lock_path(current_app), poll_seconds=current_app.config.get(
                          "CC_SYNC_NOW_POLL_SECONDS", SYNC_NOW_POLL_SECONDS))
    flash(result.message or (lines[-1] if lines else "Nothing to sync."), _category(result))
    return redirect(url_for("integration.settings", election_id=election_id))


def _category(result):
    if result.exit_code == 2 or any(r.error for r in result.elections):
        return "error"
    if result.exit_code == 1:
        return "warning"
    return "success" if result.elections else "info"


@bp.route("/elections/<int:election_id>/sync/not-in-list.csv")
@login_required
def not_in_list_csv(election_id):
    """The emails of voters who voted but were not on the chosen list."""
    election = load_election(election_id)
    emails = not_in_list_emails(get_db(), election_id)
    return csv_response(["email"], ([email] for email in emails),
                        f"not-in-list-election-{election['id']}.csv")


def sync_verdict(status):
    """The panel's verdict with times in the logged-in admin's timezone."""
    return verdict(status, getattr(current_user, "timezone", None))


@click.command("cc-sync")
@click.option("--election", "election_id", type=int, help="Sync only this election id.")
@click.option("--dry-run", is_flag=True, help="Resolve and report, but remove nobody.")
@click.option("--verbose", is_flag=True, help="Print every activity poll and retry.")
@with_appcontext
def cc_sync_command(election_id, dry_run, verbose):
    """Remove voters who voted from each election's Constant Contact list."""
    db = connect(current_app.config["DATABASE"])
    try:
        result = run_sync(db, current_app.config, election_id=election_id, dry_run=dry_run,
                          verbose=verbose, echo=click.echo, lock_path=lock_path(current_app))
    finally:
        db.close()
    click.get_current_context().exit(result.exit_code)


def init_app(app):
    app.cli.add_command(cc_sync_command)
    app.add_template_global(sync_verdict)
