"""The results page, its CSV export and the turnout chart."""
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import login_required

from ..db import get_db
from ..downloads import csv_response
from . import voting_window
from .tally import (
    ballots_cast,
    bar_chart,
    csv_rows,
    shown_snapshot,
    tally,
    turnout,
    turnout_by_hour,
    vote_counts,
)
from .views import load_election

bp = Blueprint("results", __name__, url_prefix="/elections/<int:election_id>")

CHART_WIDTH, CHART_HEIGHT = 600, 160


def results_visible(election):
    """After closing always; while open only when the admin chose live results."""
    state = voting_window.effective_state(election)
    return state == "closed" or (state == "open" and bool(election["has_live_results"]))


def visible_count(db, election):
    """(ballots, {choice id: votes}, the live snapshot or None) an admin may see: the final
    count once voting has closed; while it is open, the last snapshot, never the box now."""
    if voting_window.effective_state(election) == "closed":
        return ballots_cast(db, election["id"]), vote_counts(db, election["id"]), None
    snapshot = shown_snapshot(db, election)
    return snapshot["ballots"], snapshot["votes"], snapshot


@bp.route("/results")
@login_required
def show(election_id):
    election = load_election(election_id)
    db = get_db()
    voted, total = turnout(db, election_id)
    context = {"election": election, "voted": voted, "total": total,
               "state": voting_window.effective_state(election),
               "is_visible": results_visible(election)}
    if context["is_visible"]:
        hours = turnout_by_hour(db, election_id)
        ballots, votes, snapshot = visible_count(db, election)
        context.update(questions=tally(db, election_id, (ballots, votes)), ballots=ballots,
                       snapshot=snapshot, hours=hours, bars=bar_chart(hours, CHART_WIDTH, CHART_HEIGHT),
                       chart_width=CHART_WIDTH, chart_height=CHART_HEIGHT)
    return render_template("elections/results.html", **context)


@bp.route("/results.csv")
@login_required
def download(election_id):
    election = load_election(election_id)
    if not results_visible(election):
        flash("Results are not available yet.", "info")
        return redirect(url_for("results.show", election_id=election_id))
    ballots, votes, _ = visible_count(get_db(), election)
    header, *records = csv_rows(tally(get_db(), election_id, (ballots, votes)))
    return csv_response(header, records, f"results-{election['slug']}.csv")
