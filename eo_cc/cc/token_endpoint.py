"""CC's token endpoint: one request a second for eo_cc's whole API key, one refresh at a time.

Flask-free. CC answers 429 when an application asks its token endpoint more than about once a
second, whoever asks: the site's workers (a grant's code exchange, a list page's refresh, a
disconnect's revocation) and the hourly job share that second. So every token request books
its slot in the token pace (the same cross-process mechanism as the v3 pace, at its own
rate, held from before the request leaves until its answer is in), and a busy answer gets
one more try in a later turn.

CC rotates refresh tokens: a refresh token spent twice looks like a revoked grant. So a
refresh, and the saving of a new grant, happen under the connection's lock, shared by
threads and processes; whoever gets it second finds the new token already stored.
"""
import contextlib
import fcntl
import os
import time

import requests
from authlib.integrations.base_client import OAuthError

from ..db import instance_file
from .budget import open_lock_file
from .pace import SharedPace

TOKEN_PACE_FILE = "cc_pace_token"
LOCKS_FOLDER = "cc_connection_locks"
DEFAULT_RATE = 1  # CC support: about one token request a second per application
MAX_RETRY_AFTER_SECONDS = 30  # a page waits no longer than this for CC's second try
BUSY_OAUTH_ERRORS = ("server_error", "temporarily_unavailable")


def token_pace(config):
    """The pace of every token-endpoint request with this instance folder
    (CC_TOKEN_REQUESTS_PER_SECOND, default 1)."""
    rate = config.get("CC_TOKEN_REQUESTS_PER_SECOND") or DEFAULT_RATE
    return SharedPace(instance_file(config, TOKEN_PACE_FILE), rate)


def is_busy(error):
    """True when CC turned a token request away for being busy (429, 5xx): it used nothing."""
    if isinstance(error, requests.HTTPError):
        status = error.response.status_code if error.response is not None else None
        return status is not None and (status == 429 or status >= 500)
    if isinstance(error, OAuthError):
        return error.error in BUSY_OAUTH_ERRORS
    return False


def retry_after_seconds(error):
    """CC's Retry-After in seconds (capped), or 0 when it gave none; the pace waits anyway."""
    response = getattr(error, "response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER_SECONDS)
    except (TypeError, ValueError):
        return 0.0


def paced(pace, request, *, sleep=time.sleep):
    """Send one token request in its turn of the pace; when CC is busy, wait and send it once more.

    The second try takes a later turn (after Retry-After, when CC names one). Any other
    failure, and a second busy answer, are raised as they came.
    """
    try:
        with pace.turn():
            return request()
    except (requests.HTTPError, OAuthError) as error:
        if not is_busy(error):
            raise
        sleep(retry_after_seconds(error))
    with pace.turn():
        return request()


@contextlib.contextmanager
def connection_lock(config, organisation_id):
    """Hold the organisation's connection lock (every thread and process of this instance).

    flock belongs to the open file, so two threads of one site process exclude each other too.
    """
    folder = instance_file(config, LOCKS_FOLDER)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    fd = open_lock_file(os.path.join(folder, f"{int(organisation_id)}.lock"))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
