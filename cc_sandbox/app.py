"""The sandbox's Flask app: CC's OAuth and /v3 paths plus /_sandbox controls, on its own database."""
import secrets
import socket
import time
from pathlib import Path

from flask import Flask, Response, current_app, g, jsonify, redirect, request

from eo_cc.db import connect, one

from . import activities, api, control, oauth, store, tokens
from .api import account, bulk, contacts, custom_fields, lists
from .limits import DailyQuota, Faults, RateLimiter, Stats

LOCAL_ADDRESSES = {"127.0.0.1", "::1"}


class Sandbox:
    """Settings and in-memory state of one sandbox (limits, faults, statistics).

    CC's limits are on by default: 4 API requests a second and 10,000 a day per client_id, and about
    one token-endpoint request (token or revoke) a second per client_id. None (or 0) turns a rate off.
    Paging cursors expire after cursor_lifetime seconds (None: never).
    """

    def __init__(self, db_path, *, requests_per_second=4, daily_quota=10_000, token_lifetime=86_400,
                 activity_delay=1.0, token_requests_per_second=1, cursor_lifetime=3600, faults=None):
        self.db_path = str(db_path)
        self.limiter = RateLimiter(requests_per_second)
        self.quota = DailyQuota(daily_quota)
        self.token_limiter = RateLimiter(token_requests_per_second)
        self.token_lifetime = token_lifetime
        self.activity_delay = activity_delay
        self.cursor_lifetime = cursor_lifetime
        self.faults = Faults.from_dict(faults or {})
        self.stats = Stats()

    def set_faults(self, settings):
        """Replace the fault settings; {"expire_tokens": true} also expires every access token now.

        With the same seed as before the faults go on where they were (only the other settings
        change), so a test can change the activity outcome mid-run without replaying its faults."""
        faults = Faults.from_dict(settings)
        if faults.seed is not None and faults.seed == self.faults.seed:
            faults._rng = self.faults._rng
        self.faults = faults
        if settings.get("expire_tokens"):
            db = connect(self.db_path)
            try:
                tokens.expire_all_access_tokens(db)
            finally:
                db.close()


def create_app(db_path, **options):
    """Build the sandbox app over the SQLite file at db_path (created and migrated if new)."""
    app = Flask(__name__, template_folder=str(Path(__file__).parent / "templates"), static_folder=None)
    db = store.open_db(db_path)
    app.config.update(SECRET_KEY=session_secret(db), SESSION_COOKIE_NAME="cc_sandbox_session",
                      SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True)
    app.json.sort_keys = False
    db.close()
    app.extensions["cc_sandbox"] = Sandbox(db_path, **options)
    for module in (oauth, account, lists, contacts, custom_fields, bulk, control):
        app.register_blueprint(module.bp)
    app.register_error_handler(api.ApiError, api.api_error)
    app.register_error_handler(store.ListNotFound, api.list_not_found)
    app.before_request(open_db)
    app.before_request(guard_api)
    app.after_request(count_request)
    app.teardown_appcontext(close_db)
    app.add_url_rule("/", "home", lambda: redirect("/_sandbox/"))
    return app


def session_secret(db):
    """The key for the sandbox's session cookie, kept in its database so sign-ins survive restarts."""
    found = one(db, "SELECT value FROM settings WHERE key = 'secret_key'")
    if found:
        return found["value"]
    value = secrets.token_urlsafe(32)
    db["settings"].insert({"key": "secret_key", "value": value}, ignore=True)
    return one(db, "SELECT value FROM settings WHERE key = 'secret_key'")["value"]


def sandbox():
    return current_app.extensions["cc_sandbox"]


def open_db():
    g.db = connect(sandbox().db_path)
    if request.path.startswith("/_sandbox") and request.remote_addr not in LOCAL_ADDRESSES:
        return jsonify({"error": "The sandbox controls answer only on 127.0.0.1."}), 403
    return None


def close_db(exception=None):
    db = g.pop("db", None)
    if db is not None:
        db.close()


def guard_api():
    """Before any /v3 view: forbidden calls, injected faults, the Bearer token, CC's limits, the scope."""
    if not request.path.startswith("/v3"):
        return None
    if request.routing_exception is not None:
        return forbidden_call()
    response = inject_fault(sandbox().faults.draw())
    if response is not None:
        return response
    header = request.headers.get("Authorization", "")
    grant = tokens.bearer(g.db, header[7:]) if header[:7].lower() == "bearer " else None
    if grant is None:
        return api.errors(401, "unauthorized", "Unauthorized")
    g.grant = grant
    if not sandbox().limiter.allow(grant["client_id"]):
        return throttled()
    if not sandbox().quota.allow(grant["client_id"]):
        g.error_key = "quota_exceeded"
        return jsonify({"error_key": "quota_exceeded", "error_message": "Limit Exceeded"}), 429
    refused = api.scope_refusal(grant)
    if refused is not None:
        return refused
    activities.finish_due(g.db)
    return None


def throttled():
    g.error_key = "throttled"
    return jsonify({"error_key": "throttled", "error_message": "Too Many Requests"}), 429


def forbidden_call():
    """Record a call eo_cc must never make (deletes, PUT, anything unknown) and refuse it."""
    header = request.headers.get("Authorization", "")
    grant = tokens.bearer(g.db, header[7:]) if header[:7].lower() == "bearer " else None
    g.db["forbidden_calls"].insert({
        "method": request.method, "path": request.path,
        "query": request.query_string.decode(errors="replace"),
        "client_id": grant["client_id"] if grant else None, "at": store.stamp()})
    return api.errors(405, "method.not.allowed",
                      f"{request.method} {request.path} is not allowed in the sandbox.")


def inject_fault(kind):
    if kind == "error_500":
        return api.errors(500, "server_error", "There was a problem with our internal service.")
    if kind == "error_503":
        return api.errors(503, "service_unavailable", "Our internal service is temporarily unavailable.")
    if kind == "throttled":
        return throttled()
    if kind == "slow":
        g.error_key = "slow"
        time.sleep(sandbox().faults.slow_seconds)
    if kind == "drop":
        return drop_connection()
    return None


def drop_connection():
    """Close the socket with no response, so the client sees a connection error."""
    g.error_key = "dropped"
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    return Response(status=500)  # never reaches the client: writing it fails quietly


def count_request(response):
    if not request.path.startswith("/_sandbox"):
        rule = request.url_rule.rule if request.url_rule else request.path
        sandbox().stats.record(f"{request.method} {rule}", response.status_code, g.get("error_key"))
    return response
