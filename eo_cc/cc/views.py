"""Integration Settings: connect Constant Contact, choose each election's list, watch the sync.

One page per election: the connection (one per organisation: CC's rotating refresh tokens
would make two copies fight), the chosen list, the sync panel with Sync now. Tokens go straight
from the OAuth callback into `tokens` (encrypted); they never touch the session cookie.
"""
import logging

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import InputRequired, Length

from .. import clock
from ..db import get_db, immediate, one
from ..downloads import csv_response
from ..elections.audit import record
from ..elections.views import load_election
from ..organisations.access import current_organisation_id
from . import accounts, removals, sharing, tokens
from .api import CCError, GrantRevoked
from .budget import request_counter
from .commands import is_sync_running, start_background_sync
from .plain_words import in_plain_words
from .report import not_in_list_emails, sync_status, verdict
from .token_endpoint import connection_lock, is_busy, paced, token_pace

bp = Blueprint("cc", __name__)
PAGE = "/elections/<int:election_id>/integration"
log = logging.getLogger(__name__)

CC_LISTS_PAGE = "https://app.constantcontact.com/pages/contacts/ui#lists"
GRANT_ELECTION_KEY = "cc_grant_election_id"
BUSY = ("Constant Contact was busy and did not finish the connection; click Grant access again. "
        "Nothing changed.")
NOT_GRANTED = "Constant Contact did not grant access; nothing changed. Please click Grant access again."
# What CC's sign-in may say on its way back (RFC 6749 4.1.2.1), in our words.
GRANT_ERRORS = {
    "access_denied": ("You did not grant access; nothing changed.", "info"),
    "server_error": (BUSY, "error"),
    "temporarily_unavailable": (BUSY, "error"),
    "invalid_scope": ("Constant Contact would not grant the access eo_cc asks for; nothing changed. "
                      "Please ask the account owner to grant access.", "error"),
    "unauthorized_client": ("Constant Contact does not accept this eo_cc server (check CC_CLIENT_ID and "
                            "the redirect URI); nothing changed.", "error"),
}


def init_app(app):
    """Register the `cc` OAuth client with this app's endpoints and credentials.

    Authlib's Flask registry belongs to the one app it was initialised with, so each app
    gets its own (the factory may build several in one process); views reach it through
    app.extensions, where Authlib puts it.
    """
    settings = tokens.client_settings(app.config)
    client_kwargs = {key: settings.pop(key)
                     for key in ("scope", "token_endpoint_auth_method", "default_timeout")}
    if app.config["CC_USE_PKCE"]:
        client_kwargs["code_challenge_method"] = "S256"
    OAuth(app).register("cc", **settings, authorize_url=app.config["CC_AUTHORIZE_URL"],
                        access_token_url=app.config["CC_ACCESS_TOKEN_URL"],
                        api_base_url=app.config["CC_API_BASE_URL"], client_kwargs=client_kwargs,
                        compliance_fix=tokens.token_compliance_fix)


def cc_oauth():
    """This app's Authlib client for Constant Contact."""
    return current_app.extensions["authlib.integrations.flask_client"].cc


class ChooseListForm(FlaskForm):
    """One "Use this list" button; the name is re-read from CC, never trusted from the form."""

    list_id = HiddenField(validators=[InputRequired(), Length(max=200)])
    list_name = HiddenField(validators=[Length(max=500)])
    share = HiddenField(validators=[Length(max=3)])   # "yes": use a list another election uses


def is_configured():
    return bool(current_app.config["CC_CLIENT_ID"] and current_app.config["CC_CLIENT_SECRET"])


def to_settings(election_id):
    return redirect(url_for("cc.settings", election_id=election_id))


def mailings_still_on(election):
    """The eo_cc mailings still ticked, which would double the CC list's mailings."""
    names = []
    if election["has_announcement_email"]:
        names.append("the announcement email")
    if election["has_reminder_emails"]:
        names.append("reminder emails")
    return names


bp.app_template_global()(accounts.connection_label)
bp.app_template_global("list_problem")(accounts.problem_message)
bp.app_template_filter("plain_words")(in_plain_words)


@bp.app_template_global()
def sync_verdict(status):
    """The panel's verdict with times in the logged-in admin's timezone."""
    return verdict(status, getattr(current_user, "timezone", None))


@bp.route(PAGE)
@login_required
def settings(election_id):
    election = load_election(election_id)
    db = get_db()
    status = sync_status(db, election_id, current_app.config)
    status["is_running"] = is_sync_running(current_app.config)
    return render_template(
        "cc/settings.html", election=election, sync_status=status,
        shared_with=sharing.sharing_elections(db, election),
        connection=tokens.get_connection(db, election["organisation_id"]), is_configured=is_configured(),
        callback_url=url_for("cc.callback", _external=True),
        double_mailings=mailings_still_on(election) if election["cc_list_id"] else [])


# --- the connection ------------------------------------------------------------------------

@bp.route(f"{PAGE}/grant", methods=["POST"])
@login_required
def grant(election_id):
    """Send the admin to Constant Contact to accept; the callback comes back to this election."""
    load_election(election_id)
    if not is_configured():
        flash("Constant Contact is not configured on this server (CC_CLIENT_ID and CC_CLIENT_SECRET).",
              "error")
        return to_settings(election_id)
    session[GRANT_ELECTION_KEY] = election_id
    return cc_oauth().authorize_redirect(url_for("cc.callback", _external=True))


@bp.route("/integration/cc/callback")
@login_required
def callback():
    """Constant Contact's redirect after Accept or Deny: one fixed URI for every election.

    The connection goes to the organisation of the election the grant started from, which
    must be the one this session works in (the role check applied to it).
    """
    election = granting_election(session.pop(GRANT_ELECTION_KEY, None))
    back = (url_for("cc.settings", election_id=election["id"]) if election
            else url_for("elections.list_elections"))
    error = request.args.get("error")
    if error:  # never shown as given: anyone can put any text in this link
        flash(*GRANT_ERRORS.get(error, (NOT_GRANTED, "error")))
        return redirect(back)
    if election is None:
        flash(GRANT_NOT_STARTED_HERE, "error")
        return redirect(back)
    token = exchange_code()
    if token is None:
        return redirect(back)
    db = get_db()
    with connection_lock(current_app.config, election["organisation_id"]):  # not amid a refresh
        tokens.save_token(db, current_app.config["SECRET_KEY"], election["organisation_id"], dict(token))
    record(db, None, current_user.id, "granted Constant Contact access",
           organisation_id=election["organisation_id"])
    connection = learn_granted_account(db, election["organisation_id"])
    flash("eo_cc is now configured to integrate with your Constant Contact account. "
          f"{accounts.connection_label(connection)}.", "success")
    return redirect(back)


def learn_granted_account(db, organisation_id):
    """Which CC account was just granted (one request), and which chosen lists it lacks (one more,
    only when a chosen list's account is not this one); returns the connection row.

    A failure here loses nothing: the page says "Connected" and the next sync asks again before
    it removes anyone.
    """
    try:
        client = tokens.make_client(db, current_app.config, organisation_id,
                                    on_request=request_counter(db))
        accounts.learn(db, client, direct_call, organisation_id)
    except CCError as error:
        log.warning("CC account summary after a grant failed: %s", error)
        accounts.forget(db, organisation_id)
        return tokens.get_connection(db, organisation_id)
    try:
        marked = accounts.check_lists(db, client, direct_call, organisation_id)
    except CCError as error:
        log.warning("Checking the chosen lists in the granted CC account failed: %s", error)
        marked = []
    for election_id in marked:
        election = one(db, "SELECT * FROM elections WHERE id = ?", [election_id])
        flash(f"{election['title']}: {accounts.problem_message(election)}", "warning")
    return tokens.get_connection(db, organisation_id)


def direct_call(fn, *args):
    """The pages call CC once, without the sync's backoff: the admin is waiting."""
    return fn(*args)


GRANT_NOT_STARTED_HERE = ("That Constant Contact sign-in had expired or did not start here; nothing "
                          "changed. Please click Grant access again.")


def granting_election(election_id):
    """The election the grant started from, if it is in the organisation this session works in."""
    if election_id is None:
        return None
    return one(get_db(), "SELECT id, organisation_id FROM elections "
                         "WHERE id = ? AND organisation_id = ?", [election_id, current_organisation_id()])


def exchange_code():
    """Trade the code for tokens; on any failure flash why and return None (nothing stored).

    The exchange takes its turn in the token pace, which the hourly job and every page
    share. CC turns a busy request away without using the code, so a 429 or 5xx gets one
    more try in a later turn (Authlib's authorize_access_token would forget the sign-in
    state after the first).
    """
    oauth, state = cc_oauth(), request.args.get("state")
    started = oauth.framework.get_state_data(session, state) if state else None
    if started is None:
        flash(GRANT_NOT_STARTED_HERE, "error")
        return None
    oauth.framework.clear_state_data(session, state)
    params = {key: started[key] for key in ("redirect_uri", "code_verifier") if started.get(key)}
    try:
        return paced(token_pace(current_app.config), lambda: oauth.fetch_access_token(
            code=request.args.get("code"), state=state, **params))
    except OAuthError as error:
        log.warning("CC token exchange refused: %s", error)
        flash(BUSY if is_busy(error) else NOT_GRANTED, "error")
    except requests.HTTPError as error:
        log.warning("CC token exchange failed: %s", error)
        flash(BUSY, "error")
    except requests.RequestException as error:
        log.warning("CC token exchange failed: %s", error)
        flash("Could not reach Constant Contact to finish the grant; nothing changed. "
              "Please try Grant access again in a few minutes.", "error")
    return None


@bp.route(f"{PAGE}/disconnect", methods=["POST"])
@login_required
def disconnect(election_id):
    """Forget the organisation's CC connection (all its elections); revoke it at CC, best effort."""
    election = load_election(election_id)
    db = get_db()
    with connection_lock(current_app.config, election["organisation_id"]):  # not amid a refresh
        token = tokens.delete_connection(db, current_app.config["SECRET_KEY"], election["organisation_id"])
    if token is None:
        flash("There was no Constant Contact connection to disconnect.", "info")
        return to_settings(election_id)
    tokens.revoke(current_app.config, token)
    record(db, None, current_user.id, "disconnected Constant Contact",
           organisation_id=election["organisation_id"])
    flash("Disconnected from Constant Contact. eo_cc no longer has access to your account.", "success")
    return to_settings(election_id)


def grant_again(election_id):
    flash("Constant Contact no longer accepts eo_cc's access to your account. "
          "Please Grant access again.", "warning")
    return to_settings(election_id)


# --- the list -------------------------------------------------------------------------------

@bp.route(f"{PAGE}/lists")
@login_required
def lists(election_id):
    election = load_election(election_id)
    if tokens.get_connection(get_db(), election["organisation_id"]) is None:
        flash("Grant access to your Constant Contact account first.", "info")
        return to_settings(election_id)
    try:
        contact_lists, error = fetch_lists(election), None
    except GrantRevoked:
        return grant_again(election_id)
    except CCError as failure:
        contact_lists, error = None, in_plain_words(failure)
    return render_template("cc/lists.html", election=election, contact_lists=contact_lists,
                           error=error, cc_lists_page=CC_LISTS_PAGE,
                           in_use=sharing.lists_in_use(get_db(), election))


def fetch_lists(election):
    """All the CC lists of the election's organisation, favourites first, then by name.

    The requests count against the shared daily budget, and the member counts are kept
    so the next sync can choose its cheaper look-up without asking again.
    """
    db = get_db()
    client = tokens.make_client(db, current_app.config, election["organisation_id"],
                                on_request=request_counter(db))
    found = list(client.contact_lists())
    accounts.lists_read(db, election["organisation_id"], found)
    return sorted(found, key=lambda item: (not item.get("favorite"),
                                           (item.get("name") or "").casefold()))


@bp.route(f"{PAGE}/list", methods=["POST"])
@login_required
def choose_list(election_id):
    election = load_election(election_id)
    form = ChooseListForm()
    back_to_lists = redirect(url_for("cc.lists", election_id=election_id))
    if not form.validate_on_submit():
        flash("Please choose a list with its Use this list button.", "error")
        return back_to_lists
    try:
        chosen = next((item for item in fetch_lists(election) if item["list_id"] == form.list_id.data), None)
    except GrantRevoked:
        return grant_again(election_id)
    except CCError as error:
        log.warning("Checking a chosen list failed: %s", error)
        flash(f"Could not check that list with Constant Contact. {in_plain_words(error)}", "error")
        return back_to_lists
    if chosen is None:
        flash("That list is not in your Constant Contact account any more. Please choose another.", "error")
        return back_to_lists
    others = sharing.sharing_elections(get_db(), election, chosen["list_id"])
    if others and election["cc_list_id"] != chosen["list_id"] and form.share.data != "yes":
        return render_template("cc/share_list.html", election=election, chosen=chosen, others=others,
                               form=form)
    save_list_choice(get_db(), election, chosen, current_user.id, others)
    return to_settings(election_id)


def save_list_choice(db, election, chosen, admin_id, others=()):
    """Point the election at a list; a new list means every voter who voted must be removed again.

    The list is in the account connected now, which is recorded (and clears any mark).
    """
    if election["cc_list_id"] == chosen["list_id"] and not election["cc_list_problem"]:
        flash(f"This election already uses the list {chosen['name']}.", "info")
        return
    account = accounts.list_chosen(tokens.get_connection(db, election["organisation_id"]))
    with immediate(db):
        db.execute("UPDATE elections SET cc_list_id = ?, cc_list_name = ?, cc_list_chosen_at = ?, "
                   "updated_at = ?, cc_list_account_id = ?, cc_list_account_name = ?, "
                   "cc_list_problem = ?, cc_list_problem_at = ? WHERE id = ?",
                   [chosen["list_id"], chosen["name"], clock.iso(), clock.iso(), *account.values(),
                    election["id"]])
        requeued = removals.requeue_voted(db, election["id"])
        shared = f" (shared with {', '.join(other['title'] for other in others)})" if others else ""
        record(db, election["id"], admin_id, "chose Constant Contact list", chosen["name"] + shared)
    message = f"This election now uses the Constant Contact list {chosen['name']}{shared}."
    if requeued:
        message += f" {requeued} voter(s) who already voted will be removed from it at the next sync."
    flash(message, "success")


# --- the sync -------------------------------------------------------------------------------

@bp.route(f"{PAGE}/sync", methods=["POST"])
@login_required
def sync_now(election_id):
    """Start this election's sync now in the background (same lock as the hourly run)."""
    election = load_election(election_id)
    if not election["cc_list_id"]:
        flash("Choose a Constant Contact list first.", "warning")
    elif election["cc_list_problem"]:
        flash(f"Nothing was synced. {accounts.problem_message(election)} "
              "Voters who voted stay queued until then.", "warning")
    elif start_background_sync(current_app.config, election_id):
        flash("Sync started. This page shows its result when it has finished.", "info")
    else:
        flash("A sync is already running; this page shows its result when it has finished.", "info")
    return to_settings(election_id)


@bp.route(f"{PAGE}/not-in-list.csv")
@login_required
def not_in_list_csv(election_id):
    """The emails of voters who voted but were not on the chosen list."""
    election = load_election(election_id)
    emails = not_in_list_emails(get_db(), election_id)
    return csv_response(["email"], ([email] for email in emails),
                        f"not-in-list-election-{election['id']}.csv")
