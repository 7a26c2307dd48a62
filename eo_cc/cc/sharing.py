"""A Constant Contact list chosen by more than one election of an organisation.

A member leaves a shared list only once they have voted in every election on it that is not
closed and whose roster holds them: they may get one reminder too many, never one too few.
Their removal stays queued ("held") until then; when one of the elections closes, the rule
counts only the others.
"""
from .. import clock
from ..db import rows
from .removals import QUEUED

NOT_CLOSED = "{e}.state != 'closed' AND ({e}.closes_at IS NULL OR {e}.closes_at > {now})"

# The removal {r} waits: its voter is on the roster of another not-closed election of the same
# organisation on the same list and has not voted there yet.
_HELD = f"""EXISTS (
    SELECT 1 FROM elections mine
    JOIN elections other ON other.organisation_id = mine.organisation_id
                        AND other.cc_list_id = mine.cc_list_id AND other.id != mine.id
    JOIN voters waiting ON waiting.election_id = other.id AND waiting.email = {{r}}.email
                       AND waiting.has_voted = 0
    WHERE mine.id = {{r}}.election_id AND {NOT_CLOSED.format(e="other", now="{now}")})"""


def held(removal="r", now="?"):
    """SQL that is true for a queued removal held back by another election on its list.

    now is the placeholder that will carry clock.iso() ("?" or a named ":now").
    """
    return _HELD.format(r=removal, now=now)


def due(removal="r", now="?"):
    """SQL that is true for a removal the sync works on now: submitted, or queued and not held."""
    return f"({removal}.state != '{QUEUED}' OR NOT {held(removal, now)})"


def count_states(db, where, params, now=None):
    """{state: count} of the removals r matching where, with held removals counted as "held"
    instead of queued."""
    return dict(db.execute(
        f"SELECT CASE WHEN r.state = '{QUEUED}' AND {held()} THEN 'held' ELSE r.state END, count(*) "
        f"FROM cc_removals r WHERE {where} GROUP BY 1", [clock.iso(now), *params]).fetchall())


def sharing_elections(db, election, list_id=None, now=None):
    """The other not-closed elections of the organisation on list_id (default: the election's list)."""
    list_id = list_id or election["cc_list_id"]
    if not list_id:
        return []
    return rows(db, f"""SELECT id, title FROM elections e
                        WHERE organisation_id = ? AND cc_list_id = ? AND id != ?
                          AND {NOT_CLOSED.format(e="e", now="?")} ORDER BY title, id""",
                [election["organisation_id"], list_id, election["id"], clock.iso(now)])


def lists_in_use(db, election, now=None):
    """list id -> titles of the other not-closed elections of the organisation that use it."""
    used = {}
    for row in rows(db, f"""SELECT cc_list_id, title FROM elections e
                            WHERE organisation_id = ? AND id != ? AND cc_list_id IS NOT NULL
                              AND {NOT_CLOSED.format(e="e", now="?")} ORDER BY title, id""",
                    [election["organisation_id"], election["id"], clock.iso(now)]):
        used.setdefault(row["cc_list_id"], []).append(row["title"])
    return used
