"""Each voter's personal ballot link in Constant Contact: one custom field per election, filled by
JSON imports for the voters on the chosen list who have not voted, deleted when voting closes.

Flask-free. Before its first create eo_cc reads the account's fields and takes a label nobody
uses, so a 409 on the create afterwards can only be its own earlier create whose answer was
lost; only a field eo_cc made is ever deleted. A link that changes (a new link asked for, an
email changed, a voter added) is pushed by the next run; a link left on an address that no
voter has any more is cleared. Links are built from BASE_URL, never from a request's host.
"""
from datetime import timedelta

from .. import clock
from ..db import one, rows
from ..elections.voting_window import effective_state
from ..voting.notices import ballot_link_url
from . import imports
from .api import CCError
from .resolve import look_up

LABEL_PREFIX = "Ballot link – "
MAX_LABEL = 50       # CC's longest custom field label
MAX_VALUE = 255      # CC's longest custom field value
# How long a push trusts what the look-up cache says: "on the list" only briefly (an import
# would put back someone taken off the list by hand), "not on it" for a day (so a voter missing
# from the list costs no look-up every hour; the roster check and its fixes update it).
ON_LIST_MAX_AGE = timedelta(hours=1)
OFF_LIST_MAX_AGE = timedelta(hours=24)


class FieldProblem(Exception):
    """The ballot link field cannot be made or filled; str() says why in plain words."""


def label_for(title, n=1):
    """'Ballot link – <election title>', at most 50 characters; n > 1 tells it apart."""
    suffix = f" ({n})" if n > 1 else ""
    return (LABEL_PREFIX + " ".join(title.split()))[:MAX_LABEL - len(suffix)].rstrip() + suffix


def field_of(db, election_id):
    return one(db, "SELECT * FROM cc_link_fields WHERE election_id = ?", [election_id])


def is_ready(field):
    return bool(field and field["custom_field_id"] and not field["deleted_at"])


# --- the field ---------------------------------------------------------------------------------

def ensure_field(db, client, call, election):
    """The election's field in CC, created on first use; returns its row (with name and id)."""
    field = field_of(db, election["id"])
    if is_ready(field):
        return field
    if field is None or not field["create_attempts"]:
        label = free_label(db, election, call(lambda: list(client.custom_fields())))
        db["cc_link_fields"].upsert({"election_id": election["id"], "label": label,
                                     "created_at": clock.iso(), "deleted_at": None,
                                     "custom_field_id": None, "create_attempts": 0},
                                    pk="election_id")
    label = field_of(db, election["id"])["label"]

    def create():  # counted per request sent: a create may have happened once one was sent
        db.execute("UPDATE cc_link_fields SET create_attempts = create_attempts + 1 "
                   "WHERE election_id = ?", [election["id"]])
        return client.create_custom_field(label)
    try:
        made = call(create)
    except CCError as error:
        if error.status == 400 and "limit" in f"{error.error_key} {error.message}".lower():
            raise FieldProblem("Your Constant Contact account already has 100 custom fields, the most "
                               "it allows. Delete one you no longer need there, then try again.") from error
        if error.status != 409:
            raise
        made = find_by_label(client, call, label)   # our own create, whose answer was lost
        if made is None:
            raise FieldProblem(f"Constant Contact says a custom field named like “{label}” exists, "
                               "but eo_cc cannot find it.") from error
    db["cc_link_fields"].update(election["id"], {"custom_field_id": made["custom_field_id"],
                                                 "name": made["name"]})
    return field_of(db, election["id"])


def free_label(db, election, account_fields):
    """The first label that neither a field of the account nor another election's field has."""
    taken = {text.casefold() for found in account_fields
             for text in (found.get("label") or "", found.get("name") or "")}
    taken |= {row["label"].casefold() for row in rows(db, """
        SELECT f.label FROM cc_link_fields f JOIN elections e ON e.id = f.election_id
        WHERE e.organisation_id = ? AND f.election_id != ? AND f.deleted_at IS NULL""",
                                                      [election["organisation_id"], election["id"]])}
    n = 1
    while {label_for(election["title"], n).casefold(),
           "_".join(label_for(election["title"], n).split()).casefold()} & taken:
        n += 1
    return label_for(election["title"], n)


def find_by_label(client, call, label):
    """The account's field with this label (or the name CC derives from it), or None."""
    wanted = {label.casefold(), "_".join(label.split()).casefold()}
    return next((found for found in call(lambda: list(client.custom_fields()))
                 if {(found.get("label") or "").casefold(), (found.get("name") or "").casefold()} & wanted),
                None)


def field_to_delete(db, election):
    """True when the election's field must go: voting has closed and the admin did not keep it."""
    field = field_of(db, election["id"])
    return bool(field and not field["deleted_at"] and field["create_attempts"]
                and effective_state(election) == "closed" and not election["keeps_cc_ballot_link_field"])


def delete_field(db, client, call, election_id):
    """Delete the field eo_cc made for the election, and with it every link CC holds."""
    field = field_of(db, election_id)
    field_id = field["custom_field_id"]
    if field_id is None:   # created, but the answer was lost
        found = find_by_label(client, call, field["label"])
        field_id = found and found["custom_field_id"]
    if field_id is not None:
        client.own_custom_field_ids.add(field_id)   # recorded as made by eo_cc: the client may delete it
        try:
            call(client.delete_custom_field, field_id)
        except CCError as error:
            if error.status != 404:   # already gone is what we wanted
                raise
    with db.atomic():
        db["cc_link_fields"].update(election_id, {"deleted_at": clock.iso()})
        db.execute("DELETE FROM cc_ballot_links WHERE election_id = ?", [election_id])


# --- what to push ------------------------------------------------------------------------------

def wanted(db, election_id):
    """Voters who have not voted and whose current link CC does not hold."""
    return rows(db, """
        SELECT v.id, v.email, v.name, v.link_version FROM voters v
        LEFT JOIN cc_ballot_links l ON l.election_id = v.election_id AND l.email = v.email
        WHERE v.election_id = ? AND v.has_voted = 0
          AND (l.email IS NULL OR l.voter_id != v.id OR l.link_version != v.link_version)
        ORDER BY v.id""", [election_id])


def stale(db, election_id):
    """Addresses whose link in CC belongs to no voter now (taken off the roster, email changed)."""
    return [row["email"] for row in rows(db, """
        SELECT l.email FROM cc_ballot_links l WHERE l.election_id = ? AND NOT EXISTS (
            SELECT 1 FROM voters v WHERE v.id = l.voter_id AND v.email = l.email
                                     AND v.election_id = l.election_id)
        ORDER BY l.email""", [election_id])]


def known_off_list(db, list_id):
    """Emails a look-up found not on the list within the last day."""
    return {row["email"] for row in rows(
        db, "SELECT email FROM cc_contacts WHERE list_id = ? AND contact_id IS NULL AND fetched_at >= ?",
        [list_id, clock.iso(clock.now() - OFF_LIST_MAX_AGE)])}


def waiting(db, election_id, list_id):
    """How many links the next push would try to put into (or clear from) CC; 0: none."""
    off = known_off_list(db, list_id)
    emails = [voter["email"] for voter in wanted(db, election_id)] + stale(db, election_id)
    return sum(1 for email in emails if email not in off)


def recently_added(db, list_id):
    """Emails eo_cc's own imports put on the list within the hour (none of them refused)."""
    return {row["email"] for row in rows(db, """
        SELECT c.email FROM cc_imports i JOIN cc_import_contacts c ON c.activity_id = i.activity_id
        WHERE i.list_id = ? AND i.purpose = 'add' AND i.state = 'completed' AND i.finished_at >= ?
          AND coalesce(i.cannot_add_count, 0) = 0""", [list_id, clock.iso(clock.now() - ON_LIST_MAX_AGE)])}


def on_list(db, client, call, list_id, emails, progress=None):
    """Those of the emails that are on the list: from a recent look-up or import, else looked up
    the cheaper way."""
    cached = {row["email"] for row in rows(
        db, "SELECT email FROM cc_contacts WHERE list_id = ? AND contact_id IS NOT NULL "
            "AND fetched_at >= ?", [list_id, clock.iso(clock.now() - ON_LIST_MAX_AGE)])}
    cached |= recently_added(db, list_id)
    off = known_off_list(db, list_id)
    unknown = sorted({email for email in emails if email not in cached and email not in off})
    found = look_up(db, client, call, list_id, unknown, progress) if unknown else {}
    return {email for email in emails if email in cached or found.get(email)}


def entries(config, election, field, voters, cleared):
    """Import entries: each voter's link, and an empty value for each address to clear."""
    key = f"cf:{field['name']}"
    made = []
    for voter in voters:
        link = ballot_link_url(config, election, voter)
        if len(link) > MAX_VALUE:
            raise FieldProblem(f"Ballot links are {len(link)} characters long and Constant Contact keeps "
                               f"at most {MAX_VALUE}: shorten BASE_URL ({config['BASE_URL']}).")
        made.append(imports.Entry({"email": voter["email"], key: link}, voter["id"], voter["link_version"]))
    return made + [imports.Entry({"email": email, key: ""}, None) for email in cleared]


def push(db, config, client, call, election, field, progress=None):
    """Put each missing or changed link of a voter on the list into CC (voters not on it are
    left to the roster check); returns how many contacts the imports carry."""
    voters, cleared = wanted(db, election["id"]), stale(db, election["id"])
    if not voters and not cleared:
        return 0
    list_id = election["cc_list_id"]
    present = on_list(db, client, call, list_id, [v["email"] for v in voters] + cleared, progress)
    gone = [email for email in cleared if email not in present]
    if gone:  # off the list: nobody mails that link from it, and no import may put them back
        db.execute(f"DELETE FROM cc_ballot_links WHERE election_id = ? AND email IN "
                   f"({','.join('?' * len(gone))})", [election["id"], *gone])
    chosen = entries(config, election, field, [v for v in voters if v["email"] in present],
                     [email for email in cleared if email in present])
    if chosen:
        imports.submit(db, client, call, election["id"], list_id, imports.LINKS, chosen)
    return len(chosen)
