"""CC's OAuth2 server: sign-in and Accept pages, the token endpoint and revocation."""
import secrets
import time
from datetime import datetime, timezone
from urllib.parse import unquote, urlencode, urlsplit

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, session, url_for

from eo_cc.db import one

from . import store, tokens

bp = Blueprint("oauth", __name__, url_prefix="/oauth2/default/v1")

LOOPBACK_HOSTS = {"127.0.0.1", "localhost"}
SCOPE_WORDS = {  # CC's scopes, as the Accept page puts them to the account holder
    "account_read": "see your account's details: organisation name, contact email and the owner's name",
    "account_update": "change your account's details",
    "contact_data": "see and change your contacts, contact lists, custom fields and list memberships",
    "campaign_data": "see and change your email campaigns and their reports",
    "offline_access": "keep this access while you are signed out",
}


def error_page(message, status=400):
    return render_template("sandbox/error.html", message=message), status


def redirect_uri_allowed(client, uri):
    """Registered URIs, or any http loopback address (like a local development app)."""
    if uri in client["redirect_uris"]:
        return True
    parts = urlsplit(uri)
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS and not parts.fragment


def back_to_client(request_, **params):
    """Redirect to the client's redirect_uri with params and the original state."""
    if request_.get("state") is not None:
        params["state"] = request_["state"]
    joiner = "&" if "?" in request_["redirect_uri"] else "?"
    return redirect(request_["redirect_uri"] + joiner + urlencode(params))


@bp.get("/authorize")
def authorize():
    args = request.args
    client = store.get_client(g.db, args.get("client_id"))
    if client is None:
        return error_page("Unknown client_id: this application is not registered.")
    uri = args.get("redirect_uri", "")
    if not redirect_uri_allowed(client, uri):
        return error_page("The redirect_uri is not registered for this application.")
    pending = {"id": secrets.token_urlsafe(16), "client_id": client["client_id"], "redirect_uri": uri,
               "state": args.get("state"), "scope": args.get("scope") or "contact_data",
               "code_challenge": args.get("code_challenge")}
    if args.get("response_type") != "code":
        return back_to_client(pending, error="unsupported_response_type")
    unknown = [scope for scope in pending["scope"].split() if scope not in SCOPE_WORDS]
    if unknown:
        return back_to_client(pending, error="invalid_scope",
                              error_description=f"Unknown scope: {' '.join(unknown)}")
    if pending["code_challenge"] and args.get("code_challenge_method", "plain") != "S256":
        return back_to_client(pending, error="invalid_request",
                              error_description="code_challenge_method must be S256")
    session["authorization"] = pending
    return redirect(url_for("oauth.consent" if session.get("account_id") else "oauth.signin"))


@bp.route("/signin", methods=["GET", "POST"])
def signin():
    error = None
    if request.method == "POST":
        account = store.check_login(g.db, request.form.get("email"), request.form.get("password"))
        if account:
            session["account_id"] = account["id"]
            target = "oauth.consent" if session.get("authorization") else "control.index"
            return redirect(url_for(target))
        error = "That email and password do not match a Constant Contact sandbox account."
    return render_template("sandbox/signin.html", error=error, email=request.form.get("email", ""),
                           logins=store.demo_logins()), 401 if error else 200


@bp.post("/signout")
def signout():
    """Sign out of the sandbox; from the Accept page, sign in as someone else for the same request."""
    pending = session.get("authorization") if request.form.get("switch") else None
    session.clear()
    if pending:
        session["authorization"] = pending
        return redirect(url_for("oauth.signin"))
    return redirect(url_for("control.index"))


def signed_in_account():
    account_id = session.get("account_id")
    if account_id is None:
        return None
    return one(g.db, "SELECT id, email, organization_name FROM accounts WHERE id = ?", [account_id])


@bp.route("/consent", methods=["GET", "POST"])
def consent():
    pending = session.get("authorization")
    if not pending:
        return error_page("There is no authorization request waiting. Start again from the application.")
    account = signed_in_account()
    if account is None:
        return redirect(url_for("oauth.signin"))
    client = store.get_client(g.db, pending["client_id"])
    if request.method == "GET":
        return render_template("sandbox/consent.html", client=client, pending=pending,
                               account=account, scope_words=SCOPE_WORDS)
    if request.form.get("request_id") != pending["id"]:
        return error_page("This authorization request was replaced by a newer one. Start again.")
    session.pop("authorization")
    if request.form.get("decision") != "accept":
        return back_to_client(pending, error="access_denied",
                              error_description="The user denied access.")
    code = tokens.issue_code(g.db, pending["client_id"], account["id"], pending["redirect_uri"],
                             pending["scope"], pending["code_challenge"])
    return back_to_client(pending, code=code)


def oauth_error(status, error, description):
    g.error_key = error
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def authenticated_client():
    """The client app from HTTP Basic credentials, or None."""
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.username:
        return None
    client = store.get_client(g.db, unquote(auth.username))
    if client and secrets.compare_digest(client["client_secret"], unquote(auth.password or "")):
        return client
    return None


def start_token_request(endpoint):
    """The statistics entry for this token-endpoint request: when it arrived, from which app, for what."""
    now = time.time()
    auth = request.authorization
    form = request.form
    presented = form.get("refresh_token") if form.get("grant_type") == "refresh_token" else None
    return {"at": datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="milliseconds")[:-6] + "Z",
            "epoch": now, "endpoint": endpoint, "grant_type": form.get("grant_type"),
            "client_id": unquote(auth.username) if auth and auth.username else None,
            "refresh_token": tokens.fingerprint(presented), "_presented": presented}


def finish_token_request(entry, response, outcome, token_state=None):
    """Record the request with its outcome; a refresh also records whether its token was already spent."""
    presented = entry.pop("_presented")
    if presented is not None:
        token_state = token_state or tokens.refresh_token_state(g.db, presented)
        entry.update(refresh_token_state=token_state, refresh_token_spent=token_state == "spent")
    entry.update(status=response.status_code, outcome=outcome)
    current_app.extensions["cc_sandbox"].stats.record_token_request(entry)
    return response


def paced_client(entry):
    """(client, None) when the request may go on, else (None, the response): CC's token endpoint
    takes about one request a second per application, revocations included."""
    client = authenticated_client()
    if client is None:
        response = oauth_error(401, "invalid_client", "Client authentication failed.")
        response.headers["WWW-Authenticate"] = 'Basic realm="cc-sandbox"'
        return None, finish_token_request(entry, response, "invalid_client")
    if not current_app.extensions["cc_sandbox"].token_limiter.allow(client["client_id"]):
        response = oauth_error(429, "too_many_requests", "Too many token requests: about one a second.")
        return None, finish_token_request(entry, response, "too_many_requests")
    return client, None


@bp.post("/token")
def token():
    entry = start_token_request("token")
    client, refused = paced_client(entry)
    if refused:
        return refused
    sandbox = current_app.extensions["cc_sandbox"]
    form, lifetime = request.form, sandbox.token_lifetime
    try:
        if form.get("grant_type") == "authorization_code":
            issued = tokens.exchange_code(g.db, client["client_id"], form.get("code"),
                                          form.get("redirect_uri"), form.get("code_verifier"), lifetime)
        elif form.get("grant_type") == "refresh_token":
            issued = tokens.refresh(g.db, client["client_id"], form.get("refresh_token"), lifetime,
                                    refuse=sandbox.faults.refuse_refresh)
        else:
            response = oauth_error(400, "unsupported_grant_type", "grant_type must be authorization_code "
                                                                  "or refresh_token.")
            return finish_token_request(entry, response, "unsupported_grant_type")
    except tokens.GrantError as error:
        return finish_token_request(entry, oauth_error(400, error.error, str(error)), error.error,
                                    error.token_state)
    response = jsonify(issued)
    response.headers["Cache-Control"] = "no-store"
    return finish_token_request(entry, response, "issued", "live")


@bp.post("/revoke")
def revoke():
    entry = start_token_request("revoke")
    client, refused = paced_client(entry)
    if refused:
        return refused
    if not request.form.get("token"):
        response = oauth_error(400, "invalid_request", "The token parameter is required.")
        return finish_token_request(entry, response, "invalid_request")
    tokens.revoke(g.db, client["client_id"], request.form["token"])
    return finish_token_request(entry, current_app.response_class(status=200), "revoked")
