"""Each organisation's Constant Contact connection: encrypted tokens and a ready API client.

Flask-free. `client_settings` is the one description of eo_cc's OAuth client at Constant
Contact: the site's Authlib registry, the sync's sessions and revocation all use it.
Tokens are sealed with Box(SECRET_KEY, "cc-tokens") in `cc_connections`.
CC rotates refresh tokens (each refresh invalidates the previous one), so a refreshed
token is saved by Authlib's update_token hook before the new access token is used, and a
refresh happens under the connection's lock in the token pace (see token_endpoint).
Do not call a client's methods inside an open transaction of your own: a rollback
would also undo the saved token.
"""
import contextlib
import logging
import time

import requests
from authlib.integrations.base_client import InvalidTokenError, MissingTokenError, OAuthError
from authlib.integrations.requests_client import OAuth2Session

from .. import clock
from ..crypto import Box
from ..db import one
from .api import CCError, Client, GrantRevoked
from .pace import api_pace
from .token_endpoint import connection_lock, paced, token_pace

log = logging.getLogger(__name__)

BOX_PURPOSE = "cc-tokens"
SCOPE = "account_read contact_data offline_access"  # account_read: which account was granted
REFRESH_LEEWAY_SECONDS = 300  # refresh when expired or within 5 minutes of expiry
TIMEOUT = (5, 30)
PUBLIC_COLUMNS = ("id, organisation_id, expires_at, scope, account_name, needs_grant, last_error, "
                  "connected_at, updated_at, refresh_token_encrypted IS NOT NULL AS has_refresh_token, "
                  "account_id, account_email, account_checked_at")


def client_settings(config):
    """eo_cc's OAuth client at Constant Contact, as Authlib's clients take it."""
    return {"client_id": config.get("CC_CLIENT_ID"), "client_secret": config.get("CC_CLIENT_SECRET"),
            "scope": SCOPE, "token_endpoint_auth_method": "client_secret_basic",
            "default_timeout": TIMEOUT}


def check_token_response(response):
    """A token endpoint answer that is no token is an error, whatever its body looks like.

    Authlib takes any JSON object without an "error" key for a token, so a 429 with another
    body would be stored as one. Busy (429, 5xx): requests.HTTPError; no access token:
    OAuthError. An OAuth error body ({"error": ...}) goes on to Authlib as before.
    """
    if response.status_code == 429 or response.status_code >= 500:
        response.raise_for_status()
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not ("error" in body or "access_token" in body):
        if response.status_code >= 400:
            response.raise_for_status()
        raise OAuthError(error="invalid_token_response",
                         description="Constant Contact's answer held no access token")
    return response


def token_compliance_fix(session):
    """Authlib's hook for every session that talks to the token endpoint."""
    for hook in ("access_token_response", "refresh_token_response"):
        session.register_compliance_hook(hook, check_token_response)


def save_token(db, secret_key, organisation_id, token, account_name=None):
    """Store (insert or replace) an organisation's token, encrypted; clears needs_grant."""
    box = Box(secret_key, BOX_PURPOSE)
    refresh_token = token.get("refresh_token")
    now = clock.iso()
    db.execute(
        """INSERT INTO cc_connections (organisation_id, access_token_encrypted,
               refresh_token_encrypted, expires_at, scope, account_name, needs_grant, last_error,
               connected_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, 0, NULL, ?, ?)
           ON CONFLICT (organisation_id) DO UPDATE SET
               access_token_encrypted = excluded.access_token_encrypted,
               refresh_token_encrypted = excluded.refresh_token_encrypted,
               expires_at = excluded.expires_at, scope = excluded.scope,
               account_name = coalesce(excluded.account_name, cc_connections.account_name),
               needs_grant = 0, last_error = NULL, updated_at = excluded.updated_at""",
        [organisation_id, box.seal(token["access_token"]),
         box.seal(refresh_token) if refresh_token else None, _expires_at(token),
         _scope_text(token.get("scope")), account_name, now, now],
    )


def load_token(db, secret_key, organisation_id):
    """The organisation's token as an Authlib token dict, or None when not connected.

    Raises ValueError when the stored tokens cannot be decrypted (the secret key changed).
    """
    row = one(db, "SELECT * FROM cc_connections WHERE organisation_id = ?", [organisation_id])
    if row is None:
        return None
    return _token_from_row(Box(secret_key, BOX_PURPOSE), row)


def get_connection(db, organisation_id):
    """The connection row without any token (has_refresh_token says if one is kept)."""
    return one(db, f"SELECT {PUBLIC_COLUMNS} FROM cc_connections WHERE organisation_id = ?",
               [organisation_id])


def mark_needs_grant(db, organisation_id, reason):
    """Flag the connection as needing a new grant; the row and its tokens are kept."""
    db.execute("UPDATE cc_connections SET needs_grant = 1, last_error = ?, updated_at = ? "
               "WHERE organisation_id = ?", [reason, clock.iso(), organisation_id])


def delete_connection(db, secret_key, organisation_id):
    """Forget the connection; returns its decrypted token so it can be revoked (or None)."""
    with db.atomic():
        row = one(db, "SELECT * FROM cc_connections WHERE organisation_id = ?", [organisation_id])
        db.execute("DELETE FROM cc_connections WHERE organisation_id = ?", [organisation_id])
    if row is None:
        return None
    try:
        return _token_from_row(Box(secret_key, BOX_PURPOSE), row)
    except ValueError:
        return {}  # undecryptable: deleted, but there is nothing we could revoke


def revoke(config, token):
    """Ask CC to revoke a token (the refresh token when there is one), in the token pace; never raises."""
    secret = token.get("refresh_token") or token.get("access_token")
    if not (secret and config.get("CC_REVOKE_URL")):
        return
    hint = "refresh_token" if token.get("refresh_token") else "access_token"

    def send():
        response = OAuth2Session(**client_settings(config)).revoke_token(
            config["CC_REVOKE_URL"], token=secret, token_type_hint=hint)
        if response.status_code == 429 or response.status_code >= 500:
            response.raise_for_status()  # busy: paced() tries once more
        return response

    try:
        response = paced(token_pace(config), send)
        if response.status_code >= 400:
            log.warning("CC revoke answered %s", response.status_code)
    except requests.RequestException as error:
        log.warning("CC revoke failed: %s", error)


def make_client(db, config, organisation_id, *, pacer=None, on_request=None):
    """A cc_api.Client acting for this organisation; GrantRevoked when there is no usable connection."""
    row = get_connection(db, organisation_id)
    if row is None:
        raise GrantRevoked(None, "not_connected", "Constant Contact is not connected")
    if row["needs_grant"]:
        raise GrantRevoked(None, "needs_grant", row["last_error"] or "grant access again")
    try:
        token = load_token(db, config["SECRET_KEY"], organisation_id)
    except ValueError:
        reason = "the stored tokens cannot be decrypted; grant access again"
        mark_needs_grant(db, organisation_id, reason)
        raise GrantRevoked(None, "undecryptable", reason) from None
    session = ConnectionSession(db, config, organisation_id, token)
    return Client(session, config["CC_API_BASE_URL"], pacer=pacer or api_pace(config),
                  timeout=TIMEOUT, on_request=on_request, refresh=session.force_refresh,
                  on_grant_revoked=session.grant_revoked)


class ConnectionSession(OAuth2Session):
    """An OAuth2Session for one organisation: saves rotated tokens, turns refusals into GrantRevoked."""

    def __init__(self, db, config, organisation_id, token):
        self._db = db
        self._config = config
        self._secret_key = config["SECRET_KEY"]
        self._organisation_id = organisation_id
        self._token_pace = token_pace(config)
        super().__init__(**client_settings(config), token=token,
                         token_endpoint=config["CC_ACCESS_TOKEN_URL"],
                         update_token=self._store_token, leeway=REFRESH_LEEWAY_SECONDS)
        token_compliance_fix(self)

    def request(self, method, url, withhold_token=False, auth=None, **kwargs):
        try:
            return super().request(method, url, withhold_token=withhold_token, auth=auth, **kwargs)
        except (InvalidTokenError, MissingTokenError) as error:
            # Expired (or missing) with no refresh token to renew it.
            raise self.grant_revoked(
                f"the access token expired and there is no refresh token ({error.error})") from None

    def refresh_token(self, url=None, refresh_token=None, **kwargs):
        """Authlib's refresh, one at a time per connection and in the token pace.

        Under the connection's lock, a token another page or process stored meanwhile (a
        refresh or a new grant) is taken instead of spending ours: CC rotates refresh tokens,
        and spending one twice would look like a revoked grant. CC's refusals and outages
        become CCErrors; a busy answer gets one more try in a later turn.
        """
        used = refresh_token or self.token.get("refresh_token")
        with connection_lock(self._config, self._organisation_id):
            stored = load_token(self._db, self._secret_key, self._organisation_id)
            if stored is None:  # disconnected meanwhile: saving a refreshed token would bring it back
                raise GrantRevoked(None, "not_connected", "Constant Contact was disconnected")
            if stored.get("refresh_token") not in (None, used):
                self.token = stored
                if not self.token.is_expired(leeway=self.leeway):
                    return self.token
                used = stored["refresh_token"]
            try:
                with token_endpoint_errors():
                    return paced(self._token_pace, lambda: OAuth2Session.refresh_token(
                        self, url, refresh_token=used, **kwargs))
            except GrantRevoked as refused:
                raise self.grant_revoked(refused.message, 400, "invalid_grant") from None

    def force_refresh(self):
        """Refresh now, whatever the expiry says (used once after a 401)."""
        self.refresh_token(self.metadata["token_endpoint"],
                           refresh_token=self.token.get("refresh_token"))

    def grant_revoked(self, reason, status=None, error_key="unauthorized"):
        """Record that access must be granted again; returns the GrantRevoked to raise."""
        mark_needs_grant(self._db, self._organisation_id, reason)
        return GrantRevoked(status, error_key, reason)

    def _store_token(self, token, refresh_token=None, access_token=None):
        save_token(self._db, self._secret_key, self._organisation_id, token)


@contextlib.contextmanager
def token_endpoint_errors():
    """Token endpoint failures as CCErrors; a refused refresh token as GrantRevoked."""
    try:
        yield
    except OAuthError as error:
        description = error.description or "the token refresh was refused"
        if error.error == "invalid_grant":
            raise GrantRevoked(400, "invalid_grant", description) from None
        retryable = error.error in ("server_error", "temporarily_unavailable")
        raise CCError(None, error.error, description, retryable=retryable) from None
    except requests.HTTPError as error:
        status = error.response.status_code if error.response is not None else None
        raise CCError(status, "token_endpoint", f"token refresh failed: {error}",
                      retryable=status is None or status == 429 or status >= 500) from error
    except (requests.Timeout, requests.ConnectionError) as error:
        raise CCError(None, "token_endpoint", f"token refresh failed: {error}",
                      retryable=True) from error
    except ValueError as error:  # Authlib: the token endpoint answered with something not JSON
        raise CCError(None, "token_endpoint", str(error), retryable=True) from error


def _token_from_row(box, row):
    refresh = row["refresh_token_encrypted"]
    return {
        "access_token": box.open(row["access_token_encrypted"]),
        "refresh_token": box.open(refresh) if refresh else None,
        "token_type": "Bearer",
        "expires_at": row["expires_at"],
        "scope": row["scope"],
    }


def _expires_at(token):
    """Epoch seconds, from expires_at or (as CC sends it) expires_in seconds from now."""
    if token.get("expires_at") is not None:
        return int(token["expires_at"])
    if token.get("expires_in") is not None:
        return int(time.time()) + int(token["expires_in"])
    return None


def _scope_text(scope):
    if isinstance(scope, (list, tuple)):
        return " ".join(scope)
    return scope
