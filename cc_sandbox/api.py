"""The /v3 API: contact lists, contacts and removal activities, with cursor paging like CC's."""
import base64
import json

from flask import Blueprint, current_app, g, jsonify, request

from eo_cc.db import rows

from . import activities

bp = Blueprint("api", __name__, url_prefix="/v3")

CONTACT_STATUSES = {"all", "active", "deleted", "not_set", "pending_confirmation", "temp_hold",
                    "unsubscribed"}
CONTACT_INCLUDES = {"custom_fields", "list_memberships", "phone_numbers", "street_addresses",
                    "notes", "taggings", "permission_to_send"}
MAX_LISTS_FILTER = 25


class QueryError(Exception):
    """A 400 with CC's error array; str() is the error_message."""


def errors(status, key, message):
    """CC's error body: an array of {error_key, error_message}."""
    g.error_key = key
    return jsonify([{"error_key": key, "error_message": message}]), status


@bp.errorhandler(QueryError)
def bad_request(error):
    return errors(400, "query.param.invalid", str(error))


def sandbox():
    return current_app.extensions["cc_sandbox"]


def int_arg(name, default, low, high):
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise QueryError(f"{name} must be an integer from {low} to {high}.") from None
    if not low <= value <= high:
        raise QueryError(f"{name} must be an integer from {low} to {high}.")
    return value


def encode_cursor(state):
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")


def decode_cursor(text):
    try:
        state = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except ValueError:
        state = None
    if not isinstance(state, dict) or not isinstance(state.get("after"), int):
        raise QueryError("cursor is not valid.")
    return state


CURSOR_ONLY = {"after", "total"}  # carried by the cursor, never taken from the query string


def query_state(defaults):
    """The query's filters: from the cursor when paging on, else from the query string."""
    if "cursor" in request.args:
        return {**defaults, **decode_cursor(request.args["cursor"])}
    return {key: default if key in CURSOR_ONLY else request.args.get(key, default)
            for key, default in defaults.items()}


def page_links(path, state, last_id, limit, has_more):
    if not has_more:
        return {}
    cursor = encode_cursor({**state, "after": last_id})
    return {"next": {"href": f"/v3/{path}?cursor={cursor}&limit={limit}"}}


@bp.get("/contact_lists")
def contact_lists():
    limit = int_arg("limit", 50, 1, 1000)
    state = query_state({"after": 0, "include_count": "false", "include_membership_count": None,
                         "status": "active"})
    if state["include_membership_count"] not in (None, "active", "all"):
        raise QueryError("include_membership_count must be active or all.")
    if state["status"] not in ("all", "active", "deleted"):
        raise QueryError("status must be all, active or deleted.")
    found = rows(g.db, """
        SELECT l.*, (SELECT count(*) FROM memberships m WHERE m.list_ref = l.id) AS member_count
        FROM lists l WHERE account_id = ? AND id > ? AND (? = 'all' OR status = ?)
        ORDER BY id LIMIT ?""",
        [g.grant["account_id"], int(state["after"]), state["status"], state["status"], limit + 1])
    page = found[:limit]
    body = {"lists": [list_json(row, state["include_membership_count"]) for row in page]}
    if str(state["include_count"]).lower() == "true":
        body["lists_count"] = g.db.execute(
            "SELECT count(*) FROM lists WHERE account_id = ?", [g.grant["account_id"]]).fetchone()[0]
    body["_links"] = page_links("contact_lists", state, page[-1]["id"] if page else 0, limit,
                                len(found) > limit)
    return jsonify(body)


def list_json(row, include_membership_count):
    item = {"list_id": row["list_id"], "name": row["name"], "description": row["description"],
            "favorite": bool(row["is_favorite"]), "created_at": row["created_at"],
            "updated_at": row["updated_at"]}
    if include_membership_count:
        item["membership_count"] = row["member_count"]
    return item


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
    memberships = list_memberships([row["id"] for row in page]) if "list_memberships" in includes else None
    return jsonify({
        "contacts": [contact_json(row, memberships) for row in page],
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
        list_ids = [i for i in text.split(",") if i]
        if not list_ids or len(list_ids) > MAX_LISTS_FILTER:
            raise QueryError(f"lists takes 1 to {MAX_LISTS_FILTER} list ids.")
        marks = ",".join("?" * len(list_ids))
        refs = [r["id"] for r in rows(g.db, f"SELECT id FROM lists WHERE account_id = ? AND list_id IN ({marks})",
                                      [g.grant["account_id"], *list_ids])] or [0]
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
    """contact ref -> the list ids it belongs to."""
    found = {ref: [] for ref in contact_refs}
    if contact_refs:
        marks = ",".join("?" * len(contact_refs))
        for row in g.db.query(f"""SELECT m.contact_ref, l.list_id FROM memberships m
                                  JOIN lists l ON l.id = m.list_ref WHERE m.contact_ref IN ({marks})""",
                              contact_refs):
            found[row["contact_ref"]].append(row["list_id"])
    return found


def contact_json(row, memberships=None):
    permission = "unsubscribed" if row["status"] == "unsubscribed" else "implicit"
    item = {
        "contact_id": row["contact_id"],
        "email_address": {"address": row["email"], "permission_to_send": permission,
                          "created_at": row["created_at"], "updated_at": row["updated_at"],
                          "opt_in_source": "Account", "opt_in_date": row["created_at"]},
        "first_name": row["first_name"], "last_name": row["last_name"],
        "create_source": "Account", "update_source": "Account",
        "created_at": row["created_at"], "updated_at": row["updated_at"],
    }
    if memberships is not None:
        item["list_memberships"] = memberships.get(row["id"], [])
    return item


@bp.post("/activities/remove_list_memberships")
def remove_list_memberships():
    if not request.is_json:
        return errors(415, "unsupported.media.type", "Content-Type must be application/json.")
    body = request.get_json(silent=True)
    try:
        contact_ids, list_ids = activities.validate(g.db, g.grant["account_id"], body)
    except ValueError as error:
        return errors(400, "activity.invalid", str(error))
    if activities.queued(g.db, g.grant["account_id"]) >= activities.MAX_QUEUED:
        g.error_key = "throttled"
        return jsonify({"error_key": "throttled", "error_message": "Too many queued activities."}), 429
    settings = sandbox()
    activity = activities.create(g.db, g.grant["account_id"], contact_ids, list_ids,
                                 settings.activity_delay, settings.faults.activity_outcome)
    return jsonify(activity), 201


@bp.get("/activities/<activity_id>")
def activity(activity_id):
    row = activities.get(g.db, activity_id, g.grant["account_id"])
    if row is None:
        return errors(404, "not.found", f"No activity with id {activity_id}.")
    return jsonify(activities.describe(row, sandbox().activity_delay))
