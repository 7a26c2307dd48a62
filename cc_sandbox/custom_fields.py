"""Custom fields: an account's definitions (at most 100) and each contact's values (at most 255 characters).

CC derives a field's `name` from its label by replacing blanks with underscores; names are unique per
account (compared without regard to case here, so the sandbox is never laxer than CC). Imports address
a field as `cf:<name>`, matched exactly.
"""
import re

from eo_cc.db import one, rows

from .ids import new_id, stamp

MAX_FIELDS = 100
MAX_LABEL = 50
MAX_VALUE = 255
TYPES = ("string",)  # CC has more types; eo_cc stores text, and the sandbox keeps every value as text


class FieldError(ValueError):
    """A refused definition: `status` is 400 (invalid, or the account is full) or 409 (name taken)."""

    def __init__(self, status, key, message):
        super().__init__(message)
        self.status, self.key = status, key


def name_for(label):
    """The name CC derives from a label: blanks become underscores."""
    return re.sub(r"\s", "_", label.strip())


def create(db, account_id, label, type_="string"):
    """A new field in the account; returns its row, or raises FieldError."""
    if not isinstance(label, str) or not label.strip() or len(label.strip()) > MAX_LABEL:
        raise FieldError(400, "custom_fields.api.invalid", f"label must be 1 to {MAX_LABEL} characters.")
    if type_ not in TYPES:
        raise FieldError(400, "custom_fields.api.invalid",
                         f"type must be one of: {', '.join(TYPES)} (the sandbox models text fields).")
    label, name = label.strip(), name_for(label)
    with db.atomic():
        if count(db, account_id) >= MAX_FIELDS:
            raise FieldError(400, "custom_fields.api.limit_exceeded",
                             f"An account can have at most {MAX_FIELDS} custom fields.")
        if by_name(db, account_id, name, any_case=True):
            raise FieldError(409, "custom_fields.api.conflict",
                             f"A custom field named {name} already exists.")
        now = stamp()
        row = {"custom_field_id": new_id(), "account_id": account_id, "label": label, "name": name,
               "type": type_, "created_at": now, "updated_at": now}
        row["id"] = db["custom_fields"].insert(row).last_pk
    return row


def count(db, account_id):
    return db.execute("SELECT count(*) FROM custom_fields WHERE account_id = ?", [account_id]).fetchone()[0]


def get(db, account_id, custom_field_id):
    return one(db, "SELECT * FROM custom_fields WHERE account_id = ? AND custom_field_id = ?",
               [account_id, custom_field_id])


def by_name(db, account_id, name, any_case=False):
    collate = " COLLATE NOCASE" if any_case else ""
    return one(db, f"SELECT * FROM custom_fields WHERE account_id = ? AND name = ?{collate}",
               [account_id, name])


def account_fields(db, account_id, after=0, limit=None):
    """The account's fields in the order they were made (a page of them when limit is given)."""
    sql = "SELECT * FROM custom_fields WHERE account_id = ? AND id > ? ORDER BY id"
    params = [account_id, after]
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    return rows(db, sql, params)


def delete(db, account_id, custom_field_id):
    """Remove the field and every contact's value for it; False when there is no such field."""
    with db.atomic():
        row = get(db, account_id, custom_field_id)
        if row is None:
            return False
        db.execute("DELETE FROM custom_field_values WHERE field_ref = ?", [row["id"]])
        db.execute("DELETE FROM custom_fields WHERE id = ?", [row["id"]])
    return True


def set_values(db, values):
    """Store (contact_ref, field_ref, value) triples; an empty value clears the field."""
    values = list(values)
    db.conn.executemany("INSERT OR REPLACE INTO custom_field_values (contact_ref, field_ref, value) "
                        "VALUES (?, ?, ?)", [v for v in values if v[2] != ""])
    db.conn.executemany("DELETE FROM custom_field_values WHERE contact_ref = ? AND field_ref = ?",
                        [v[:2] for v in values if v[2] == ""])


def values_for(db, contact_refs):
    """contact ref -> [{"custom_field_id", "name", "label", "value"}] for those contacts."""
    found = {ref: [] for ref in contact_refs}
    refs = list(found)
    for start in range(0, len(refs), 500):
        chunk = refs[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for row in db.query(f"""SELECT v.contact_ref, f.custom_field_id, f.name, f.label, v.value
                                FROM custom_field_values v JOIN custom_fields f ON f.id = v.field_ref
                                WHERE v.contact_ref IN ({marks}) ORDER BY v.contact_ref, f.id""", chunk):
            found[row.pop("contact_ref")].append(row)
    return found


def field_json(row):
    """A field as CC shows it."""
    return {"custom_field_id": row["custom_field_id"], "label": row["label"], "name": row["name"],
            "type": row["type"], "created_at": row["created_at"], "updated_at": row["updated_at"]}
