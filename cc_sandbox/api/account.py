"""GET /v3/account/summary: the connected account, as CC's getAccountDetails answers."""
from flask import Blueprint, g, jsonify, request

from .. import store
from . import QueryError

bp = Blueprint("api_account", __name__, url_prefix="/v3")

EXTRA_FIELDS = {"physical_address", "company_logo"}


@bp.get("/account/summary")
def account_summary():
    """The account behind the token (the scope check, account_read, runs before every /v3 view)."""
    asked = set((request.args.get("extra_fields") or "").split(",")) - {""}
    if asked - EXTRA_FIELDS:
        raise QueryError("extra_fields takes physical_address and/or company_logo.")
    account = store.get_account(g.db, g.grant["account_id"])
    return jsonify({  # the sandbox has no address or logo, so extra_fields adds nothing
        "encoded_account_id": account["encoded_account_id"],
        "organization_name": account["organization_name"],
        "contact_email": account["contact_email"],
        "first_name": account["first_name"],
        "last_name": account["last_name"],
    })
