"""Admins' elections: list, create, edit, open and close, settings, audit log.

The blueprint lives here; the ballot questions (questions.py) and the results
(results.py) add their pages to it.
"""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from .. import clock, crypto
from ..cc import links
from ..cc.commands import start_background_sync
from ..db import get_db, one, rows
from ..organisations import access, members
from ..organisations.forms import OrganisationForm, SwitchForm
from ..voting import ballot_box, notices
from . import audit, voting_window
from .forms import ElectionForm, SettingsForm
from .tally import is_weighted, turnout

bp = Blueprint("elections", __name__, url_prefix="/elections")


def load_election(election_id):
    """An election of the organisation this request acts in, or 404.

    access.check_access has already refused anyone who is not a member with the right role;
    this keeps every query scoped to the organisation all the same.
    """
    election = one(get_db(), "SELECT * FROM elections WHERE id = ? AND organisation_id = ?",
                   [election_id, access.current_organisation_id()])
    if election is None:
        abort(404)
    return election


def index():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(url_for("elections.list_elections"))


@bp.app_template_filter("localtime")
def localtime_filter(text, with_zone=True):
    """Stored UTC text in the logged-in admin's timezone."""
    return clock.format_local(text, getattr(current_user, "timezone", "UTC"), with_zone)


@bp.app_template_global()
def election_state(election):
    return voting_window.effective_state(election)


def record(election_id, action, detail=""):
    audit.record(get_db(), election_id, current_user.id, action, detail)


def to_election(election_id):
    return redirect(url_for("elections.show", election_id=election_id))


@bp.route("/")
@login_required
def list_elections():
    """The current organisation's elections, with a switcher when the admin has several."""
    db = get_db()
    memberships = members.memberships_of(db, current_user.id)
    organisation_id = access.current_organisation_id()
    elections = rows(db, """
        SELECT e.*, (SELECT COUNT(*) FROM voters v WHERE v.election_id = e.id) AS voter_count,
               (SELECT COUNT(*) FROM voters v WHERE v.election_id = e.id AND v.has_voted) AS voted_count
        FROM elections e WHERE e.organisation_id = ? ORDER BY e.created_at DESC, e.id DESC""",
                     [organisation_id])
    switch_form = SwitchForm(memberships, data={"organisation_id": organisation_id})
    return render_template("elections/list.html", elections=elections, memberships=memberships,
                           switch_form=switch_form, new_form=OrganisationForm())


def _stored_window(election):
    return {"opens_at": election["opens_at"], "closes_at": election["closes_at"]}


def _fixed_fields(election):
    """Times that can no longer change: the opening once open, both once closed."""
    return {"open": ("opens_at",), "closed": ("opens_at", "closes_at")}.get(
        voting_window.effective_state(election), ())


@bp.route("/new", methods=["GET", "POST"])
@login_required
def create():
    form = ElectionForm(current_user.timezone)
    if form.validate_on_submit():
        now, db = clock.iso(), get_db()
        with db.atomic():
            election_id = db["elections"].insert({
                "organisation_id": access.current_organisation_id(),
                "slug": crypto.random_code(10).lower(),
                "title": form.title.data.strip(), "description": form.description.data.strip(),
                **form.window(), "created_at": now, "updated_at": now}).last_pk
            record(election_id, "created the election", form.title.data.strip())
        flash("Election created. Next, add the ballot questions.", "success")
        return to_election(election_id)
    return render_template("elections/form.html", form=form, election=None)


def _changes(election, values, form):
    """What changed, for the audit log, in the words of the form's labels."""
    def shown(value):
        return {0: "off", 1: "on"}.get(value, value) if isinstance(value, int) else (value or "—")
    return ", ".join(f"{form[name].label.text.split(' (')[0]}: {shown(election[name])} → {shown(value)}"
                     for name, value in values.items() if election[name] != value)


@bp.route("/<int:election_id>/edit", methods=["GET", "POST"])
@login_required
def edit(election_id):
    election = load_election(election_id)
    tzname = current_user.timezone
    form = ElectionForm(tzname, stored=_stored_window(election), fixed=_fixed_fields(election), data={
        "title": election["title"], "description": election["description"],
        "opens_at": clock.to_local(election["opens_at"], tzname),
        "closes_at": clock.to_local(election["closes_at"], tzname)})
    if form.validate_on_submit():
        values = {"title": form.title.data.strip(), "description": form.description.data.strip(),
                  **form.window()}
        changes = _changes(election, values, form)
        if changes:
            get_db()["elections"].update(election_id, {**values, "updated_at": clock.iso()})
            record(election_id, "edited the election", changes)
        flash("Election saved.", "success")
        return to_election(election_id)
    return render_template("elections/form.html", form=form, election=election)


@bp.route("/<int:election_id>")
@login_required
def show(election_id):
    election = load_election(election_id)
    db = get_db()
    voted, total = turnout(db, election_id)
    question_count = one(db, "SELECT COUNT(*) AS n FROM questions WHERE election_id = ?",
                         [election_id])["n"]
    return render_template("elections/show.html", election=election, voted=voted, total=total,
                           question_count=question_count, form=FlaskForm(),
                           voter_url=url_for("voting.election_page", slug=election["slug"],
                                             _external=True))


def _refusal_to_open(db, election):
    """Why voting cannot open now, or None."""
    state = voting_window.effective_state(election)
    if state == "closed":
        return "Voting has closed and cannot be opened again."
    if not one(db, "SELECT 1 AS x FROM questions WHERE election_id = ?", [election["id"]]):
        return "Add at least one ballot question before opening voting."
    if not one(db, "SELECT 1 AS x FROM voters WHERE election_id = ?", [election["id"]]):
        return "Upload the voter roster before opening voting."
    return None


def _send_announcement(db, election_id):
    """Mail the announcement; voting stays open even if mail fails."""
    try:
        # Links in the mail point at the address the admin is using right now.
        sent = notices.send_announcement(db, current_app.config, election_id, base_url=request.host_url)
    except Exception:  # noqa: BLE001 -- mail trouble must not undo opening; it is logged
        current_app.logger.exception("announcement for election %s failed", election_id)
        flash("Voting is open, but the announcement email could not be sent.", "warning")
    else:
        if sent:
            flash(f"Announcement email sent to {sent} voters.", "info")


@bp.route("/<int:election_id>/open", methods=["POST"])
@login_required
def open_voting(election_id):
    election = load_election(election_id)
    db = get_db()
    refusal = _refusal_to_open(db, election)
    if refusal:
        flash(refusal, "error")
        return to_election(election_id)
    now = clock.iso()
    opens_at = election["opens_at"] if election["opens_at"] and election["opens_at"] <= now else now
    with db.atomic():
        db["elections"].update(election_id, {"state": "open", "opens_at": opens_at, "updated_at": now})
        record(election_id, "opened voting")
    flash("Voting is open.", "success")
    if election["has_announcement_email"]:
        _send_announcement(db, election_id)
    return to_election(election_id)


@bp.route("/<int:election_id>/close", methods=["POST"])
@login_required
def close_voting(election_id):
    election = load_election(election_id)
    if voting_window.effective_state(election) != "open":
        flash("Voting is not open, so there is nothing to close.", "error")
        return to_election(election_id)
    now = clock.iso()
    closes_at = min(election["closes_at"], now) if election["closes_at"] else now
    db = get_db()
    db["elections"].update(election_id, {"state": "closed", "closes_at": closes_at, "updated_at": now})
    record(election_id, "closed voting")
    ballot_box.mix(db)  # the final ballot box keeps no order on disk from here on
    flash("Voting is closed. The results are final.", "success")
    if is_weighted(db, election_id):
        flash("Each ballot stores its choices and its voter's weight, nothing else about the voter. "
              "Where fewer than 5 voters share a weight, their ballots can be told apart by it; "
              "the results page names any such weight.", "info")
    if links.field_to_delete(db, one(db, "SELECT * FROM elections WHERE id = ?", [election_id])):
        start_background_sync(current_app.config, election_id)  # ballot links leave CC now, not in an hour
    return to_election(election_id)


SWITCHES = ("has_announcement_email", "has_reminder_emails", "has_live_results")


def _settings_form(election):
    return SettingsForm(current_user.timezone, closes_at=election["closes_at"], data={
        **{name: bool(election[name]) for name in SWITCHES}, "results_step": election["results_step"]})


@bp.route("/<int:election_id>/settings", methods=["GET", "POST"])
@login_required
def settings(election_id):
    election = load_election(election_id)
    form = _settings_form(election)
    db = get_db()
    if form.validate_on_submit():
        values = {**{name: int(form[name].data) for name in SWITCHES},
                  "results_step": form.results_step.data}
        changes = _changes(election, values, form)
        with db.atomic():
            if changes:
                db["elections"].update(election_id, {**values, "updated_at": clock.iso()})
                record(election_id, "changed settings", changes)
            if form.reminder_utc():
                db["reminders"].insert({"election_id": election_id, "send_at": form.reminder_utc()})
                record(election_id, "added a reminder", form.reminder_utc())
        flash("Settings saved.", "success")
        return redirect(url_for("elections.settings", election_id=election_id))
    reminders = rows(db, "SELECT * FROM reminders WHERE election_id = ? ORDER BY send_at",
                     [election_id])
    return render_template("elections/settings.html", election=election, form=form,
                           reminders=reminders)


@bp.route("/<int:election_id>/reminders/<int:reminder_id>/delete", methods=["POST"])
@login_required
def delete_reminder(election_id, reminder_id):
    load_election(election_id)
    db = get_db()
    reminder = one(db, "SELECT * FROM reminders WHERE id = ? AND election_id = ?",
                   [reminder_id, election_id])
    if reminder is None:
        abort(404)
    if reminder["sent_at"]:
        flash("That reminder has already been sent.", "error")
    else:
        db["reminders"].delete(reminder_id)
        record(election_id, "removed a reminder", reminder["send_at"])
        flash("Reminder removed.", "success")
    return redirect(url_for("elections.settings", election_id=election_id))


@bp.route("/<int:election_id>/audit")
@login_required
def audit_log(election_id):
    election = load_election(election_id)
    entries = audit.election_entries(get_db(), election)
    return render_template("elections/audit_log.html", election=election, entries=entries)

