"""Identifiers and timestamps as CC writes them."""
import secrets
import string
import uuid

from eo_cc import clock

ACCOUNT_ID_ALPHABET = string.ascii_lowercase + string.digits


def stamp():
    """Now as CC writes it: ISO-8601 UTC with a Z."""
    return clock.iso().replace("+00:00", "Z")


def new_id():
    """A public id for a list, contact, custom field or activity (CC uses UUIDs)."""
    return str(uuid.uuid4())


def encoded_account_id():
    """An account id shaped like CC's `encoded_account_id` (e.g. p07e1l8cdif9dl)."""
    return "".join(secrets.choice(ACCOUNT_ID_ALPHABET) for _ in range(14))
