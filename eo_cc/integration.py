"""Integration Settings: connect an admin's Constant Contact account and choose each election's list.

One CC connection per admin (CC's rotating refresh tokens would make two copies
fight); each election keeps its own list. Tokens go straight from the OAuth
callback into `cc_tokens` (encrypted); they never touch the session cookie.
"""
import logging

import requests
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from flask import (Blueprint, current_app, flash, redirect, render_template, request, session,
                   url_for)
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.routing import BuildError
from wtforms import HiddenField
from wtforms.validators import InputRequired, Length

from . import audit, cc_api, cc_tokens, clock
from .db import get_db, immediate, one
from .elections import load_election
from .sync_ledger import request_counter
from .sync_resolve import remember_list_sizes
from .sync_status import sync_status

bp = Blueprint("integration", __name__)
log = logging.getLogger(__name__)

CC_LISTS_PAGE = "https://app.constantcontact.com/pages/contacts/ui#lists"
GRANT_ELECTION_KEY = "cc_grant_election_id"
REVOKE_TIMEOUT = (3, 5)
TOKEN_TIMEOUT = (5, 30)


def init_app(app):
    """Register the `cc` OAuth client with this app's endpoints and credentials.

    Authlib's Flask registry belongs to the one app it was initialised with, so each app
    gets its own (the factory may build several in one process); views reach it through
    app.extensions, where Authlib puts it.
    """
    oauth = OAuth(app)
    client_kwargs = {"scope": "contact_data offline_access",
                     "token_endpoint_auth_method": "client_secret_basic",
                     "default_timeout": TOKEN_TIMEOUT}
    if app.config.get("CC_USE_PKCE"):
        client_kwargs["code_challenge_method"] = "S256"
    oauth.register(
        "cc",
        client_id=app.config.get("CC_CLIENT_ID"),
        client_secret=app.config.get("CC_CLIENT_SECRET"),
        authorize_url=app.config["CC_AUTHORIZE_URL"],
        access_token_url=app.config["CC_ACCESS_TOKEN_URL"],
        api_base_url=app.config["CC_API_BASE_URL"],
        client_kwargs=client_kwargs,
    )


def cc_oauth():
    """This app's Authlib client for Constant Contact."""
    return current_app.extensions["authlib.integrations.flask_client"].cc


class ChooseListForm(FlaskForm):
    """One "Use this list" button; the name is re-read from CC, never trusted from the form."""

    list_id = HiddenField(validators=[InputRequired(), Length(max=200)])
    list_name = HiddenField(validators=[Length(max=500)])


def is_configured():
    return bool(current_app.config.get("CC_CLIENT_ID") and current_app.config.get("CC_CLIENT_SECRET"))


def url_or(endpoint, fallback, **values):
    """url_for(endpoint), or url_for(fallback) while that page does not exist yet."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return url_for(fallback)


def settings_url(election_id):
    return url_for("integration.settings", election_id=election_id)


def mailings_still_on(election):
    """The eo_cc mailings still ticked, which would double the CC list's mailings."""
    names = []
    if election["has_announcement_email"]:
        names.append("the announcement email")
    if election["has_reminder_emails"]:
        names.append("reminder emails")
    return names


@bp.route("/elections/<int:election_id>/integration")
@login_required
def settings(election_id):
    election = load_election(election_id)
    db = get_db()
    return render_template(
        "integration/settings.html", election=election,
        connection=cc_tokens.get_connection(db, current_user.id),
        is_configured=is_configured(),
        callback_url=url_for("integration.callback", _external=True),
        double_mailings=mailings_still_on(election) if election["cc_list_id"] else [],
        election_settings_url=url_or("elections.settings", "elections.list_elections",
                                     election_id=election_id),
        election_url=url_or("elections.show", "elections.list_elections", election_id=election_id),
        sync_status=sync_status(db, election_id, current_app.config),
    )


@bp.route("/elections/<int:election_id>/integration/grant", methods=["POST"])
@login_required
def grant(election_id):
    """Send the admin to Constant Contact to accept; the callback comes back to this election."""
    load_election(election_id)
    if not is_configured():
        flash("Constant Contact is not configured on this server (CC_CLIENT_ID and CC_CLIENT_SECRET).",
              "error")
        return redirect(settings_url(election_id))
    session[GRANT_ELECTION_KEY] = election_id
    return cc_oauth().authorize_redirect(url_for("integration.callback", _external=True))


@bp.route("/integration/cc/callback")
@login_required
def callback():
    """Constant Contact's redirect after Accept or Deny: one fixed URI for every election."""
    election_id = session.pop(GRANT_ELECTION_KEY, None)
    back = return_url(election_id)
    error = request.args.get("error")
    if error:
        if error == "access_denied":
            flash("You did not grant access; nothing changed.", "info")
        else:
            flash(f"Constant Contact did not grant access ({error}); nothing changed.", "error")
        return redirect(back)
    token = exchange_code()
    if token is None:
        return redirect(back)
    cc_tokens.save_token(get_db(), current_app.config["SECRET_KEY"], current_user.id, dict(token))
    flash("eo_cc is now configured to integrate with your Constant Contact account.", "success")
    return redirect(back)


def return_url(election_id):
    """The Integration Settings page the grant started from, if it is still this admin's."""
    if election_id is not None and one(get_db(), "SELECT id FROM elections WHERE id = ? AND admin_id = ?",
                                       [election_id, current_user.id]):
        return settings_url(election_id)
    return url_for("elections.list_elections")


def exchange_code():
    """Trade the code for tokens; on any failure flash why and return None (nothing stored)."""
    try:
        return cc_oauth().authorize_access_token()
    except MismatchingStateError:
        flash("That Constant Contact sign-in had expired or did not start here; nothing changed. "
              "Please click Grant access again.", "error")
    except OAuthError as error:
        log.warning("CC token exchange refused: %s", error)
        flash(f"Constant Contact refused the grant ({error.error or 'unknown error'}); nothing changed. "
              "Please click Grant access again.", "error")
    except requests.RequestException as error:
        log.warning("CC token exchange failed: %s", error)
        flash("Could not reach Constant Contact to finish the grant; nothing changed. "
              "Please try Grant access again in a few minutes.", "error")
    return None


@bp.route("/elections/<int:election_id>/integration/lists")
@login_required
def lists(election_id):
    election = load_election(election_id)
    if cc_tokens.get_connection(get_db(), current_user.id) is None:
        flash("Grant access to your Constant Contact account first.", "info")
        return redirect(settings_url(election_id))
    try:
        contact_lists = fetch_lists()
    except cc_api.GrantRevoked:
        return grant_again(election_id)
    except cc_api.CCError as error:
        return render_template("integration/lists.html", election=election, contact_lists=None,
                               error=str(error), cc_lists_page=CC_LISTS_PAGE)
    return render_template("integration/lists.html", election=election, contact_lists=contact_lists,
                           error=None, cc_lists_page=CC_LISTS_PAGE)


def fetch_lists():
    """All the admin's CC lists, favourites first, then by name.

    The requests count against the shared daily budget, and the member counts are kept
    so the next sync can choose its cheaper look-up without asking again.
    """
    db = get_db()
    client = cc_tokens.make_client(db, current_app.config, current_user.id,
                                   on_request=request_counter(db))
    lists = list(client.contact_lists())
    remember_list_sizes(db, lists)
    return sorted(lists, key=lambda item: (not item.get("favorite"),
                                           (item.get("name") or "").casefold()))


def grant_again(election_id):
    flash("Constant Contact no longer accepts eo_cc's access to your account. "
          "Please Grant access again.", "warning")
    return redirect(settings_url(election_id))


@bp.route("/elections/<int:election_id>/integration/list", methods=["POST"])
@login_required
def choose_list(election_id):
    election = load_election(election_id)
    form = ChooseListForm()
    if not form.validate_on_submit():
        flash("Please choose a list with its Use this list button.", "error")
        return redirect(url_for("integration.lists", election_id=election_id))
    try:
        chosen = next((item for item in fetch_lists() if item["list_id"] == form.list_id.data), None)
    except cc_api.GrantRevoked:
        return grant_again(election_id)
    except cc_api.CCError as error:
        flash(f"Could not check that list with Constant Contact: {error}. Please try again.", "error")
        return redirect(url_for("integration.lists", election_id=election_id))
    if chosen is None:
        flash("That list is not in your Constant Contact account any more. Please choose another.", "error")
        return redirect(url_for("integration.lists", election_id=election_id))
    save_list_choice(get_db(), election, chosen, current_user.id)
    return redirect(settings_url(election_id))


def save_list_choice(db, election, chosen, admin_id):
    """Point the election at a list; a new list means every voter who voted must be removed again."""
    if election["cc_list_id"] == chosen["list_id"]:
        flash(f"This election already uses the list {chosen['name']}.", "info")
        return
    with immediate(db):
        db.execute("UPDATE elections SET cc_list_id = ?, cc_list_name = ?, cc_list_chosen_at = ?, "
                   "updated_at = ? WHERE id = ?",
                   [chosen["list_id"], chosen["name"], clock.iso(), clock.iso(), election["id"]])
        requeued = requeue_voted(db, election["id"])
        audit.record(db, election["id"], admin_id, "chose Constant Contact list", chosen["name"])
    message = f"This election now uses the Constant Contact list {chosen['name']}."
    if requeued:
        message += f" {requeued} voter(s) who already voted will be removed from it at the next sync."
    flash(message, "success")


def requeue_voted(db, election_id):
    """Queue a removal for every voter who has voted, starting afresh on the election's current list."""
    now = clock.iso()
    cursor = db.execute("""
        INSERT INTO cc_removals (election_id, email, state, attempts, queued_at, updated_at)
        SELECT election_id, email, 'queued', 0, :now, :now FROM voters
        WHERE election_id = :election_id AND has_voted = 1
        ON CONFLICT (election_id, email) DO UPDATE SET
            state = 'queued', list_id = NULL, contact_id = NULL, activity_id = NULL,
            attempts = 0, last_error = NULL, queued_at = :now, updated_at = :now
        """, {"election_id": election_id, "now": now})
    return cursor.rowcount


@bp.route("/elections/<int:election_id>/integration/disconnect", methods=["POST"])
@login_required
def disconnect(election_id):
    """Forget the admin's CC connection (all their elections) and revoke it at CC, best effort."""
    load_election(election_id)
    db = get_db()
    token = cc_tokens.delete_connection(db, current_app.config["SECRET_KEY"], current_user.id)
    if token is None:
        flash("There was no Constant Contact connection to disconnect.", "info")
        return redirect(settings_url(election_id))
    revoke(token)
    audit.record(db, election_id, current_user.id, "disconnected Constant Contact")
    flash("Disconnected from Constant Contact. eo_cc no longer has access to your account.", "success")
    return redirect(settings_url(election_id))


def revoke(token):
    """Ask CC to revoke the refresh token; a failure never stops the disconnect."""
    config = current_app.config
    secret = token.get("refresh_token") or token.get("access_token")
    if not (secret and config.get("CC_REVOKE_URL")):
        return
    hint = "refresh_token" if token.get("refresh_token") else "access_token"
    try:
        response = requests.post(config["CC_REVOKE_URL"], data={"token": secret, "token_type_hint": hint},
                                 auth=(config["CC_CLIENT_ID"] or "", config["CC_CLIENT_SECRET"] or ""),
                                 timeout=REVOKE_TIMEOUT)
        if response.status_code >= 400:
            log.warning("CC revoke answered %s", response.status_code)
    except requests.RequestException as error:
        log.warning("CC revoke failed: %s", error)
