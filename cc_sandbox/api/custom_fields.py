"""Custom fields: GET and POST /v3/contact_custom_fields, GET and DELETE /v3/contact_custom_fields/{id}."""
from flask import Blueprint, g, jsonify

from .. import custom_fields
from . import ApiError, int_arg, json_body, page_links, query_state

bp = Blueprint("api_custom_fields", __name__, url_prefix="/v3")


@bp.get("/contact_custom_fields")
def list_custom_fields():
    limit = int_arg("limit", 50, 1, 100)
    state = query_state({"after": 0})
    found = custom_fields.account_fields(g.db, g.grant["account_id"], int(state["after"]), limit + 1)
    page = found[:limit]
    return jsonify({"custom_fields": [custom_fields.field_json(row) for row in page],
                    "_links": page_links("contact_custom_fields", state, page[-1]["id"] if page else 0,
                                         limit, len(found) > limit)})


@bp.post("/contact_custom_fields")
def create_custom_field():
    """A new field (type string); its name is the label with blanks as underscores.

    A name the account already has is a 409; a 101st field is a 400 (CC allows 100 per account).
    """
    body = json_body()
    try:
        row = custom_fields.create(g.db, g.grant["account_id"], body.get("label"), body.get("type"))
    except custom_fields.FieldError as error:
        raise ApiError(error.status, error.key, str(error)) from None
    return jsonify(custom_fields.field_json(row)), 201


def not_found(custom_field_id):
    return ApiError(404, "custom_fields.api.not_found", f"Custom field not found: {custom_field_id}")


@bp.get("/contact_custom_fields/<custom_field_id>")
def custom_field(custom_field_id):
    row = custom_fields.get(g.db, g.grant["account_id"], custom_field_id)
    if row is None:
        raise not_found(custom_field_id)
    return jsonify(custom_fields.field_json(row))


@bp.delete("/contact_custom_fields/<custom_field_id>")
def delete_custom_field(custom_field_id):
    """Delete the field and every contact's value for it (204)."""
    if not custom_fields.delete(g.db, g.grant["account_id"], custom_field_id):
        raise not_found(custom_field_id)
    return "", 204
