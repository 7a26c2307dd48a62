"""The /v3 API, one module per kind of CC resource, and what they share: CC's error array, query
arguments, cursor paging (cursors that expire), JSON bodies and scopes.

Each module has its own blueprint under /v3 (`app.create_app` registers them); errors raised as
`ApiError` (or `store.ListNotFound`) become CC's error array through the app's error handlers.
"""
import base64
import json
import time

from flask import current_app, g, jsonify, request

ACCOUNT_SCOPES = frozenset({"account_read", "account_update"})
CONTACT_SCOPES = frozenset({"contact_data"})


class ApiError(Exception):
    """An error answer: `status`, CC's `key`; str() is the error_message."""

    def __init__(self, status, key, message):
        super().__init__(message)
        self.status, self.key = status, key


class QueryError(ApiError):
    """A 400 for a bad query argument or cursor."""

    def __init__(self, message):
        super().__init__(400, "query.param.invalid", message)


def errors(status, key, message):
    """CC's error body: an array of {error_key, error_message}."""
    g.error_key = key
    return jsonify([{"error_key": key, "error_message": message}]), status


def api_error(error):
    return errors(error.status, error.key, str(error))


def list_not_found(error):
    return errors(404, "lists.api.not_found", str(error))


def sandbox():
    return current_app.extensions["cc_sandbox"]


def scope_refusal(grant):
    """A 403 when the grant's scope lacks what the path needs (/account: account_read or
    account_update; everything else eo_cc calls: contact_data), else None."""
    needed = ACCOUNT_SCOPES if request.path.startswith("/v3/account") else CONTACT_SCOPES
    if needed.isdisjoint(grant["scope"].split()):
        return errors(403, "access_denied", "Forbidden request: this access token's scope lacks "
                                            f"{' or '.join(sorted(needed))}.")
    return None


def json_body():
    """The request's JSON object, or raise ApiError (415 when it is not JSON at all, as CC answers)."""
    if not request.is_json:
        raise ApiError(415, "unsupported.media.type", "Content-Type must be application/json.")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "json.invalid", "The request body must be a JSON object.")
    return body


def int_arg(name, default, low, high):
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise QueryError(f"{name} must be an integer from {low} to {high}.") from None
    if not low <= value <= high:
        raise QueryError(f"{name} must be an integer from {low} to {high}.")
    return value


def encode_cursor(state):
    """An opaque cursor carrying the listing's filters, where it got to, and when it was issued."""
    return base64.urlsafe_b64encode(json.dumps({**state, "issued": time.time()}).encode()).decode().rstrip("=")


def decode_cursor(text):
    """The state a cursor carries; a cursor that cannot be read, or older than the sandbox's
    cursor_lifetime (seconds; None for never), is a 400."""
    try:
        state = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except ValueError:
        state = None
    if (not isinstance(state, dict) or not isinstance(state.get("after"), int)
            or not isinstance(state.get("issued"), (int, float))):
        raise QueryError("cursor is not valid.")
    lifetime = sandbox().cursor_lifetime
    if lifetime is not None and time.time() - state.pop("issued") > lifetime:
        raise QueryError("cursor has expired: start the listing again from its first page.")
    state.pop("issued", None)
    return state


CURSOR_ONLY = {"after", "total"}  # carried by the cursor, never taken from the query string


def query_state(defaults):
    """The query's filters: from the cursor when paging on, else from the query string."""
    if "cursor" in request.args:
        return {**defaults, **decode_cursor(request.args["cursor"])}
    return {key: default if key in CURSOR_ONLY else request.args.get(key, default)
            for key, default in defaults.items()}


def page_links(path, state, last_id, limit, has_more):
    if not has_more:
        return {}
    cursor = encode_cursor({**state, "after": last_id})
    return {"next": {"href": f"/v3/{path}?cursor={cursor}&limit={limit}"}}
