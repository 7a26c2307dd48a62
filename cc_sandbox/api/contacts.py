"""GET /v3/contacts: by email, or paging a list's members, with list memberships and custom fields."""
from flask import Blueprint, g, jsonify

from eo_cc.db import rows

from .. import custom_fields, store
from . import QueryError, int_arg, page_links, query_state

bp = Blueprint("api_contacts", __name__, url_prefix="/v3")

CONTACT_STATUSES = {"all", "active", "deleted", "not_set", "pending_confirmation", "temp_hold",
                    "unsubscribed"}
CONTACT_INCLUDES = {"custom_fields", "list_memberships", "phone_numbers", "street_addresses",
                    "notes", "taggings", "permission_to_send"}
MAX_LISTS_FILTER = 25


@bp.get("/contacts")
def contacts():
    limit = int_arg("limit", 50, 1, 500)
    state = query_state({"after": 0, "email": None, "lists": None, "status": None, "include": None,
                         "total": None})
    query = ContactQuery(state)
    if state["total"] is None:  # counted once, then carried in the cursor: counting a big list is slow
        state["total"] = g.db.execute(query.count_sql(), query.params).fetchone()[0]
    found = rows(g.db, query.page_sql(), [*query.params, int(state["after"]), limit + 1])
    page = found[:limit]
    includes = set((state["include"] or "").split(",")) - {""}
    refs = [row["id"] for row in page]
    memberships = list_memberships(refs) if "list_memberships" in includes else None
    values = custom_fields.values_for(g.db, refs) if "custom_fields" in includes else None
    return jsonify({
        "contacts": [contact_json(row, memberships, values) for row in page],
        "contacts_count": state["total"],
        "_links": page_links("contacts", state, page[-1]["id"] if page else 0, limit, len(found) > limit),
    })


class ContactQuery:
    """SQL for GET /contacts; with `lists` it walks the memberships key so big lists page fast."""

    def __init__(self, state):
        self.where, self.params = ["c.account_id = ?"], [g.grant["account_id"]]
        self.source, self.key, self.group = "contacts c", "c.id", ""
        self._status(state["status"])
        unknown = set((state["include"] or "").split(",")) - CONTACT_INCLUDES - {""}
        if unknown:
            raise QueryError(f"include has unknown values: {', '.join(sorted(unknown))}.")
        if state["email"] is not None:
            self.where.append("c.email = ?")
            self.params.append(state["email"])
        if state["lists"] is not None:
            self._lists(state["lists"])

    def _status(self, status):
        if status and status not in CONTACT_STATUSES:
            raise QueryError(f"status must be one of {', '.join(sorted(CONTACT_STATUSES))}.")
        if status is None:
            self.where.append("c.status != 'deleted'")
        elif status != "all":
            self.where.append("c.status = ?")
            self.params.append(status)

    def _lists(self, text):
        """Filter by lists: every id must be one of the account's lists now (each page checks again,
        so a list deleted in the middle of a scan is a 404 lists.api.not_found)."""
        list_ids = [i for i in text.split(",") if i]
        if not list_ids or len(list_ids) > MAX_LISTS_FILTER:
            raise QueryError(f"lists takes 1 to {MAX_LISTS_FILTER} list ids.")
        refs = store.account_list_refs(g.db, g.grant["account_id"], list_ids).values()
        self.source = "memberships m JOIN contacts c ON c.id = m.contact_ref"
        self.key = "m.contact_ref"
        self.where.insert(0, f"m.list_ref IN ({','.join(str(int(r)) for r in refs)})")
        self.group = " GROUP BY m.contact_ref" if len(refs) > 1 else ""

    def page_sql(self):
        return (f"SELECT c.* FROM {self.source} WHERE {' AND '.join(self.where)} AND {self.key} > ?"
                f"{self.group} ORDER BY {self.key} LIMIT ?")

    def count_sql(self):
        distinct = "DISTINCT " if self.group else ""
        return f"SELECT count({distinct}{self.key}) FROM {self.source} WHERE {' AND '.join(self.where)}"


def list_memberships(contact_refs):
    """contact ref -> the ids of the active lists it belongs to."""
    found = {ref: [] for ref in contact_refs}
    if contact_refs:
        marks = ",".join("?" * len(contact_refs))
        for row in g.db.query(f"""SELECT m.contact_ref, l.list_id FROM memberships m
                                  JOIN lists l ON l.id = m.list_ref WHERE m.contact_ref IN ({marks})""",
                              contact_refs):
            found[row["contact_ref"]].append(row["list_id"])
    return found


def contact_json(row, memberships=None, values=None):
    item = {
        "contact_id": row["contact_id"],
        "email_address": {"address": row["email"], "permission_to_send": store.permission(row["status"]),
                          "created_at": row["created_at"], "updated_at": row["updated_at"],
                          "opt_in_source": "Account", "opt_in_date": row["created_at"]},
        "first_name": row["first_name"], "last_name": row["last_name"],
        "create_source": "Account", "update_source": "Account",
        "created_at": row["created_at"], "updated_at": row["updated_at"],
    }
    if row["status"] == "unsubscribed":
        item["email_address"].update(opt_out_source="Contact", opt_out_date=row["updated_at"])
    if values is not None:
        item["custom_fields"] = [{"custom_field_id": v["custom_field_id"], "value": v["value"]}
                                 for v in values.get(row["id"], [])]
    if memberships is not None:
        item["list_memberships"] = memberships.get(row["id"], [])
    return item
