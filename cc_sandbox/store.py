"""Accounts, client apps, lists and contacts: seeding and the queries the API pages over."""
import json
import uuid
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from eo_cc import clock
from eo_cc.db import connect, one, rows

from .schema import migrations

DEMO_EMAIL = "demo@cc-sandbox.test"
DEMO_PASSWORD = "sandbox-demo"
DEMO_CLIENT_ID = "eo-cc-demo"
DEMO_CLIENT_SECRET = "eo-cc-demo-secret"
DEMO_VOTER_LIST = "Annual Meeting 2026 — Eligible Voters"
CHUNK = 5000


def stamp():
    """Now as CC writes it: ISO-8601 UTC with a Z."""
    return clock.iso().replace("+00:00", "Z")


def new_id():
    return str(uuid.uuid4())


def open_db(path):
    """Connect to the sandbox database at path (created with its folder) and bring its schema up to date."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = connect(path)
    migrations.apply(db)
    return db


def create_account(db, email, password, name):
    """The account signed in as email, created when new; returns its id."""
    email = email.strip().lower()
    found = one(db, "SELECT id FROM accounts WHERE email = ?", [email])
    if found:
        return found["id"]
    table = db["accounts"].insert({
        "email": email, "password_hash": generate_password_hash(password, method="pbkdf2:sha256:20000"),  # a sandbox: fast
        "organization_name": name or email, "created_at": stamp(),
    })
    return table.last_pk


def check_login(db, email, password):
    """The account whose email and password these are, or None."""
    account = one(db, "SELECT * FROM accounts WHERE email = ?", [(email or "").strip().lower()])
    if account and check_password_hash(account["password_hash"], password or ""):
        return account
    return None


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


def add_contacts(db, account_id, people):
    """Ensure a contact for each person ({"email", "first_name", "last_name"}); returns email -> ref."""
    people = {p["email"].strip().lower(): p for p in people}
    refs = contact_refs(db, account_id, people)
    now = stamp()
    fresh = [{"contact_id": new_id(), "account_id": account_id, "email": email,
              "first_name": p.get("first_name") or "", "last_name": p.get("last_name") or "",
              "created_at": now, "updated_at": now}
             for email, p in people.items() if email not in refs]
    if fresh:  # executemany: several times faster than insert_all for 100,000 rows
        db.conn.executemany(
            "INSERT INTO contacts (contact_id, account_id, email, first_name, last_name, created_at, "
            "updated_at) VALUES (:contact_id, :account_id, :email, :first_name, :last_name, :created_at, "
            ":updated_at)", fresh)
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
    """Create an account, optionally a client app, and lists with contacts from one JSON-like spec."""
    with db.atomic():
        account = spec.get("account") or {}
        account_id = create_account(db, account["email"], account.get("password", "sandbox"),
                                    account.get("name"))
        if spec.get("client"):
            client = spec["client"]
            register_client(db, client["client_id"], client["client_secret"],
                            client.get("name", "eo_cc"), client.get("redirect_uris", ()))
        made = [_seed_list(db, account_id, entry) for entry in spec.get("lists", ())]
    return {"account_id": account_id, "lists": made}


def _seed_list(db, account_id, entry):
    row = create_list(db, account_id, entry["name"], entry.get("description", ""),
                      entry.get("favorite", False))
    people = [_person(e) for e in entry.get("emails", ())] + list(entry.get("contacts", ()))
    refs = add_contacts(db, account_id, people)
    add_members(db, row["id"], refs.values())
    return {"list_id": row["list_id"], "name": row["name"], "member_count": len(refs)}


def demo_spec():
    voters = [f"voter{n}@example.org" for n in range(1, 26)]
    return {
        "account": {"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "name": "Riverside Community Association"},
        "client": {"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET, "name": "eo_cc"},
        "lists": [
            {"name": DEMO_VOTER_LIST, "description": "Members eligible to vote", "favorite": True,
             "emails": voters},
            {"name": "Newsletter", "emails": voters[:10] + [f"reader{n}@example.org" for n in range(1, 11)]},
            {"name": "Volunteers", "emails": voters[::5] + ["helper@example.org"]},
        ],
    }


def seed_demo(db_or_path):
    """Create the demo account, client app and lists once; returns their ids and logins."""
    db = open_db(db_or_path) if isinstance(db_or_path, (str, Path)) else db_or_path
    try:
        account = one(db, "SELECT id FROM accounts WHERE email = ?", [DEMO_EMAIL])
        if account is None:
            seed(db, demo_spec())
        else:
            register_client(db, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, "eo_cc")
        return demo_info(db)
    finally:
        if db is not db_or_path:
            db.close()


def demo_info(db):
    account = one(db, "SELECT id FROM accounts WHERE email = ?", [DEMO_EMAIL])
    lists = {r["name"]: r["list_id"] for r in rows(
        db, "SELECT name, list_id FROM lists WHERE account_id = ? ORDER BY id", [account["id"]])}
    return {"account_id": account["id"], "email": DEMO_EMAIL, "password": DEMO_PASSWORD,
            "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET,
            "lists": lists, "voter_list_id": lists.get(DEMO_VOTER_LIST)}


def account_lists(db, account_id):
    """Every list of an account with its member count (for the people's pages)."""
    return rows(db, """
        SELECT l.*, (SELECT count(*) FROM memberships m WHERE m.list_ref = l.id) AS member_count
        FROM lists l WHERE account_id = ? ORDER BY l.id""", [account_id])


def get_list(db, list_id):
    return one(db, "SELECT * FROM lists WHERE list_id = ?", [list_id])


def member_emails(db, list_ref, limit=None):
    """The emails on a list in the order they joined the account."""
    sql = """SELECT c.email, c.contact_id FROM memberships m JOIN contacts c ON c.id = m.contact_ref
             WHERE m.list_ref = ? ORDER BY m.contact_ref"""
    params = [list_ref]
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    return rows(db, sql, params)
