"""When is an election open? One rule, used by the admin pages and the ballot box.

`state` in the database is what the admin did ('draft', 'open', 'closed'); the
voting window (opens_at/closes_at, UTC) opens and closes it automatically.
"""
from .. import clock


def effective_state(election, now=None):
    """'draft', 'scheduled', 'open' or 'closed' for an elections row."""
    now = now or clock.now()
    opens_at, closes_at = clock.parse(election["opens_at"]), clock.parse(election["closes_at"])
    if election["state"] == "closed" or (closes_at and now >= closes_at):
        return "closed"
    if election["state"] == "open" or (opens_at and now >= opens_at):
        return "open"
    return "scheduled" if opens_at else "draft"


def is_open(election, now=None):
    """True while ballots may be cast."""
    return effective_state(election, now) == "open"


def is_ballot_locked(election, now=None):
    """Questions, choices and the roster are locked once voting opens."""
    return effective_state(election, now) in ("open", "closed")
