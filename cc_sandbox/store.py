"""Accounts, client apps, lists and contacts: seeding and the queries the API pages over."""
import json
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from eo_cc.db import connect, one, rows

from . import custom_fields
from .ids import encoded_account_id, new_id, stamp  # noqa: F401  (stamp and new_id: part of this module's API)
from .schema import migrations

DEMO_EMAIL = "demo@cc-sandbox.test"
DEMO_PASSWORD = "sandbox-demo"
DEMO_ORGANIZATION = "Riverside Community Association"
DEMO_CLIENT_ID = "eo-cc-demo"
DEMO_CLIENT_SECRET = "eo-cc-demo-secret"
DEMO_VOTER_LIST = "Annual Meeting 2026 — Eligible Voters"
SECOND_EMAIL = "second@cc-sandbox.test"  # another organisation's account, for "the wrong account"
SECOND_PASSWORD = "sandbox-second"
SECOND_ORGANIZATION = "Hillside Tenants Union"
CONTACT_STATUSES = ("active", "unsubscribed")
MAX_LISTS = 1000
CHUNK = 5000


class ListNotFound(LookupError):
    """A list id the account does not have (never had, another account's, or deleted)."""

    def __init__(self, list_id):
        super().__init__(f"List not found: {list_id}")
        self.list_id = list_id


def open_db(path):
    """Connect to the sandbox database at path (created with its folder) and bring its schema up to date."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = connect(path)
    migrations.apply(db)
    return db


ACCOUNT_DETAILS = ("organization_name", "contact_email", "first_name", "last_name")


def create_account(db, email, password, name=None, **details):
    """The account signed in as email, created when new (details fill in its summary); returns its id.

    For an existing account only the details given are changed, so seeding more lists into it keeps
    its organisation name.
    """
    email = email.strip().lower()
    details = {key: str(value).strip() for key, value in dict(details, organization_name=name).items()
               if key in ACCOUNT_DETAILS and value}
    found = one(db, "SELECT id FROM accounts WHERE email = ?", [email])
    if found:
        if details:
            db["accounts"].update(found["id"], details)
        return found["id"]
    table = db["accounts"].insert({
        "email": email, "password_hash": generate_password_hash(password, method="pbkdf2:sha256:20000"),  # a sandbox: fast
        "organization_name": email, "contact_email": email, "encoded_account_id": encoded_account_id(),
        "created_at": stamp(), **details,
    })
    return table.last_pk


def check_login(db, email, password):
    """The account whose email and password these are, or None."""
    account = one(db, "SELECT * FROM accounts WHERE email = ?", [(email or "").strip().lower()])
    if account and check_password_hash(account["password_hash"], password or ""):
        return account
    return None


def get_account(db, account_id):
    return one(db, "SELECT * FROM accounts WHERE id = ?", [account_id])


def register_client(db, client_id, client_secret, name="eo_cc", redirect_uris=()):
    """Register (or update) a client app."""
    db["clients"].upsert({
        "client_id": client_id, "client_secret": client_secret, "name": name,
        "redirect_uris": json.dumps(list(redirect_uris)), "created_at": stamp(),
    }, pk="client_id")


def get_client(db, client_id):
    client = one(db, "SELECT * FROM clients WHERE client_id = ?", [client_id or ""])
    if client:
        client["redirect_uris"] = json.loads(client["redirect_uris"])
    return client


def create_list(db, account_id, name, description="", favorite=False):
    """A new list in the account; returns its row."""
    now = stamp()
    row = {"list_id": new_id(), "account_id": account_id, "name": name,
           "description": description, "is_favorite": int(bool(favorite)),
           "created_at": now, "updated_at": now}
    row["id"] = db["lists"].insert(row).last_pk
    return row


def list_named(db, account_id, name):
    """The account's active list with this name (names compare without regard to case), or None."""
    return one(db, "SELECT * FROM lists WHERE account_id = ? AND status = 'active' AND name = ? COLLATE NOCASE",
               [account_id, name])


def active_list_count(db, account_id):
    return db.execute("SELECT count(*) FROM lists WHERE account_id = ? AND status = 'active'",
                      [account_id]).fetchone()[0]


def get_list(db, list_id):
    """A list by its public id, in any account and any state (for the sandbox's own pages)."""
    return one(db, "SELECT * FROM lists WHERE list_id = ?", [list_id])


def account_list(db, account_id, list_id):
    """The account's active list with this id, or raise ListNotFound."""
    found = one(db, "SELECT * FROM lists WHERE list_id = ? AND account_id = ? AND status = 'active'",
                [list_id, account_id])
    if found is None:
        raise ListNotFound(list_id)
    return found


def account_list_refs(db, account_id, list_ids):
    """list id -> lists.id for ids that are all the account's active lists, else raise ListNotFound."""
    return {list_id: account_list(db, account_id, list_id)["id"] for list_id in dict.fromkeys(list_ids)}


def rename_list(db, list_ref, name):
    db["lists"].update(list_ref, {"name": name, "updated_at": stamp()})


def delete_list(db, list_ref):
    """Delete a list as CC does when its owner deletes it: gone from the API, its memberships with it."""
    with db.atomic():
        now = stamp()
        db.execute("DELETE FROM memberships WHERE list_ref = ?", [list_ref])
        db["lists"].update(list_ref, {"status": "deleted", "deleted_at": now, "updated_at": now})


def add_contacts(db, account_id, people):
    """Ensure a contact for each person ({"email", "first_name", "last_name"}); returns email -> ref."""
    people = {p["email"].strip().lower(): p for p in people}
    refs = contact_refs(db, account_id, people)
    now = stamp()
    fresh = [{"contact_id": new_id(), "account_id": account_id, "email": email,
              "first_name": p.get("first_name") or "", "last_name": p.get("last_name") or "",
              "status": p.get("status") or "active", "created_at": now, "updated_at": now}
             for email, p in people.items() if email not in refs]
    if fresh:  # executemany: several times faster than insert_all for 100,000 rows
        db.conn.executemany(
            "INSERT INTO contacts (contact_id, account_id, email, first_name, last_name, status, created_at, "
            "updated_at) VALUES (:contact_id, :account_id, :email, :first_name, :last_name, :status, "
            ":created_at, :updated_at)", fresh)
        refs.update(contact_refs(db, account_id, [row["email"] for row in fresh]))
    return refs


def contact_refs(db, account_id, emails):
    """email -> contacts.id for the emails the account already has."""
    emails = list(emails)
    if len(emails) > CHUNK:  # one scan beats hundreds of IN (...) lookups
        wanted = set(emails)
        return {email: ref for ref, email in db.execute(
            "SELECT id, email FROM contacts WHERE account_id = ?", [account_id]) if email in wanted}
    found = {}
    for start in range(0, len(emails), 500):
        chunk = emails[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for row in db.query(f"SELECT id, email FROM contacts WHERE account_id = ? AND email IN ({marks})",
                            [account_id, *chunk]):
            found[row["email"]] = row["id"]
    return found


def add_members(db, list_ref, contact_refs_):
    """Put contacts on a list (already there is fine)."""
    db.conn.executemany("INSERT OR IGNORE INTO memberships (list_ref, contact_ref) VALUES (?, ?)",
                        ((list_ref, ref) for ref in contact_refs_))


def _person(entry):
    return {"email": entry} if isinstance(entry, str) else entry


def seed(db, spec):
    """Create (or add to) an account, optionally a client app, custom fields, contacts and lists from a
    JSON-like spec; see the README's sandbox section for its shape."""
    with db.atomic():
        account = spec.get("account") or {}
        account_id = create_account(db, account["email"], account.get("password", "sandbox"),
                                    account.get("name") or account.get("organization_name"),
                                    **{key: account.get(key) for key in ACCOUNT_DETAILS[1:]})
        if spec.get("client"):
            client = spec["client"]
            register_client(db, client["client_id"], client["client_secret"],
                            client.get("name", "eo_cc"), client.get("redirect_uris", ()))
        fields = [_seed_field(db, account_id, entry) for entry in spec.get("custom_fields", ())]
        seed_people(db, account_id, [_person(e) for e in spec.get("contacts", ())])
        made = [_seed_list(db, account_id, entry) for entry in spec.get("lists", ())]
    return {"account_id": account_id, "lists": made,
            "custom_fields": [custom_fields.field_json(row) for row in fields]}


def _seed_field(db, account_id, entry):
    label = entry if isinstance(entry, str) else entry["label"]
    return (custom_fields.by_name(db, account_id, custom_fields.name_for(label), any_case=True)
            or custom_fields.create(db, account_id, label))


def _seed_list(db, account_id, entry):
    row = create_list(db, account_id, entry["name"], entry.get("description", ""),
                      entry.get("favorite", False))
    people = [_person(e) for e in entry.get("emails", ())] + list(entry.get("contacts", ()))
    refs = seed_people(db, account_id, people)
    add_members(db, row["id"], refs.values())
    return {"list_id": row["list_id"], "name": row["name"], "member_count": len(refs)}


def seed_people(db, account_id, people):
    """Contacts for seeding, with any status and custom field values given (keyed by field name or
    label; a field that does not exist yet is made); returns email -> ref."""
    for person in people:
        if person.get("status", "active") not in CONTACT_STATUSES:
            raise ValueError(f"status must be one of {', '.join(CONTACT_STATUSES)}: {person['email']}")
    refs = add_contacts(db, account_id, people)
    given = [p for p in people if "status" in p or p.get("custom_fields")]
    values = []
    for person in given:
        ref = refs[person["email"].strip().lower()]
        if "status" in person:
            db.execute("UPDATE contacts SET status = ? WHERE id = ?", [person["status"], ref])
        for key, value in (person.get("custom_fields") or {}).items():
            if not isinstance(value, str) or len(value) > custom_fields.MAX_VALUE:
                raise ValueError(f"custom field values are text of at most {custom_fields.MAX_VALUE} characters")
            values.append((ref, _seed_field(db, account_id, key)["id"], value))
    custom_fields.set_values(db, values)
    return refs


def demo_spec():
    voters = [f"voter{n}@example.org" for n in range(1, 26)]
    return {
        "account": {"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "name": DEMO_ORGANIZATION,
                    "first_name": "Dana", "last_name": "Rivers"},
        "client": {"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET, "name": "eo_cc"},
        "lists": [
            {"name": DEMO_VOTER_LIST, "description": "Members eligible to vote", "favorite": True,
             "emails": voters},
            {"name": "Newsletter", "emails": voters[:10] + [f"reader{n}@example.org" for n in range(1, 11)]},
            {"name": "Volunteers", "emails": voters[::5] + ["helper@example.org"]},
        ],
    }


def second_spec():
    """Another organisation's account: its own lists, some of the same people (contacts are per account)."""
    return {
        "account": {"email": SECOND_EMAIL, "password": SECOND_PASSWORD, "name": SECOND_ORGANIZATION,
                    "first_name": "Sam", "last_name": "Hill"},
        "lists": [
            {"name": "Hillside Members", "emails": [f"voter{n}@example.org" for n in range(1, 6)]
             + [f"tenant{n}@example.org" for n in range(1, 11)]},
            {"name": "Hillside Board", "emails": ["tenant1@example.org", "tenant2@example.org"]},
        ],
    }


def seed_demo(db_or_path):
    """Create the demo accounts, client app and lists once; returns their ids and logins."""
    db = open_db(db_or_path) if isinstance(db_or_path, (str, Path)) else db_or_path
    try:
        for spec in (demo_spec(), second_spec()):
            if one(db, "SELECT id FROM accounts WHERE email = ?", [spec["account"]["email"]]) is None:
                seed(db, spec)
        register_client(db, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, "eo_cc")
        return demo_info(db)
    finally:
        if db is not db_or_path:
            db.close()


def _login_info(db, email, password):
    account = one(db, "SELECT id, organization_name FROM accounts WHERE email = ?", [email])
    lists = {r["name"]: r["list_id"] for r in rows(
        db, "SELECT name, list_id FROM lists WHERE account_id = ? AND status = 'active' ORDER BY id",
        [account["id"]])}
    return {"account_id": account["id"], "email": email, "password": password,
            "organization_name": account["organization_name"], "lists": lists}


def demo_info(db):
    info = _login_info(db, DEMO_EMAIL, DEMO_PASSWORD)
    return {**info, "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET,
            "voter_list_id": info["lists"].get(DEMO_VOTER_LIST),
            "second_account": _login_info(db, SECOND_EMAIL, SECOND_PASSWORD)}


def demo_logins():
    """(email, password, organisation) of the demo accounts, for the sign-in and home pages."""
    return [(DEMO_EMAIL, DEMO_PASSWORD, DEMO_ORGANIZATION), (SECOND_EMAIL, SECOND_PASSWORD, SECOND_ORGANIZATION)]


def account_lists(db, account_id):
    """Every list of an account with its member count (for the people's pages), deleted ones last."""
    return rows(db, """
        SELECT l.*, (SELECT count(*) FROM memberships m WHERE m.list_ref = l.id) AS member_count
        FROM lists l WHERE account_id = ? ORDER BY l.status = 'deleted', l.id""", [account_id])


def members(db, list_ref, limit=None):
    """The people on a list in the order they joined the account, with permission and custom fields."""
    sql = """SELECT c.id, c.email, c.contact_id, c.first_name, c.last_name, c.status
             FROM memberships m JOIN contacts c ON c.id = m.contact_ref
             WHERE m.list_ref = ? ORDER BY m.contact_ref"""
    params = [list_ref]
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    found = rows(db, sql, params)
    values = custom_fields.values_for(db, [row["id"] for row in found])
    for row in found:
        row["permission_to_send"] = permission(row["status"])
        row["custom_fields"] = {v["name"]: v["value"] for v in values[row.pop("id")]}
        del row["status"]
    return found


def permission(status):
    """A contact's email permission_to_send as CC shows it."""
    return "unsubscribed" if status == "unsubscribed" else "implicit"
