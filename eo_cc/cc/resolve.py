"""Queued emails to CC contact ids, the cheaper way.

CC cannot remove by email, so each queued email needs its contact id. With k emails
to find on a list of M members, k GETs /contacts?email= cost k requests and paging
the list costs ceil(M/500): we pick the smaller, and remember what we learn in
cc_contacts (contact id, or NULL for "not on this list").
"""
import math
from dataclasses import dataclass
from datetime import timedelta

from .. import clock
from ..db import one, rows
from . import api, scans, sharing
from .removals import NOT_IN_LIST, QUEUED

PAGE_SIZE = api.MAX_PAGE_SIZE
BATCH_SIZE = api.MAX_IDS_PER_ACTIVITY
ALWAYS_PER_EMAIL = 2          # this few: looking each up costs no more than learning the list size
UNKNOWN_SIZE_PER_EMAIL = 10   # list size unknown: look up one by one up to this many
LIST_SIZE_MAX_AGE = timedelta(hours=24)
LIST_CONFIRMED_FOR = timedelta(minutes=5)   # lists read this recently need not be read again
# A contact deleted and re-added in CC gets a new id; removing the old id would leave the
# voter on the list while we count them done. So a learnt id is trusted for a day only.
CONTACT_ID_MAX_AGE = timedelta(hours=24)


@dataclass
class Resolution:
    """What resolving one election's queue found."""
    batches: list          # [[(removal id, contact id), ...], ...], each at most BATCH_SIZE
    not_in_list: int       # queued emails that are not on the list (marked so unless dry_run)

    @property
    def would_remove(self):
        return sum(len(batch) for batch in self.batches)


def resolve(db, client, call, list_id, election_id, *, dry_run=False, progress=None,
            on_restart=None):
    """Batch the election's queued removals by contact id; mark emails not on the list.

    progress(done, total or None, what), when given, hears how far a long look-up is;
    on_restart() hears that a list scan had to start again at page 1 (CC refused its cursor).
    """
    queued = rows(db, f"""
        SELECT r.id, r.email, c.contact_id FROM cc_removals r
        LEFT JOIN cc_contacts c ON c.list_id = ? AND c.email = r.email AND c.fetched_at >= ?
        WHERE r.election_id = ? AND r.state = '{QUEUED}' AND NOT {sharing.held()}
        ORDER BY r.queued_at, r.id""",
                  [list_id, clock.iso(clock.now() - CONTACT_ID_MAX_AGE), election_id, clock.iso()])
    unknown = sorted({row["email"] for row in queued if not row["contact_id"]})
    found = look_up(db, client, call, list_id, unknown, progress, on_restart) if unknown else {}
    resolved, missing = [], []
    for row in queued:
        contact_id = row["contact_id"] or found.get(row["email"])
        if contact_id:
            resolved.append((row["id"], contact_id))
        else:
            missing.append(row["id"])
    if missing and not resolved:
        confirm_list(db, client, call, list_id)
    if missing and not dry_run:
        mark_not_in_list(db, list_id, missing)
    return Resolution([resolved[i:i + BATCH_SIZE] for i in range(0, len(resolved), BATCH_SIZE)],
                      len(missing))


def look_up(db, client, call, list_id, emails, progress=None, on_restart=None):
    """email -> contact id (None: not on the list), by one GET each or by paging the list."""
    if by_email_is_cheaper(db, client, call, list_id, len(emails)):
        found = look_up_each(client, call, list_id, emails, progress)
        remember(db, list_id, found)
    else:
        found = page_list(db, client, call, list_id, set(emails), progress, on_restart)
    return found


def by_email_is_cheaper(db, client, call, list_id, k):
    if k <= ALWAYS_PER_EMAIL:
        return True
    size = list_size(db, client, call, list_id)
    if size is None:
        return k <= UNKNOWN_SIZE_PER_EMAIL
    pages = scans.pages_left(db, list_id, max(1, math.ceil(size / PAGE_SIZE)), CONTACT_ID_MAX_AGE)
    return k <= pages


def list_size(db, client, call, list_id):
    """The list's member count: cached for a day, else from GET /contact_lists."""
    row = one(db, "SELECT membership_count, fetched_at FROM cc_list_sizes WHERE list_id = ?",
              [list_id])
    if row is None or row["fetched_at"] < clock.iso(clock.now() - LIST_SIZE_MAX_AGE):
        row = read_list(db, client, call, list_id)
    return row["membership_count"]


def read_list(db, client, call, list_id):
    """The list's entry from GET /contact_lists (all sizes cached); raises ListNotFound when the
    account has no such list."""
    lists = call(lambda: list(client.contact_lists()))
    remember_list_sizes(db, lists)
    found = next((item for item in lists if item.get("list_id") == list_id), None)
    if found is None:
        raise api.ListNotFound(list_id)
    return found


def confirm_list(db, client, call, list_id):
    """Before taking every looked-up email as not on the list, make sure the list is there: read
    the lists unless they were read in the last few minutes (raises ListNotFound)."""
    recent = one(db, "SELECT 1 AS x FROM cc_list_sizes WHERE list_id = ? AND fetched_at >= ?",
                 [list_id, clock.iso(clock.now() - LIST_CONFIRMED_FOR)])
    if recent is None:
        read_list(db, client, call, list_id)


def remember_list_sizes(db, lists):
    """Cache membership counts from a GET /contact_lists answer (anyone may call this)."""
    now = clock.iso()
    db["cc_list_sizes"].upsert_all(
        ({"list_id": item["list_id"], "membership_count": item.get("membership_count"),
          "fetched_at": now} for item in lists if item.get("list_id")), pk="list_id")


def look_up_each(client, call, list_id, emails, progress=None):
    found = {}
    for n, email in enumerate(emails, 1):
        contacts = call(client.contacts_by_email, email)
        match = next((c for c in contacts if address(c) == email), None)
        found[email] = match["contact_id"] if match and on_list(match, list_id) else None
        if progress:
            progress(n, len(emails), "looked up")
    return found


def page_list(db, client, call, list_id, wanted, progress=None, on_restart=None):
    """Page the list at 500 a page, stopping early once every wanted email is found.

    Goes on from an earlier run's unfinished scan (see scans.py); an email is taken to be not on
    the list only after the scan has seen the whole list. on_restart() hears when CC refused the
    recorded place and the scan started again at page 1.
    """
    scan = scans.open_scan(db, list_id, CONTACT_ID_MAX_AGE)
    found = scans.cached_since(db, list_id, wanted, scan.started_at) if scan.is_resumed else {}
    if len(found) == len(wanted):
        return found
    def remember_page(page):
        contacts = contacts_by_address(page)
        remember(db, list_id, contacts)
        return contacts

    try:
        scanned = 0
        for contacts in scans.pages(db, client, call, scan, PAGE_SIZE, remember_page):
            found.update((email, contacts[email]) for email in wanted & contacts.keys())
            scanned += len(contacts)
            if progress:
                progress(scanned, None, "scanned list members")
            if len(found) == len(wanted):
                return found
    finally:
        if scan.was_restarted and on_restart:
            on_restart()
    remember(db, list_id, {email: None for email in wanted - found.keys()})
    return found


def contacts_by_address(page):
    return {address(c): c.get("contact_id") for c in page}


def list_pages(client, call, list_id):
    """The list's contacts one page at a time, each page retried on its own (so one 429
    in a 200-page scan does not restart it and spend the shared budget twice)."""
    next_url = None
    while True:
        contacts, next_url = call(lambda: client.contacts_in_list_page(list_id, next_url, PAGE_SIZE))
        yield contacts
        if next_url is None:
            return


def remember(db, list_id, contacts):
    """Cache email -> contact id on this list (None: looked up, not on it)."""
    now = clock.iso()
    with db.atomic():   # one transaction: a whole list can be 100,000 rows
        db.conn.executemany(
            "INSERT INTO cc_contacts (list_id, email, contact_id, fetched_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (list_id, email) DO UPDATE SET contact_id = excluded.contact_id, "
            "fetched_at = excluded.fetched_at",
            [(list_id, email, contact_id, now) for email, contact_id in contacts.items() if email])


def mark_not_in_list(db, list_id, removal_ids):
    now = clock.iso()
    with db.atomic():
        db.conn.executemany(
            f"UPDATE cc_removals SET state = '{NOT_IN_LIST}', list_id = ?, contact_id = NULL, "
            f"last_error = NULL, updated_at = ? WHERE id = ? AND state = '{QUEUED}'",
            [(list_id, now, removal_id) for removal_id in removal_ids])


def address(contact):
    return ((contact.get("email_address") or {}).get("address") or "").strip().lower()


def on_list(contact, list_id):
    """A contact found by email is on the list when its memberships say so (or say nothing)."""
    memberships = contact.get("list_memberships")
    return memberships is None or list_id in memberships
