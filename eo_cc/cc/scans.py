"""Paging a list's members, resumable: a run killed, stopped or failed at page k lets the next run
go on at page k+1 instead of page 1.

Each page's contact ids and the scan's progress (the next page's cursor) are written in one
transaction, so what is recorded is exactly what was cached. Progress is resumed only while the
scan is younger than the contact-id cache's age limit: the pages it skips must still be cached.
A cursor CC refuses (400/404: expired) restarts the scan at page 1. Only the sync pages lists for
removals, under its run lock, so two runs never continue one scan.
"""
from dataclasses import dataclass

from .. import clock
from ..db import one, rows
from .api import CCError

REFUSED_CURSOR = {400, 404}


@dataclass
class Scan:
    """Where a scan of one list stands."""
    list_id: str
    started_at: str
    next_cursor: str | None = None
    pages_done: int = 0
    is_resumed: bool = False
    was_restarted: bool = False   # CC refused the recorded cursor: started again at page 1


def resumable(db, list_id, max_age):
    """The list's unfinished scan younger than max_age (a finished one has no next cursor), or None."""
    return one(db, "SELECT * FROM cc_list_scans WHERE list_id = ? AND next_cursor IS NOT NULL "
                   "AND started_at >= ?", [list_id, clock.iso(clock.now() - max_age)])


def open_scan(db, list_id, max_age):
    """The unfinished scan of this list younger than max_age to go on with, else a new one."""
    row = resumable(db, list_id, max_age)
    if row:
        return Scan(list_id, row["started_at"], row["next_cursor"], row["pages_done"], is_resumed=True)
    return start(db, list_id)


def start(db, list_id):
    """Begin a scan at page 1 (forgetting any earlier progress)."""
    now = clock.iso()
    db.execute("""INSERT INTO cc_list_scans (list_id, next_cursor, pages_done, started_at, updated_at,
                      is_complete, completed_at) VALUES (?, NULL, 0, ?, ?, 0, NULL)
                  ON CONFLICT (list_id) DO UPDATE SET next_cursor = NULL, pages_done = 0,
                      started_at = excluded.started_at, updated_at = excluded.updated_at,
                      is_complete = 0, completed_at = NULL""", [list_id, now, now])
    return Scan(list_id, now)


def pages_left(db, list_id, total_pages, max_age):
    """Pages a scan of the list still costs: fewer when an unfinished scan can be resumed."""
    row = resumable(db, list_id, max_age)
    return max(1, total_pages - row["pages_done"]) if row else total_pages


def cached_since(db, list_id, emails, since):
    """email -> contact id for the emails an earlier part of this scan already cached."""
    found, emails = {}, list(emails)
    for i in range(0, len(emails), 500):
        chunk = emails[i:i + 500]
        marks = ",".join("?" * len(chunk))
        found.update((row["email"], row["contact_id"]) for row in rows(
            db, f"SELECT email, contact_id FROM cc_contacts WHERE list_id = ? AND email IN ({marks}) "
                "AND contact_id IS NOT NULL AND fetched_at >= ?", [list_id, *chunk, since]))
    return found


def pages(db, client, call, scan, page_size, remember):
    """Yield the scan's pages from where it stands, as remember(contacts) returns them: it caches
    each page in the transaction that records the scan's progress past it."""
    while True:
        try:
            contacts, next_url = call(lambda: client.contacts_in_list_page(
                scan.list_id, scan.next_cursor, page_size))
        except CCError as error:
            if scan.next_cursor is None or error.status not in REFUSED_CURSOR:
                raise
            restarted = start(db, scan.list_id)
            scan.next_cursor, scan.pages_done, scan.started_at = None, 0, restarted.started_at
            scan.was_restarted = True
            continue
        with db.atomic():
            kept = remember(contacts)
            record_page(db, scan, next_url)
        yield kept
        if next_url is None:
            return


def record_page(db, scan, next_url):
    """Note one more page done (inside the caller's transaction)."""
    now = clock.iso()
    scan.next_cursor, scan.pages_done = next_url, scan.pages_done + 1
    db.execute("UPDATE cc_list_scans SET next_cursor = ?, pages_done = ?, updated_at = ?, "
               "is_complete = ?, completed_at = ? WHERE list_id = ?",
               [next_url, scan.pages_done, now, int(next_url is None),
                now if next_url is None else None, scan.list_id])
