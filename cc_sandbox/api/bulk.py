"""Bulk activities: POST remove_list_memberships and contacts_json_import, GET /v3/activities/{id}."""
from flask import Blueprint, g, jsonify, request

from .. import activities, imports
from . import ApiError, errors, sandbox

bp = Blueprint("api_bulk", __name__, url_prefix="/v3")


def queue(list_ids, **work):
    """Queue an activity for the token's account (a 429 past CC's 1,000 unfinished ones)."""
    account_id = g.grant["account_id"]
    if activities.queued(g.db, account_id) >= activities.MAX_QUEUED:
        g.error_key = "throttled"
        return jsonify({"error_key": "throttled", "error_message": "Too many queued activities."}), 429
    settings = sandbox()
    activity = activities.create(g.db, account_id, list_ids, settings.activity_delay,
                                 settings.faults.activity_outcome, **work)
    return jsonify(activity), 201


@bp.post("/activities/remove_list_memberships")
def remove_list_memberships():
    if not request.is_json:
        return errors(415, "unsupported.media.type", "Content-Type must be application/json.")
    try:
        contact_ids, list_ids = activities.validate(g.db, g.grant["account_id"],
                                                    request.get_json(silent=True))
    except ValueError as error:
        return errors(400, "activity.invalid", str(error))
    return queue(list_ids, contact_ids=contact_ids)


@bp.post("/activities/contacts_json_import")
def contacts_json_import():
    """Import contacts (bounds and behaviour: see the imports module); 201 with the activity."""
    if not request.is_json:
        return errors(415, "unsupported.media.type", "Content-Type must be application/json.")
    if len(request.get_data(cache=True)) >= imports.MAX_BYTES:
        raise ApiError(400, "activity.invalid", "The request body must be less than 4 MB "
                                                f"({imports.MAX_BYTES:,} bytes).")
    try:
        contacts, list_ids = imports.validate(g.db, g.grant["account_id"], request.get_json(silent=True))
    except ValueError as error:
        return errors(400, "activity.invalid", str(error))
    return queue(list_ids, import_data=contacts)


@bp.get("/activities/<activity_id>")
def activity(activity_id):
    row = activities.get(g.db, activity_id, g.grant["account_id"])
    if row is None:
        return errors(404, "not.found", f"No activity with id {activity_id}.")
    return jsonify(activities.describe(row, sandbox().activity_delay))
