"""The roster <-> list check: who on the roster is missing from the chosen list, who on the list is
not on the roster, and whose contact is unsubscribed; and the fixes the admin may ask for.

Flask-free. A check pages the whole list at 500 a page (its cost: one request per 500 members)
and compares addresses without regard to case or spaces. Voters who have voted are left out:
eo_cc takes them off the list on purpose. The fixes are asked for on the page and carried out
by the next run: missing voters are imported onto the list (with names and, when the election
puts links into CC, their links), strangers are taken off it (`remove_list_memberships`, which
never deletes a contact). Mailing the unsubscribed voters their link is eo_cc's own mail.
"""
import math
from dataclasses import dataclass

from .. import clock
from ..db import one, rows
from ..mail import deliver, render
from ..voting.notices import ballot_link_url, election_url
from . import api, imports, sharing
from .resolve import address, contacts_by_address, list_pages, remember

MISSING, STRANGER, UNSUBSCRIBED = "missing", "stranger", "unsubscribed"
KINDS = (MISSING, STRANGER, UNSUBSCRIBED)
REQUESTED, SUBMITTED, ADDED, REMOVED, MAILED = "requested", "submitted", "added", "removed", "mailed"
FIXES = (REQUESTED, SUBMITTED, ADDED, REMOVED, MAILED)
MAX_NAME = 50   # CC's longest first_name and last_name


def same_address(email):
    """Addresses that differ only in case or spaces are the same person."""
    return "".join((email or "").split()).lower()


def request(db, election_id):
    """Ask the next run for a check (on demand, or before voting opens)."""
    db.execute("INSERT INTO cc_list_checks (election_id, requested_at) VALUES (?, ?) "
               "ON CONFLICT (election_id) DO UPDATE SET requested_at = excluded.requested_at",
               [election_id, clock.iso()])


def last_check(db, election_id):
    return one(db, "SELECT * FROM cc_list_checks WHERE election_id = ?", [election_id])


def forget_another_lists(db, election):
    """Once the election uses another list, the last check's findings (and the fixes asked for on
    them) no longer apply: they are forgotten, and True is returned."""
    last = last_check(db, election["id"])
    if last is None or last["list_id"] in (None, election["cc_list_id"]):
        return False
    with db.atomic():
        db.execute("DELETE FROM cc_list_differences WHERE election_id = ? AND fix IS NOT 'submitted'",
                   [election["id"]])
        db.execute("UPDATE cc_list_checks SET list_id = NULL, checked_at = NULL, list_members = NULL, "
                   "on_list = NULL, requests = NULL, error = NULL WHERE election_id = ?", [election["id"]])
    return True


def estimated_requests(list_size):
    """What a check costs: one request per 500 list members (None: the size is not known)."""
    return None if list_size is None else max(1, math.ceil(list_size / api.MAX_PAGE_SIZE))


@dataclass
class Found:
    """One check's result, before it is stored."""
    list_members: int
    on_list: int
    differences: list      # [(kind, email, name, contact_id)]

    def count(self, kind):
        return sum(1 for difference in self.differences if difference[0] == kind)


def compare(voters, members, sharers=()):
    """voters: [{"email", "name", "has_voted"}]; members: [CC contact]. Returns a Found.

    sharers: addresses on the rosters of the other elections sharing the list, never strangers.
    """
    roster = {same_address(v["email"]): v for v in voters}
    sharers = {same_address(email) for email in sharers}
    on_list, seen, differences = 0, set(), []
    for contact in members:
        key = same_address(address(contact))
        if not key or key in seen:
            continue
        seen.add(key)
        voter = roster.get(key)
        if voter is None and key in sharers:
            continue   # on the list for another election that shares it
        if voter is None:
            name = " ".join(filter(None, (contact.get("first_name"), contact.get("last_name"))))
            differences.append((STRANGER, address(contact), name, contact.get("contact_id")))
        elif voter["has_voted"]:
            continue   # taken off the list by eo_cc, or about to be
        elif (contact.get("email_address") or {}).get("permission_to_send") == "unsubscribed":
            differences.append((UNSUBSCRIBED, voter["email"], voter["name"], contact.get("contact_id")))
        else:
            on_list += 1
    differences += [(MISSING, voter["email"], voter["name"], None) for key, voter in roster.items()
                    if key not in seen and not voter["has_voted"]]
    return Found(len(seen), on_list, differences)


def run_check(db, client, call, election, progress=None):
    """Page the chosen list, compare it with the roster and store what differs; returns a Found."""
    list_id, members, scanned = election["cc_list_id"], [], 0
    for page in list_pages(client, call, list_id):
        members += page
        remember(db, list_id, contacts_by_address(page))
        scanned += len(page)
        if progress:
            progress(scanned, None, "checked list members")
    voters = rows(db, "SELECT email, name, has_voted FROM voters WHERE election_id = ?", [election["id"]])
    sharers = [row["email"] for other in sharing.sharing_elections(db, election, list_id)
               for row in rows(db, "SELECT email FROM voters WHERE election_id = ?", [other["id"]])]
    found = compare(voters, members, sharers)
    store(db, election["id"], list_id, found)
    return found


def store(db, election_id, list_id, found, requests=None):
    """Keep a check's result (replacing the last one); what is not on the list is remembered too."""
    now = clock.iso()
    with db.atomic():
        db.execute("DELETE FROM cc_list_differences WHERE election_id = ?", [election_id])
        db["cc_list_differences"].insert_all(
            ({"election_id": election_id, "kind": kind, "email": email, "name": name or "",
              "contact_id": contact_id, "updated_at": now}
             for kind, email, name, contact_id in found.differences), batch_size=1000)
        db.execute("""INSERT INTO cc_list_checks (election_id, requested_at, list_id, checked_at,
                          list_members, on_list, requests, error) VALUES (?, NULL, ?, ?, ?, ?, ?, NULL)
                      ON CONFLICT (election_id) DO UPDATE SET requested_at = NULL,
                          list_id = excluded.list_id, checked_at = excluded.checked_at,
                          list_members = excluded.list_members, on_list = excluded.on_list,
                          requests = excluded.requests, error = NULL""",
                   [election_id, list_id, now, found.list_members, found.on_list, requests])
    missing = {email: None for kind, email, _, _ in found.differences if kind == MISSING}
    if missing:
        remember(db, list_id, missing)


def record_cost(db, election_id, requests):
    db.execute("UPDATE cc_list_checks SET requests = ? WHERE election_id = ?", [requests, election_id])


def record_error(db, election_id, error):
    """A check that failed stays asked for: the next run tries again."""
    db.execute("UPDATE cc_list_checks SET error = ? WHERE election_id = ?", [error, election_id])


def everyone_missing(db, election_id, list_id):
    """The check's result for a list just made: empty, so every voter who has not voted is missing
    from it, and their import is asked for at once."""
    voters = rows(db, "SELECT email, name, has_voted FROM voters WHERE election_id = ?", [election_id])
    store(db, election_id, list_id, compare(voters, []), requests=0)
    return ask_fix(db, election_id, MISSING)


# --- fixes --------------------------------------------------------------------------------------

def differences(db, election_id, kind):
    return rows(db, "SELECT * FROM cc_list_differences WHERE election_id = ? AND kind = ? ORDER BY email",
                [election_id, kind])


def ask_fix(db, election_id, kind):
    """Ask the next run to add the missing voters or remove the strangers; returns how many."""
    return db.execute("UPDATE cc_list_differences SET fix = ?, updated_at = ? WHERE election_id = ? "
                      "AND kind = ? AND fix IS NULL", [REQUESTED, clock.iso(), election_id, kind]).rowcount


def fixes_asked(db, election_id):
    """{kind: how many} fixes waiting for a run (asked for, or submitted to CC)."""
    return dict(db.execute("SELECT kind, count(*) FROM cc_list_differences WHERE election_id = ? "
                           "AND fix IN (?, ?) GROUP BY kind", [election_id, REQUESTED, SUBMITTED]).fetchall())


def split_name(name):
    """CC's first and last name from the roster's one name: the last word is the last name."""
    words = (name or "").split()
    if len(words) < 2:
        return {"first_name": words[0][:MAX_NAME]} if words else {}
    return {"first_name": " ".join(words[:-1])[:MAX_NAME], "last_name": words[-1][:MAX_NAME]}


def add_missing(db, config, client, call, election, field=None, link_entries=None):
    """Import the missing voters asked for onto the list (never one who has voted); returns how many.

    link_entries(voters) gives their links when the election puts links into CC.
    """
    voters = rows(db, """
        SELECT v.id, v.email, v.name, v.link_version FROM cc_list_differences d
        JOIN voters v ON v.election_id = d.election_id AND v.email = d.email
        WHERE d.election_id = ? AND d.kind = ? AND d.fix = ? AND v.has_voted = 0 ORDER BY v.id""",
                  [election["id"], MISSING, REQUESTED])
    with_links = {entry.voter_id: entry for entry in (link_entries(voters) if link_entries else [])}
    entries = []
    for voter in voters:
        link = with_links.get(voter["id"])
        payload = {"email": voter["email"], **split_name(voter["name"]), **(link.payload if link else {})}
        entries.append(imports.Entry(payload, voter["id"], link.link_version if link else None))
    _drop_voted(db, election["id"])
    if entries:
        imports.submit(db, client, call, election["id"], election["cc_list_id"], imports.ADD, entries,
                       on_submitted=_mark_submitted(db, election["id"], MISSING))
    return len(entries)


def _drop_voted(db, election_id):
    """Voters who voted since the check need no adding: their fix is forgotten."""
    db.execute("""UPDATE cc_list_differences SET fix = NULL WHERE election_id = ? AND kind = ?
                  AND fix = ? AND email NOT IN (SELECT email FROM voters WHERE election_id = ?
                                                AND has_voted = 0)""",
               [election_id, MISSING, REQUESTED, election_id])


def _mark_submitted(db, election_id, kind):
    def mark(activity_id, chunk):
        db.conn.executemany(
            "UPDATE cc_list_differences SET fix = ?, activity_id = ?, updated_at = ? "
            "WHERE election_id = ? AND kind = ? AND email = ?",
            [(SUBMITTED, activity_id, clock.iso(), election_id, kind, entry.email) for entry in chunk])
    return mark


def remove_strangers(db, client, call, election):
    """Take the strangers asked for off the list, 500 a request; returns the activity ids."""
    strangers = rows(db, "SELECT email, contact_id FROM cc_list_differences WHERE election_id = ? "
                         "AND kind = ? AND fix = ? AND contact_id IS NOT NULL ORDER BY email",
                     [election["id"], STRANGER, REQUESTED])
    submitted = []
    for start in range(0, len(strangers), api.MAX_IDS_PER_ACTIVITY):
        batch = strangers[start:start + api.MAX_IDS_PER_ACTIVITY]
        activity = call(client.remove_list_memberships, election["cc_list_id"],
                        [row["contact_id"] for row in batch])
        activity_id = str(activity["activity_id"])
        with db.atomic():
            _mark_submitted(db, election["id"], STRANGER)(
                activity_id, [imports.Entry({"email": row["email"]}, None) for row in batch])
        submitted.append(activity_id)
    return submitted


def stranger_removals(db, election_id):
    """The stranger removals CC has not finished ({"activity_id", "submitted_at"}), oldest first."""
    return rows(db, "SELECT activity_id, min(updated_at) AS submitted_at FROM cc_list_differences "
                    "WHERE election_id = ? AND kind = ? AND fix = ? GROUP BY activity_id "
                    "ORDER BY submitted_at", [election_id, STRANGER, SUBMITTED])


def settle_stranger_removal(db, election, activity_id, state, error=None):
    """A finished removal of strangers: off the list (and out of the look-up cache), or asked again."""
    now = clock.iso()
    with db.atomic():
        if state == imports.FINISHED_OK:
            db.execute("DELETE FROM cc_contacts WHERE list_id = ? AND email IN (SELECT email FROM "
                       "cc_list_differences WHERE activity_id = ? AND kind = ?)",
                       [election["cc_list_id"], activity_id, STRANGER])
            db.execute("UPDATE cc_list_differences SET fix = ?, last_error = NULL, updated_at = ? "
                       "WHERE activity_id = ? AND kind = ?", [REMOVED, now, activity_id, STRANGER])
        else:
            reason = f"Constant Contact removal {state}" + (f": {error}" if error else "")
            db.execute("UPDATE cc_list_differences SET fix = ?, activity_id = NULL, attempts = attempts + 1, "
                       "last_error = ?, updated_at = ? WHERE activity_id = ? AND kind = ?",
                       [REQUESTED, reason, now, activity_id, STRANGER])


def unsubscribed_voters(db, election_id):
    """Voters whose contact is unsubscribed and who have not voted (nor been mailed their link)."""
    return rows(db, """SELECT v.* FROM cc_list_differences d
                       JOIN voters v ON v.election_id = d.election_id AND v.email = d.email
                       WHERE d.election_id = ? AND d.kind = ? AND d.fix IS NULL AND v.has_voted = 0
                       ORDER BY v.id""", [election_id, UNSUBSCRIBED])


def mail_links(db, config, election):
    """Mail each unsubscribed voter who has not voted their current ballot link (eo_cc's own
    mail, the admin's choice); returns how many. A mail that fails is queued and retried."""
    voters = unsubscribed_voters(db, election["id"])
    closes = clock.format_local(election["closes_at"], empty=None)
    for voter in voters:
        deliver(db, config, voter["email"], f"Your ballot link for {election['title']}",
                render("ballot_link_unsubscribed.txt", election=election, voter=voter, closes=closes,
                       link=ballot_link_url(config, election, voter),
                       election_url=election_url(config, election)))
        db.execute("UPDATE cc_list_differences SET fix = ?, updated_at = ? WHERE election_id = ? "
                   "AND kind = ? AND email = ?", [MAILED, clock.iso(), election["id"], UNSUBSCRIBED,
                                                  voter["email"]])
    return len(voters)
