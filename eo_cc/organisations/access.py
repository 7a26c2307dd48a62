"""Who may do what: the one table of roles per route, and the organisation a request acts in.

`ROLES` maps every endpoint of the app to the roles allowed to use it. One check before
every request reads it (so no view can forget), the templates read it through `can()` to
hide what a role cannot do, and the security tests sweep the URL map against it. A route
that is not in the table is refused.

The organisation a request acts in is the election's (routes with an election_id), the
one in the URL (organisation_id), or else the session's current one. A member of another
organisation gets 404, as if the election did not exist; a member whose role lacks the
right gets 403. A session remembers the membership it works in: when that member is
removed or their role lowered, their next request ends the session with a plain message.
"""
from flask import abort, current_app, flash, g, redirect, request, session, url_for
from flask_login import current_user, logout_user, user_logged_in, user_logged_out

from ..db import get_db, one
from . import members
from .members import ADMIN, OBSERVER, OWNER, RANK, ROLE_NAMES

PUBLIC = "public"          # anyone, signed in or not
SIGNED_IN = "signed in"    # any admin, in whichever organisation (the view checks the rest)
EVERYONE = frozenset({OWNER, ADMIN, OBSERVER})
EDITORS = frozenset({OWNER, ADMIN})
OWNERS = frozenset({OWNER})

ROLES = {
    # Pages for anyone: static files, signing in, the voters' side, invitation links.
    "static": PUBLIC,
    "index": PUBLIC,
    "auth.login": PUBLIC,
    "auth.signup": PUBLIC,
    "auth.signup_sent": PUBLIC,
    "auth.confirm_signup": PUBLIC,
    "voting.election_page": PUBLIC,
    "voting.ballot": PUBLIC,
    "voting.ballot_link": PUBLIC,
    "voting.check_receipt": PUBLIC,
    "voting.forgot": PUBLIC,
    "voting.sign_out": PUBLIC,
    "organisations.invitation": PUBLIC,
    # The admin's own account and organisations.
    "auth.logout": SIGNED_IN,
    "auth.account": SIGNED_IN,
    "elections.list_elections": SIGNED_IN,   # the current organisation's, or how to join one
    "organisations.switch": SIGNED_IN,       # only to an organisation the admin belongs to
    "organisations.create": SIGNED_IN,
    "organisations.accept": SIGNED_IN,       # only by the invited address
    # Read-only: observers too.
    "elections.show": EVERYONE,
    "elections.audit_log": EVERYONE,
    "results.show": EVERYONE,
    "results.download": EVERYONE,
    "results.ballot_file": EVERYONE,
    "cc.settings": EVERYONE,                 # the sync status; actions are editors'
    "organisations.leave": EVERYONE,
    # Running elections: owners and admins.
    "elections.create": EDITORS,
    "elections.edit": EDITORS,
    "elections.open_voting": EDITORS,
    "elections.close_voting": EDITORS,
    "elections.settings": EDITORS,
    "elections.delete_reminder": EDITORS,
    "questions.index": EDITORS,
    "questions.new": EDITORS,
    "questions.edit": EDITORS,
    "questions.delete": EDITORS,
    "questions.move": EDITORS,
    "roster.show": EDITORS,
    "roster.upload": EDITORS,
    "roster.add_voter": EDITORS,
    "roster.edit_voter": EDITORS,
    "roster.remove_voter": EDITORS,
    "roster.download": EDITORS,
    "roster.credentials": EDITORS,
    "cc.grant": EDITORS,
    "cc.callback": EDITORS,                  # in the organisation the grant started from
    "cc.lists": EDITORS,
    "cc.choose_list": EDITORS,
    "cc.sync_now": EDITORS,
    "cc.not_in_list_csv": EDITORS,
    "mailings.put_links": EDITORS,           # ballot links into CC, the roster <-> list check (issue 10);
    "mailings.keep_field": EDITORS,          #   observers see the panel's counts on cc.settings
    "mailings.check_list": EDITORS,
    "mailings.differences_csv": EDITORS,
    "mailings.add_missing": EDITORS,
    "mailings.remove_strangers": EDITORS,
    "mailings.send_links": EDITORS,
    "mailings.create_list": EDITORS,
    # The organisation itself: owners.
    "cc.disconnect": OWNERS,
    "organisations.members": OWNERS,
    "organisations.rename": OWNERS,
    "organisations.invite": OWNERS,
    "organisations.revoke_invitation": OWNERS,
    "organisations.change_role": OWNERS,
    "organisations.remove_member": OWNERS,
}

SESSION_KEY = "membership"


def init_app(app):
    """Call after security.init_app: a request without its CSRF token is refused before this."""
    app.before_request(check_access)
    app.context_processor(lambda: {"can": can, "membership": g.get("membership"),
                                   "role_names": ROLE_NAMES})
    user_logged_in.connect(forget_membership, app)
    user_logged_out.connect(forget_membership, app)


def forget_membership(sender, **extra):
    session.pop(SESSION_KEY, None)


def check_access():
    """Refuse the request unless the table allows the admin's role in its organisation."""
    if request.routing_exception is not None or request.endpoint is None:
        return None  # Flask answers 404 or 405
    allowed = ROLES.get(request.endpoint)
    if allowed == PUBLIC:
        return None
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    ended = end_stale_session()
    if ended is not None:
        return ended
    organisation_id = requested_organisation_id()
    found = members.membership(get_db(), organisation_id, current_user.id) if organisation_id else None
    if found is not None:
        remember(found)
    if allowed is None:
        abort(403)  # a route nobody has put in the table yet
    if allowed == SIGNED_IN:
        return None
    if found is None:
        abort(404)
    if found["role"] not in allowed:
        abort(403)
    return None


def requested_organisation_id():
    """The organisation this request acts in: the election's, the URL's, or the current one."""
    args = request.view_args or {}
    if "election_id" in args:
        election = one(get_db(), "SELECT organisation_id FROM elections WHERE id = ?",
                       [args["election_id"]])
        return election and election["organisation_id"]
    if "organisation_id" in args:
        return args["organisation_id"]
    remembered = session.get(SESSION_KEY)
    if remembered and remembered.get("admin_id") == current_user.id:
        return remembered["organisation_id"]
    first = members.memberships_of(get_db(), current_user.id)
    return first[0]["organisation_id"] if first else None


def end_stale_session():
    """Log out a session whose membership was removed or lowered since its last request."""
    remembered = session.get(SESSION_KEY)
    if not remembered or remembered.get("admin_id") != current_user.id:
        return None
    now = members.membership(get_db(), remembered["organisation_id"], current_user.id)
    if now is not None and RANK[now["role"]] >= RANK[remembered["role"]]:
        return None
    name = remembered["organisation_name"]
    if now is None:
        message = f"You are no longer a member of {name}, so you have been logged out."
    else:
        message = (f"Your role in {name} is now {ROLE_NAMES[now['role']]}, so you have been "
                   "logged out. Please log in again.")
    logout_user()
    flash(message, "info")
    return redirect(url_for("auth.login"))


def remember(found):
    """Make this the request's membership and the session's current organisation."""
    g.membership = found
    session[SESSION_KEY] = {"admin_id": found["admin_id"], "role": found["role"],
                            "organisation_id": found["organisation_id"],
                            "organisation_name": found["organisation_name"]}


def current_organisation_id():
    """The organisation this request acts in (None when the admin belongs to none)."""
    found = g.get("membership")
    return found["organisation_id"] if found else None


def can(endpoint):
    """Whether the current admin's role may use endpoint (for hiding links and buttons)."""
    allowed = ROLES.get(endpoint)
    if allowed in (PUBLIC, SIGNED_IN):
        return True
    found = g.get("membership")
    return bool(allowed and found and found["role"] in allowed)
