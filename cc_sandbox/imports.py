"""POST /activities/contacts_json_import: checking a request, and applying it when the activity completes.

CC's documented bounds: at most 40,000 contacts and less than 4 MB per request, 1 to 50 list ids, at
most 25 custom fields per contact, values of at most 255 characters, and `cf:<name>` only for fields
that already exist. The sandbox refuses a request outside them with a 400 (CC says it would drop what
lies beyond 4 MB; refusing makes a client that relies on that fail loudly here instead). An address
that is not an email address is one of CC's "correctable" errors: that contact is skipped and counted.

On completion, new contacts get implicit permission; existing ones (matched by email, without regard to
case) have the names and custom fields given updated and keep their status; every contact is added to
the lists, except unsubscribed ones, which CC counts as `cannot_add_to_list_count`.
"""
import json
import re

from eo_cc.db import rows

from . import custom_fields, store
from .ids import stamp

MAX_CONTACTS = 40_000
MAX_BYTES = 4_000_000  # "less than 4 megabytes": the decimal reading, so a client that fits here fits CC
MAX_LISTS = 50
MAX_FIELDS_PER_CONTACT = 25
MAX_TEXT = 50  # the spec's maxLength for email, first_name and last_name
CF = "cf:"
KEPT = {"email", "first_name", "last_name"}
IGNORED = {  # the spec's other properties: accepted, not modelled by the sandbox
    "job_title", "company_name", "birthday_month", "birthday_day", "anniversary", "phone", "home_phone",
    "work_phone", "mobile_phone", "other_phone", "street", "street2", "city", "state", "zip", "country",
    "home_street", "home_street2", "home_city", "home_state", "home_zip", "home country", "work_street",
    "work_street2", "work_city", "work_state", "work_zip", "work_country", "other_street",
    "other_street2", "other_city", "other_state", "other_zip", "other_country", "sms_number",
    "sms_consent_date"}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def validate(db, account_id, body):
    """(contacts, list_ids) from a request body, or raise ValueError (a 400) or store.ListNotFound."""
    if not isinstance(body, dict):
        raise ValueError("The request body must be a JSON object.")
    contacts, list_ids = body.get("import_data"), body.get("list_ids")
    if not isinstance(contacts, list) or not contacts or not all(isinstance(c, dict) for c in contacts):
        raise ValueError("import_data must be a non-empty array of contact objects.")
    if len(contacts) > MAX_CONTACTS:
        raise ValueError(f"import_data allows at most {MAX_CONTACTS:,} contacts.")
    if (not isinstance(list_ids, list) or not 1 <= len(list_ids) <= MAX_LISTS
            or not all(isinstance(i, str) for i in list_ids)):
        raise ValueError(f"list_ids must be an array of 1 to {MAX_LISTS} list ids.")
    store.account_list_refs(db, account_id, list_ids)
    names = {row["name"] for row in custom_fields.account_fields(db, account_id)}
    return [_contact(index, contact, names) for index, contact in enumerate(contacts)], list_ids


def _contact(index, contact, field_names):
    """The parts of one import_data entry the sandbox keeps: {"email", names given, "cf": {name: value}}."""
    where = f"import_data[{index}]"
    kept = {"cf": {}}
    for key, value in contact.items():
        if key.startswith(CF):
            name = key[len(CF):]
            if name not in field_names:
                raise ValueError(f"{where}: {key}: the account has no custom field named {name!r} "
                                 "(create it first with POST /v3/contact_custom_fields).")
            if not isinstance(value, str) or len(value) > custom_fields.MAX_VALUE:
                raise ValueError(f"{where}: {key} must be text of at most {custom_fields.MAX_VALUE} characters.")
            kept["cf"][name] = value
        elif key in KEPT:
            if not isinstance(value, str) or len(value) > MAX_TEXT:
                raise ValueError(f"{where}: {key} must be text of at most {MAX_TEXT} characters.")
            kept[key] = value
        elif key not in IGNORED:
            raise ValueError(f"{where}: {key!r} is not a contact property of contacts_json_import.")
    if "email" not in kept:
        raise ValueError(f"{where}: email is required (the sandbox does not model sms_number).")
    if len(kept["cf"]) > MAX_FIELDS_PER_CONTACT:
        raise ValueError(f"{where}: at most {MAX_FIELDS_PER_CONTACT} custom fields per contact.")
    return kept


def apply(db, activity):
    """Carry out a completed import (inside the caller's transaction); returns CC's status counts."""
    account_id, contacts = activity["account_id"], json.loads(activity["import_data"])
    people, correctable = {}, 0
    for contact in contacts:
        email = contact["email"].strip().lower()
        if not EMAIL.match(email):
            correctable += 1
            continue
        person = people.setdefault(email, {"email": email, "cf": {}})
        person["cf"].update(contact.pop("cf"))
        person.update(contact, email=email)
    existing = store.contact_refs(db, account_id, people)
    _update_names(db, [(existing[email], p) for email, p in people.items() if email in existing])
    refs = store.add_contacts(db, account_id, people.values())
    fields = {row["name"]: row["id"] for row in custom_fields.account_fields(db, account_id)}
    custom_fields.set_values(db, [(refs[email], fields[name], value) for email, p in people.items()
                                  for name, value in p["cf"].items() if name in fields])
    unsubscribed = {row["id"] for row in rows(
        db, "SELECT id FROM contacts WHERE account_id = ? AND status = 'unsubscribed'", [account_id])}
    lists = _still_active(db, account_id, json.loads(activity["list_ids"]))
    for list_ref in lists:
        store.add_members(db, list_ref, [ref for ref in refs.values() if ref not in unsubscribed])
    return {"items_total_count": len(contacts), "person_count": len(people), "error_count": 0,
            "correctable_count": correctable,
            "cannot_add_to_list_count": sum(ref in unsubscribed for ref in refs.values()) if lists else 0}


def _update_names(db, existing):
    """Existing contacts: change only the names the import gives."""
    now = stamp()
    db.conn.executemany(
        """UPDATE contacts SET first_name = coalesce(?, first_name), last_name = coalesce(?, last_name),
           updated_at = ? WHERE id = ?""",
        [(p.get("first_name"), p.get("last_name"), now, ref) for ref, p in existing])


def _still_active(db, account_id, list_ids):
    """The refs of the import's lists that still exist (one deleted meanwhile is skipped)."""
    found = []
    for list_id in list_ids:
        try:
            found.append(store.account_list(db, account_id, list_id)["id"])
        except store.ListNotFound:
            pass
    return found
