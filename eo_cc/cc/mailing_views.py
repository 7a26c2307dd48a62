"""Constant Contact mailings on Integration Settings: ballot links in CC, the "Roster and list"
panel with its fixes, and a list created from the roster.

Every button that needs Constant Contact records what was asked for and starts the same detached
run as Sync now (commands.start_background_sync), so no web request waits for an import or a
scan of a big list. Only creating the list itself (one request) happens in the request.
"""
import logging

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length

from .. import clock
from ..db import get_db, one, rows
from ..downloads import csv_response
from ..elections.audit import record
from ..elections.views import load_election
from ..elections.voting_window import effective_state
from ..text import no_unsafe_characters
from . import links, list_check, tokens
from .api import CCError, GrantRevoked
from .budget import request_counter, utc_day
from .commands import start_background_sync
from .plain_words import in_plain_words
from .report import next_run_at
from .views import grant_again, save_list_choice

bp = Blueprint("mailings", __name__)
log = logging.getLogger(__name__)
PAGE = "/elections/<int:election_id>/integration"
LOG_SHOWN = 5
SHOWN_INLINE = 20   # differences listed on the page; the rest are in the download
CSV_NAMES = {list_check.MISSING: "not-on-the-list", list_check.STRANGER: "not-on-the-roster",
             list_check.UNSUBSCRIBED: "unsubscribed"}


class CreateListForm(FlaskForm):
    name = StringField("Name of the new list", validators=[DataRequired(), Length(max=255),
                                                            no_unsafe_characters])
    with_links = BooleanField("Put each voter's personal ballot link into Constant Contact too")


class KeepFieldForm(FlaskForm):
    keep = BooleanField("Keep the ballot link field in Constant Contact after voting closes")


def to_settings(election_id):
    return redirect(url_for("cc.settings", election_id=election_id))


def start_run(election, done_message):
    """Start the detached run for this election, and say what happens next."""
    if start_background_sync(current_app.config, election["id"]):
        flash(f"{done_message} This page shows the result when Constant Contact has finished.", "info")
    else:
        when = clock.format_local(clock.iso(next_run_at(clock.now(), int(
            current_app.config["CC_SYNC_INTERVAL_MINUTES"]))), current_user.timezone)
        flash(f"A sync is running now, so this waits for the next one ({when}), or for Sync now once "
              "the running one has finished.", "info")


def editable_election(election_id):
    """The election, if it has a list and voting has not closed; else None after flashing why."""
    election = load_election(election_id)
    if not election["cc_list_id"]:
        flash("Choose a Constant Contact list first.", "warning")
    elif effective_state(election) == "closed":
        flash("Voting has closed, so Constant Contact's list needs nothing more for this election.", "info")
    else:
        return election
    return None


@bp.app_template_global()
def mailing_status(election):
    """What the mailings part of Integration Settings shows for an election."""
    db, config = get_db(), current_app.config
    field = links.field_of(db, election["id"])
    check = list_check.last_check(db, election["id"])
    is_current = bool(check and check["checked_at"] and check["list_id"] == election["cc_list_id"])
    size = one(db, "SELECT membership_count FROM cc_list_sizes WHERE list_id = ?", [election["cc_list_id"]])
    closed = effective_state(election) == "closed"
    used = one(db, "SELECT requests FROM cc_request_counts WHERE day = ?", [utc_day()])
    # A check of the list used before says nothing about this one (the next run forgets it).
    found = {kind: list_check.differences(db, election["id"], kind) if is_current else []
             for kind in list_check.KINDS}
    return {
        "closed": closed, "field": field, "field_ready": links.is_ready(field),
        "links_in_cc": db.execute("SELECT count(*) FROM cc_ballot_links WHERE election_id = ?",
                                  [election["id"]]).fetchone()[0],
        "links_waiting": (links.waiting(db, election["id"], election["cc_list_id"])
                          if election["has_cc_ballot_links"] and not closed and election["cc_list_id"] else 0),
        "base_url": config["BASE_URL"].rstrip("/"),
        "check": check if is_current else None,
        "check_asked": bool(check and check["requested_at"]),
        "list_size": size and size["membership_count"],
        "check_cost": list_check.estimated_requests(size and size["membership_count"]),
        "differences": found, "shown_inline": SHOWN_INLINE,
        "fixes": {kind: {fix: sum(1 for row in found[kind] if row["fix"] == fix)
                         for fix in (None, *list_check.FIXES)} for kind in list_check.KINDS},
        "importing": one(db, "SELECT sum(contact_count) AS n FROM cc_imports WHERE election_id = ? "
                             "AND finished_at IS NULL", [election["id"]])["n"] or 0,
        "cannot_add": one(db, "SELECT sum(cannot_add_count) AS n FROM cc_imports WHERE election_id = ? "
                              "AND purpose = 'add' AND state = 'completed'", [election["id"]])["n"] or 0,
        "log": rows(db, "SELECT * FROM cc_mailing_log WHERE election_id = ? ORDER BY id DESC LIMIT ?",
                    [election["id"], LOG_SHOWN]),
        "requests_today": used["requests"] if used else 0, "budget": int(config["CC_DAILY_REQUEST_BUDGET"]),
        "keep_form": KeepFieldForm(data={"keep": bool(election["keeps_cc_ballot_link_field"])}),
    }


# --- ballot links ----------------------------------------------------------------------------

@bp.route(f"{PAGE}/ballot-links", methods=["POST"])
@login_required
def put_links(election_id):
    """Put each voter's personal ballot link into CC (and keep it current from now on)."""
    election = editable_election(election_id)
    if election is None or not FlaskForm().validate_on_submit():
        return to_settings(election_id)
    db = get_db()
    if not election["has_cc_ballot_links"]:
        db.execute("UPDATE elections SET has_cc_ballot_links = 1, updated_at = ? WHERE id = ?",
                   [clock.iso(), election_id])
        record(db, election_id, current_user.id, "put ballot links into Constant Contact")
    start_run(election, "eo_cc is putting each voter's ballot link into Constant Contact.")
    return to_settings(election_id)


@bp.route(f"{PAGE}/ballot-links/field", methods=["POST"])
@login_required
def keep_field(election_id):
    """Keep the field (and its links) in CC after voting closes, or let eo_cc delete it then."""
    election = load_election(election_id)
    form = KeepFieldForm()
    if form.validate_on_submit():
        keep = int(bool(form.keep.data))
        if keep != election["keeps_cc_ballot_link_field"]:
            get_db().execute("UPDATE elections SET keeps_cc_ballot_link_field = ?, updated_at = ? WHERE id = ?",
                             [keep, clock.iso(), election_id])
            record(get_db(), election_id, current_user.id, "changed settings",
                   f"Keep the ballot link field after voting closes: {'on' if keep else 'off'}")
        flash("eo_cc keeps the ballot link field in Constant Contact after voting closes." if keep else
              "eo_cc deletes the ballot link field from Constant Contact when voting closes.", "success")
    return to_settings(election_id)


# --- roster and list ------------------------------------------------------------------------

@bp.route(f"{PAGE}/roster-check", methods=["POST"])
@login_required
def check_list(election_id):
    election = editable_election(election_id)
    if election is None or not FlaskForm().validate_on_submit():
        return to_settings(election_id)
    if list_check.fixes_asked(get_db(), election_id):
        flash("The fixes you asked for are still being made; check the list again once they are done.",
              "info")
        return to_settings(election_id)
    list_check.request(get_db(), election_id)
    start_run(election, "eo_cc is comparing the roster with the list.")
    return to_settings(election_id)


@bp.route(f"{PAGE}/roster-check.csv")
@login_required
def differences_csv(election_id):
    """The emails (and names) of one kind of difference: ?kind=missing, stranger or unsubscribed."""
    election = load_election(election_id)
    kind = request.args.get("kind", list_check.MISSING)
    if kind not in list_check.KINDS:
        abort(404)
    check = list_check.last_check(get_db(), election_id)
    is_current = bool(check and check["list_id"] == election["cc_list_id"])
    found = list_check.differences(get_db(), election_id, kind) if is_current else []
    return csv_response(["email", "name"], ([row["email"], row["name"]] for row in found),
                        f"{CSV_NAMES[kind]}-election-{election['id']}.csv")


def ask_fix(election_id, kind, message):
    election = editable_election(election_id)
    if election is None or not FlaskForm().validate_on_submit():
        return to_settings(election_id)
    asked = list_check.ask_fix(get_db(), election_id, kind)
    if not asked:
        flash("There is nobody left to do that for. Check the list again to see where it stands.", "info")
        return to_settings(election_id)
    record(get_db(), election_id, current_user.id, message, f"{asked} people")
    start_run(election, f"eo_cc {message} ({asked}).")
    return to_settings(election_id)


@bp.route(f"{PAGE}/roster-check/add", methods=["POST"])
@login_required
def add_missing(election_id):
    return ask_fix(election_id, list_check.MISSING, "is adding the voters missing from the list")


@bp.route(f"{PAGE}/roster-check/remove", methods=["POST"])
@login_required
def remove_strangers(election_id):
    return ask_fix(election_id, list_check.STRANGER, "is taking the people not on the roster off the list")


@bp.route(f"{PAGE}/roster-check/send-links", methods=["POST"])
@login_required
def send_links(election_id):
    """Mail the voters whose contact is unsubscribed their ballot link, from eo_cc."""
    election = editable_election(election_id)
    if election is None or not FlaskForm().validate_on_submit():
        return to_settings(election_id)
    sent = list_check.mail_links(get_db(), current_app.config, election)
    if sent:
        record(get_db(), election_id, current_user.id, "mailed ballot links to unsubscribed voters", str(sent))
        flash(f"eo_cc mailed {sent} voter(s) their ballot link.", "success")
    else:
        flash("Nobody left to mail: every unsubscribed voter has voted or has been mailed.", "info")
    return to_settings(election_id)


# --- a list made from the roster -----------------------------------------------------------------

@bp.route(f"{PAGE}/create-list", methods=["GET", "POST"])
@login_required
def create_list(election_id):
    """Make a CC list named after the election and import the roster into it (after confirming)."""
    election = load_election(election_id)
    db = get_db()
    connection = tokens.get_connection(db, election["organisation_id"])
    if connection is None or connection["needs_grant"] or effective_state(election) == "closed":
        flash("Grant access to Constant Contact first." if effective_state(election) != "closed"
              else "Voting has closed: this election needs no list any more.", "info")
        return to_settings(election_id)
    form = CreateListForm(data={"name": election["title"][:255],
                                "with_links": bool(election["has_cc_ballot_links"]) or None})
    voters = db.execute("SELECT count(*) FROM voters WHERE election_id = ? AND has_voted = 0",
                        [election_id]).fetchone()[0]
    if form.validate_on_submit():
        made = make_list(election, form)
        if made is not None:
            return made
    return render_template("cc/create_list.html", election=election, form=form, voters=voters)


def make_list(election, form):
    """Create the list in CC, choose it, and ask the next run to import the roster into it."""
    db, name = get_db(), " ".join(form.name.data.split())
    try:
        client = tokens.make_client(db, current_app.config, election["organisation_id"],
                                    on_request=request_counter(db))
        made = client.create_contact_list(name, f"Voters of {election['title']}"[:255])
    except GrantRevoked:
        return grant_again(election["id"])
    except CCError as error:
        if error.status == 409:
            form.name.errors.append(f"Constant Contact already has a list named {name}: choose another "
                                    "name, or use that list with Select a List.")
        else:
            log.warning("Creating a list failed: %s", error)
            flash(f"Constant Contact did not create the list. {in_plain_words(error)} Nothing changed; "
                  "please try again.", "error")
        return None
    chosen = {"list_id": made["list_id"], "name": made.get("name") or name}
    save_list_choice(db, election, chosen, current_user.id)
    db.execute("INSERT INTO cc_list_sizes (list_id, membership_count, fetched_at) VALUES (?, 0, ?) "
               "ON CONFLICT (list_id) DO UPDATE SET membership_count = 0, fetched_at = excluded.fetched_at",
               [made["list_id"], clock.iso()])
    if form.with_links.data and not election["has_cc_ballot_links"]:
        db.execute("UPDATE elections SET has_cc_ballot_links = 1 WHERE id = ?", [election["id"]])
        record(db, election["id"], current_user.id, "put ballot links into Constant Contact")
    asked = list_check.everyone_missing(db, election["id"], made["list_id"])
    record(db, election["id"], current_user.id, "created a Constant Contact list from the roster", name)
    start_run(load_election(election["id"]), f"eo_cc created the list {chosen['name']} in Constant Contact "
                                             f"and is adding the {asked} voter(s) to it.")
    return to_settings(election["id"])
