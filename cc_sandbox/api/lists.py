"""Contact lists: GET /v3/contact_lists, POST /v3/contact_lists and GET /v3/contact_lists/{list_id}."""
from flask import Blueprint, g, jsonify, request

from eo_cc.db import rows

from .. import store
from . import ApiError, QueryError, int_arg, json_body, page_links, query_state

bp = Blueprint("api_lists", __name__, url_prefix="/v3")

MAX_NAME = 255
MEMBER_COUNT = "(SELECT count(*) FROM memberships m WHERE m.list_ref = l.id) AS member_count"


@bp.get("/contact_lists")
def contact_lists():
    limit = int_arg("limit", 50, 1, 1000)
    state = query_state({"after": 0, "include_count": "false", "include_membership_count": None,
                         "status": "active", "name": None})
    if state["include_membership_count"] not in (None, "active", "all"):
        raise QueryError("include_membership_count must be active or all.")
    if state["status"] not in ("all", "active", "deleted"):
        raise QueryError("status must be all, active or deleted.")
    where = "account_id = ? AND (? = 'all' OR status = ?)"
    params = [g.grant["account_id"], state["status"], state["status"]]
    if state["name"] is not None:
        where += " AND name = ?"
        params.append(state["name"])
    found = rows(g.db, f"SELECT l.*, {MEMBER_COUNT} FROM lists l WHERE {where} AND id > ? ORDER BY id LIMIT ?",
                 [*params, int(state["after"]), limit + 1])
    page = found[:limit]
    body = {"lists": [list_json(row, state["include_membership_count"]) for row in page]}
    if str(state["include_count"]).lower() == "true":
        body["lists_count"] = g.db.execute(f"SELECT count(*) FROM lists WHERE {where}", params).fetchone()[0]
    body["_links"] = page_links("contact_lists", state, page[-1]["id"] if page else 0, limit,
                                len(found) > limit)
    return jsonify(body)


def list_json(row, include_membership_count=None):
    item = {"list_id": row["list_id"], "name": row["name"], "description": row["description"],
            "favorite": bool(row["is_favorite"]), "created_at": row["created_at"],
            "updated_at": row["updated_at"]}
    if row["deleted_at"]:
        item["deleted_at"] = row["deleted_at"]
    if include_membership_count:
        item["membership_count"] = row["member_count"]
    return item


@bp.get("/contact_lists/<list_id>")
def contact_list(list_id):
    """One of the account's lists; a deleted list, or another account's, is a 404 lists.api.not_found."""
    count = request.args.get("include_membership_count")
    if count not in (None, "active", "all"):
        raise QueryError("include_membership_count must be active or all.")
    row = store.account_list(g.db, g.grant["account_id"], list_id)
    row["member_count"] = g.db.execute("SELECT count(*) FROM memberships WHERE list_ref = ?",
                                       [row["id"]]).fetchone()[0]
    return jsonify(list_json(row, count))


@bp.post("/contact_lists")
def create_contact_list():
    """A new list; its name must be new in the account (compared without regard to case)."""
    body = json_body()
    name, description = body.get("name"), body.get("description", "")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise ApiError(400, "lists.api.invalid", f"name is required: text of 1 to {MAX_NAME} characters.")
    if not isinstance(description, str) or not isinstance(body.get("favorite", False), bool):
        raise ApiError(400, "lists.api.invalid", "description must be text and favorite true or false.")
    account_id = g.grant["account_id"]
    with g.db.atomic():
        taken = store.list_named(g.db, account_id, name.strip())
        if taken:
            raise ApiError(409, "lists.api.conflict", f"A list named {taken['name']} already exists.")
        if store.active_list_count(g.db, account_id) >= store.MAX_LISTS:
            raise ApiError(400, "lists.api.limit_exceeded", f"An account can have at most {store.MAX_LISTS} lists.")
        row = store.create_list(g.db, account_id, name.strip(), description, body.get("favorite", False))
    row["deleted_at"] = None
    return jsonify(list_json(row)), 201
