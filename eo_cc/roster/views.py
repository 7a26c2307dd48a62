"""An election's voter roster: upload a CSV, add, edit and remove voters, download lists.

The data rules live in voters.py (Flask-free); these are the pages around them.
"""
import math

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import EmailField, StringField
from wtforms.validators import InputRequired

from ..crypto import Box
from ..db import get_db, one, rows
from ..downloads import csv_response
from ..elections import audit, voting_window
from ..elections.tally import is_weighted
from ..elections.views import load_election
from ..voting.notices import ballot_link_url
from . import voters, weights

bp = Blueprint("roster", __name__, url_prefix="/elections/<int:election_id>/roster")

PER_PAGE = 200
MAX_ERRORS_SHOWN = 100
FILTERS = {"all": "", "voted": "AND has_voted = 1", "not_voted": "AND has_voted = 0"}


class UploadForm(FlaskForm):
    file = FileField("Roster file (CSV)", validators=[
        FileRequired("Choose a CSV file to upload."),
        FileAllowed(["csv", "txt", "tsv"], "Upload a .csv or .txt file (save your spreadsheet as CSV)."),
    ], render_kw={"accept": ".csv,.txt,.tsv,text/csv,text/plain"})


class VoterForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired()])
    name = StringField("Name")
    # Plain text, never autofilled: the admin sets the voter's credentials, not their own.
    voter_id = StringField("Voter ID", description="Leave blank and eo_cc makes one up.",
                           render_kw={"autocomplete": "off"})
    password = StringField("Password", description="Leave blank and eo_cc makes one up.",
                           render_kw={"autocomplete": "off"})
    weight = StringField("Weight", description="The votes this voter holds, e.g. one per share (blank: 1).")


# --- helpers -------------------------------------------------------------------------------

def record(election_id, action, detail=""):
    audit.record(get_db(), election_id, current_user.id, action, detail)


def secret_key():
    return current_app.config["SECRET_KEY"]


def to_roster(election_id):
    return redirect(url_for("roster.show", election_id=election_id))


def load_voter(election_id, voter_pk):
    """A voter on this roster, or 404."""
    voter = one(get_db(), "SELECT * FROM voters WHERE id = ? AND election_id = ?", [voter_pk, election_id])
    if voter is None:
        abort(404)
    return voter


def counts(election_id):
    found = one(get_db(), """SELECT COUNT(*) AS voters, COALESCE(SUM(has_voted), 0) AS voted
                             FROM voters WHERE election_id = ?""", [election_id])
    return {**found, "not_voted": found["voters"] - found["voted"]}


def page_of_voters(election_id, page):
    return rows(get_db(), """SELECT id, voter_code, name, email, has_voted, weight FROM voters
                             WHERE election_id = ? ORDER BY id LIMIT ? OFFSET ?""",
                [election_id, PER_PAGE, (page - 1) * PER_PAGE])


def render_roster(election, form, errors=()):
    """The roster page, optionally listing why an upload was refused."""
    total = counts(election["id"])
    pages = max(1, math.ceil(total["voters"] / PER_PAGE))
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    return render_template(
        "roster/show.html", election=election, form=form, counts=total,
        voters=page_of_voters(election["id"], page), page=page, pages=pages,
        is_locked=voting_window.is_ballot_locked(election), locked_message=voters.LOCKED,
        is_weighted=is_weighted(get_db(), election["id"]), weight_text=weights.weight_text,
        weight_warning=weights.warning(weights.roster_classes(get_db(), election["id"])),
        errors=list(errors)[:MAX_ERRORS_SHOWN], more_errors=max(0, len(errors) - MAX_ERRORS_SHOWN))


def refuse_if_locked(election):
    """A redirect with the reason when the roster is locked, else None."""
    if voting_window.is_ballot_locked(election):
        flash(voters.LOCKED, "error")
        return to_roster(election["id"])
    return None


# --- pages -------------------------------------------------------------------------------

@bp.route("")
@login_required
def show(election_id):
    return render_roster(load_election(election_id), UploadForm())


@bp.route("/upload", methods=["POST"])
@login_required
def upload(election_id):
    election = load_election(election_id)
    if refused := refuse_if_locked(election):
        return refused
    form = UploadForm()
    if not form.validate_on_submit():
        return render_roster(election, form)
    upload_file = form.file.data
    parsed = voters.parse_roster(upload_file.read(), voters.existing_voters(get_db(), election_id))
    try:
        added = voters.import_roster(get_db(), election_id, parsed, secret_key())
    except voters.RosterRejected as rejected:
        flash("Nothing was imported: fix these problems in the file and upload it again.", "error")
        return render_roster(election, form, rejected.errors)
    record(election_id, "imported roster", f"{added} voters from {upload_file.filename or 'a file'}")
    flash(f"{added} voter{'' if added == 1 else 's'} added.", "success")
    if parsed.ignored_columns:
        flash("These columns were ignored: " + ", ".join(parsed.ignored_columns[:20]) + ".", "info")
    return to_roster(election_id)


def _apply_field_errors(form, errors):
    """Show roster_csv's RowErrors next to the form fields they belong to."""
    for error in errors:
        field = getattr(form, error.column or "", None) or form.email
        field.errors = [*field.errors, error.message]


@bp.route("/add", methods=["GET", "POST"])
@login_required
def add_voter(election_id):
    election = load_election(election_id)
    if refused := refuse_if_locked(election):
        return refused
    form = VoterForm()
    if form.validate_on_submit():
        voter, errors = voters.validate_voter(form.data)
        try:
            if errors:
                raise voters.RosterRejected(errors)
            voters.import_roster(get_db(), election_id, voters.RosterParse([voter], [], []),
                                     secret_key())
        except voters.RosterRejected as rejected:
            _apply_field_errors(form, rejected.errors)
        else:
            record(election_id, "added voter", voter["email"])
            flash(f"{voter['email']} added to the roster.", "success")
            return to_roster(election_id)
    return render_template("roster/voter_form.html", election=election, form=form, voter=None)


@bp.route("/<int:voter_pk>/edit", methods=["GET", "POST"])
@login_required
def edit_voter(election_id, voter_pk):
    election = load_election(election_id)
    voter = load_voter(election_id, voter_pk)
    if refused := refuse_if_locked(election):
        return refused
    form = VoterForm(data={"email": voter["email"], "name": voter["name"], "voter_id": voter["voter_code"],
                           "weight": weights.weight_text(voter["weight"])})
    form.voter_id.description = "Leave blank to keep the current Voter ID."
    form.password.description = "Leave blank to keep the current password."
    if form.validate_on_submit():
        try:
            changed = voters.update_voter(get_db(), election_id, voter_pk, form.data, secret_key())
        except voters.RosterRejected as rejected:
            _apply_field_errors(form, rejected.errors)
        else:
            if changed:
                record(election_id, "edited voter", f"{voter['voter_code']}: {', '.join(changed)} changed")
            flash("Voter saved." if changed else "Nothing changed.", "success" if changed else "info")
            return to_roster(election_id)
    return render_template("roster/voter_form.html", election=election, form=form, voter=voter)


@bp.route("/<int:voter_pk>/remove", methods=["POST"])
@login_required
def remove_voter(election_id, voter_pk):
    load_election(election_id)
    load_voter(election_id, voter_pk)
    try:
        removed = voters.remove_voter(get_db(), election_id, voter_pk)
    except voters.RosterRejected as rejected:
        flash(rejected.errors[0].message, "error")
    else:
        record(election_id, "removed voter", f"{removed['voter_code']} {removed['email']}")
        flash(f"{removed['email']} removed from the roster.", "success")
    return to_roster(election_id)


# --- downloads -----------------------------------------------------------------------------

@bp.route("/download")
@login_required
def download(election_id):
    election = load_election(election_id)
    which = request.args.get("filter", "all")
    if which not in FILTERS:
        abort(400)
    found = rows(get_db(), f"""SELECT voter_code, name, email, has_voted, weight FROM voters
                               WHERE election_id = ? {FILTERS[which]} ORDER BY id""", [election_id])
    weighted = is_weighted(get_db(), election_id)  # the weight column only where it says something
    records = ([v["voter_code"], v["name"], v["email"], "yes" if v["has_voted"] else "no"]
               + ([weights.weight_text(v["weight"])] if weighted else []) for v in found)
    return csv_response(["voter_id", "name", "email", "has_voted"] + (["weight"] if weighted else []),
                        records, f"roster-{election['slug']}-{which}.csv")


@bp.route("/credentials")
@login_required
def credentials(election_id):
    election = load_election(election_id)
    roster = rows(get_db(), "SELECT * FROM voters WHERE election_id = ? ORDER BY id", [election_id])
    box = Box(secret_key(), "voter-passwords")
    try:
        records = [[v["voter_code"], v["name"], v["email"], box.open(v["password_encrypted"]),
                    ballot_link_url(current_app.config, election, v, request.host_url)]
                   for v in roster]
    except ValueError:  # sealed under another SECRET_KEY: say so rather than fail with a 500
        flash("The voter passwords cannot be decrypted: this site's SECRET_KEY has changed since "
              "they were stored. Restore the old key, or upload the roster again.", "error")
        return to_roster(election_id)
    response = csv_response(["voter_id", "name", "email", "password", "ballot_link"], records,
                            f"credentials-{election['slug']}.csv")
    record(election_id, "downloaded voter credentials", f"{len(roster)} voters")
    return response

