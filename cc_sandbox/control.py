"""/_sandbox: pages to watch lists shrink, and JSON controls for tests (seed, faults, limits, stats,
and what a list's owner does in CC: rename or delete it)."""
from flask import Blueprint, abort, current_app, g, jsonify, render_template, request

from eo_cc.db import one, rows

from . import activities, custom_fields, store

bp = Blueprint("control", __name__, url_prefix="/_sandbox")
PAGE_MEMBERS = 1000
LIMITS = ("requests_per_second", "token_requests_per_second", "daily_quota", "activity_delay",
          "token_lifetime", "cursor_lifetime")


def sandbox():
    return current_app.extensions["cc_sandbox"]


def json_body():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        response = jsonify({"error": "Send a JSON object with Content-Type: application/json."})
        response.status_code = 400
        abort(response)
    return body


@bp.get("/")
def index():
    activities.finish_due(g.db)
    accounts = rows(g.db, "SELECT id, email, organization_name, contact_email, encoded_account_id "
                          "FROM accounts ORDER BY id")
    for account in accounts:
        account["lists"] = store.account_lists(g.db, account["id"])
    clients = rows(g.db, "SELECT client_id, name FROM clients ORDER BY client_id")
    return render_template("sandbox/index.html", accounts=accounts, clients=clients,
                           logins=store.demo_logins())


def load_list(list_id):
    found = store.get_list(g.db, list_id)
    if found is None:
        abort(404)
    activities.finish_due(g.db)
    found["member_count"] = g.db.execute(
        "SELECT count(*) FROM memberships WHERE list_ref = ?", [found["id"]]).fetchone()[0]
    return found


@bp.get("/lists/<list_id>")
def list_page(list_id):
    """The list's members with their permission and custom field values (one column per field)."""
    found = load_list(list_id)
    members = store.members(g.db, found["id"], limit=PAGE_MEMBERS)
    fields = custom_fields.account_fields(g.db, found["account_id"])
    account = store.get_account(g.db, found["account_id"])
    return render_template("sandbox/list.html", list=found, members=members, fields=fields,
                           account=account, shown_limit=PAGE_MEMBERS)


@bp.get("/lists/<list_id>/members.json")
def list_members(list_id):
    """Everyone on the list: emails, and members with permission_to_send and custom fields by name."""
    found = load_list(list_id)
    members = store.members(g.db, found["id"])
    return jsonify({"list_id": found["list_id"], "name": found["name"], "status": found["status"],
                    "deleted_at": found["deleted_at"], "member_count": found["member_count"],
                    "emails": [m["email"] for m in members], "members": members})


@bp.post("/lists/<list_id>/delete")
def delete_list(list_id):
    """Delete the list as its owner would in CC (eo_cc never deletes lists)."""
    found = store.get_list(g.db, list_id)
    if found is None or found["status"] == "deleted":
        return jsonify({"error": f"no list {list_id} to delete"}), 404
    store.delete_list(g.db, found["id"])
    found = store.get_list(g.db, list_id)
    return jsonify({"list_id": list_id, "name": found["name"], "deleted_at": found["deleted_at"]})


@bp.post("/lists/<list_id>/rename")
def rename_list(list_id):
    """Rename the list as its owner would in CC: {"name": "..."}."""
    name = json_body().get("name")
    found = store.get_list(g.db, list_id)
    if found is None or found["status"] == "deleted":
        return jsonify({"error": f"no list {list_id} to rename"}), 404
    if not isinstance(name, str) or not name.strip():
        return jsonify({"error": "name is required"}), 400
    taken = store.list_named(g.db, found["account_id"], name.strip())
    if taken and taken["id"] != found["id"]:
        return jsonify({"error": f"the account already has a list named {name.strip()}"}), 409
    store.rename_list(g.db, found["id"], name.strip())
    return jsonify({"list_id": list_id, "name": name.strip()})


@bp.get("/contacts.json")
def contact_lookup():
    """Every account's contact with this email, and the lists it is on (contacts are never deleted)."""
    email = (request.args.get("email") or "").strip().lower()
    found = rows(g.db, "SELECT id, contact_id, account_id, email, status FROM contacts WHERE email = ?",
                 [email])
    for contact in found:
        contact["list_ids"] = [r["list_id"] for r in rows(
            g.db, "SELECT l.list_id FROM memberships m JOIN lists l ON l.id = m.list_ref "
                  "WHERE m.contact_ref = ?", [contact.pop("id")])]
    return jsonify({"contacts": found})


@bp.post("/seed")
def seed():
    body = json_body()
    if not isinstance(body.get("account"), dict) or not body["account"].get("email"):
        return jsonify({"error": "account.email is required"}), 400
    try:
        return jsonify(store.seed(g.db, body)), 201
    except ValueError as error:
        return jsonify({"error": str(error)}), 400
    except (KeyError, TypeError, AttributeError) as error:
        return jsonify({"error": f"bad seed data: {error!r}"}), 400


@bp.post("/seed-demo")
def seed_demo():
    return jsonify(store.seed_demo(g.db)), 201


@bp.route("/faults", methods=["GET", "POST"])
def faults():
    if request.method == "POST":
        try:
            sandbox().set_faults(json_body())
        except (ValueError, TypeError) as error:
            return jsonify({"error": str(error)}), 400
    return jsonify(sandbox().faults.as_dict())


@bp.route("/limits", methods=["GET", "POST"])
def limits():
    current = sandbox()
    if request.method == "POST":
        body = json_body()
        wrong = [key for key, value in body.items() if key in LIMITS and not (
            value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0))]
        if wrong:
            return jsonify({"error": f"{', '.join(wrong)}: a number of at least 0, or null"}), 400
        if "requests_per_second" in body:
            current.limiter.rate = body["requests_per_second"]
        if "token_requests_per_second" in body:
            current.token_limiter.rate = body["token_requests_per_second"]
        if "daily_quota" in body:
            current.quota.quota = body["daily_quota"]
        if body.get("reset_usage"):
            current.quota.reset()
        for key in ("activity_delay", "token_lifetime", "cursor_lifetime"):
            if key in body:
                setattr(current, key, body[key])
    return jsonify({"requests_per_second": current.limiter.rate, "daily_quota": current.quota.quota,
                    "token_requests_per_second": current.token_limiter.rate,
                    "activity_delay": current.activity_delay, "token_lifetime": current.token_lifetime,
                    "cursor_lifetime": current.cursor_lifetime})


@bp.get("/stats")
def stats():
    body = sandbox().stats.as_dict()
    body["forbidden_calls"] = rows(g.db, "SELECT method, path, query, client_id, at FROM forbidden_calls "
                                         "ORDER BY id")
    body["activities"] = {r["state"]: r["n"] for r in rows(
        g.db, "SELECT state, count(*) AS n FROM activities GROUP BY state")}
    body["quota_used"] = {c["client_id"]: sandbox().quota.used(c["client_id"])
                          for c in rows(g.db, "SELECT client_id FROM clients")}
    body["imports"] = activities.import_stats(g.db)
    body["import_count"] = len(body["imports"])
    return jsonify(body)


@bp.post("/stats/reset")
def reset_stats():
    sandbox().stats.reset()
    g.db.execute("DELETE FROM forbidden_calls")
    return jsonify({"reset": True})


@bp.get("/account.json")
def account_json():
    """Look up an account by email (for tests that seeded one)."""
    found = one(g.db, "SELECT id, email, organization_name, contact_email, encoded_account_id "
                      "FROM accounts WHERE email = ?",
                [(request.args.get("email") or "").strip().lower()])
    if found is None:
        abort(404)
    found["lists"] = [{"list_id": row["list_id"], "name": row["name"], "member_count": row["member_count"],
                       "status": row["status"]} for row in store.account_lists(g.db, found["id"])]
    found["custom_fields"] = [custom_fields.field_json(row)
                              for row in custom_fields.account_fields(g.db, found["id"])]
    return jsonify(found)
