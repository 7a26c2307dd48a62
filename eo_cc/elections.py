"""Admins' elections: list, create, edit, open and close, results, audit log."""
from flask import Blueprint, abort, redirect, render_template, url_for
from flask_login import current_user, login_required

from .db import get_db, one

bp = Blueprint("elections", __name__, url_prefix="/elections")


def load_election(election_id):
    """The current admin's election, or 404 (another admin's election does not exist for them)."""
    election = one(get_db(), "SELECT * FROM elections WHERE id = ? AND admin_id = ?",
                   [election_id, current_user.id])
    if election is None:
        abort(404)
    return election


def index():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(url_for("elections.list_elections"))


@bp.route("/")
@login_required
def list_elections():
    return render_template("elections/list.html", elections=[])
