"""Authorization codes, access tokens and rotating refresh tokens (stored only as SHA-256 hashes)."""
import base64
import hashlib
import json
import secrets
import time

from eo_cc.db import immediate, one

from .ids import stamp

CODE_LIFETIME = 300


class GrantError(Exception):
    """An OAuth error for the token endpoint: str() is the error_description.

    For a refused refresh, `token_state` says why: "unknown", "spent" (already rotated away by an
    earlier refresh) or "revoked".
    """

    def __init__(self, error, description, token_state=None):
        super().__init__(description)
        self.error = error
        self.token_state = token_state


def digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


def s256(verifier):
    """The PKCE S256 challenge for a code_verifier."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def _b64(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def jwt_like(claims, padding=0):
    """A string shaped like a signed JWT (CC's tokens are ~1,000 characters)."""
    if padding:
        claims = dict(claims, pad=secrets.token_urlsafe(padding))
    signature = base64.urlsafe_b64encode(secrets.token_bytes(256)).decode().rstrip("=")
    return ".".join([_b64({"kid": "sandbox", "alg": "RS256"}), _b64(claims), signature])


def issue_code(db, client_id, account_id, redirect_uri, scope, code_challenge=None):
    """A single-use code valid for five minutes."""
    code = secrets.token_urlsafe(32)
    db["auth_codes"].insert({
        "code_hash": digest(code), "client_id": client_id, "account_id": account_id,
        "redirect_uri": redirect_uri, "scope": scope, "code_challenge": code_challenge,
        "expires_at": time.time() + CODE_LIFETIME,
    })
    return code


def exchange_code(db, client_id, code, redirect_uri, code_verifier, lifetime):
    """Trade a code for tokens, or raise GrantError."""
    with immediate(db):
        row = one(db, "SELECT * FROM auth_codes WHERE code_hash = ?", [digest(code or "")])
        _check_code(row, client_id, redirect_uri, code_verifier)
        db.execute("UPDATE auth_codes SET is_used = 1 WHERE code_hash = ?", [row["code_hash"]])
        grant_id = db["grants"].insert({
            "client_id": client_id, "account_id": row["account_id"], "scope": row["scope"],
            "created_at": stamp()}).last_pk
        return _issue(db, grant_id, client_id, row["account_id"], row["scope"], lifetime)


def _check_code(row, client_id, redirect_uri, code_verifier):
    if row is None or row["is_used"] or row["expires_at"] < time.time():
        raise GrantError("invalid_grant", "The authorization code is invalid or has expired.")
    if row["client_id"] != client_id:
        raise GrantError("invalid_grant", "The authorization code was issued to another client.")
    if row["redirect_uri"] != redirect_uri:
        raise GrantError("invalid_grant", "The 'redirect_uri' does not match the authorization request.")
    if row["code_challenge"] and (not code_verifier or s256(code_verifier) != row["code_challenge"]):
        raise GrantError("invalid_grant", "PKCE verification failed.")


def refresh(db, client_id, refresh_token, lifetime, refuse=False):
    """Rotate: the given refresh token and every earlier one of its grant stop working.

    With refuse (the refuse_refresh fault) the token is judged but never honoured.
    """
    with immediate(db):
        row = _refresh_row(db, refresh_token)
        state = token_state(row)
        if state != "live" or row["client_id"] != client_id or refuse:
            raise GrantError("invalid_grant", "The refresh token is invalid or expired.", state)
        db.execute("UPDATE refresh_tokens SET is_active = 0 WHERE grant_id = ?", [row["grant_id"]])
        db.execute("UPDATE refresh_tokens SET spent_at = ? WHERE token_hash = ?", [stamp(), row["token_hash"]])
        return _issue(db, row["grant_id"], client_id, row["account_id"], row["scope"], lifetime)


def _refresh_row(db, refresh_token):
    return one(db, """SELECT r.*, g.client_id, g.account_id, g.scope FROM refresh_tokens r
                      JOIN grants g ON g.id = r.grant_id WHERE r.token_hash = ?""",
               [digest(refresh_token or "")])


def token_state(row):
    """"live", "spent" (a refresh already rotated it away), "revoked" or "unknown"."""
    if row is None:
        return "unknown"
    if row["spent_at"]:
        return "spent"
    return "live" if row["is_active"] else "revoked"


def refresh_token_state(db, refresh_token):
    """The state of a refresh token as presented, without using it."""
    return token_state(_refresh_row(db, refresh_token))


def fingerprint(token):
    """A short, one-way tag for a token, so the statistics can show a token presented twice."""
    return digest(token)[:12] if token else None


def _issue(db, grant_id, client_id, account_id, scope, lifetime):
    now = time.time()
    access = jwt_like({"iss": "cc-sandbox", "cid": client_id, "uid": account_id, "scp": scope.split(),
                       "iat": int(now), "exp": int(now + lifetime)}, padding=300)
    refresh_token = secrets.token_urlsafe(32)
    db["access_tokens"].insert({"token_hash": digest(access), "grant_id": grant_id,
                                "expires_at": now + lifetime})
    db["refresh_tokens"].insert({"token_hash": digest(refresh_token), "grant_id": grant_id,
                                 "created_at": stamp()})
    return {"access_token": access, "token_type": "Bearer", "expires_in": int(lifetime),
            "refresh_token": refresh_token, "scope": scope,
            "id_token": jwt_like({"sub": str(account_id), "aud": client_id, "iat": int(now)})}


def bearer(db, access_token):
    """The grant (client_id, account_id) behind a live access token, or None."""
    return one(db, """SELECT g.id AS grant_id, g.client_id, g.account_id, g.scope FROM access_tokens a
                      JOIN grants g ON g.id = a.grant_id
                      WHERE a.token_hash = ? AND a.is_revoked = 0 AND a.expires_at > ?""",
               [digest(access_token or ""), time.time()])


def revoke(db, client_id, token):
    """Revoke an access or refresh token of this client (unknown tokens are fine, as in RFC 7009)."""
    hashed = digest(token or "")
    with db.atomic():
        db.execute("""UPDATE access_tokens SET is_revoked = 1 WHERE token_hash = ?
                      AND grant_id IN (SELECT id FROM grants WHERE client_id = ?)""", [hashed, client_id])
        db.execute("""UPDATE refresh_tokens SET is_active = 0 WHERE token_hash = ?
                      AND grant_id IN (SELECT id FROM grants WHERE client_id = ?)""", [hashed, client_id])


def expire_all_access_tokens(db):
    """Fault: every access token issued so far is expired from now on."""
    db.execute("UPDATE access_tokens SET expires_at = ? WHERE expires_at > ?", [time.time(), time.time()])


def grant_directly(db_path, client_id, account_id, redirect_uri, lifetime=86400,
                   scope="contact_data offline_access"):
    """A token as if the account holder clicked Accept: for tests and benchmarks, no browser.

    It never goes through the token endpoint, so it is neither paced nor in the statistics.
    """
    from .store import open_db

    db = open_db(db_path)
    try:
        code = issue_code(db, client_id, account_id, redirect_uri, scope)
        return exchange_code(db, client_id, code, redirect_uri, None, lifetime)
    finally:
        db.close()
