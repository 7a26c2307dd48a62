"""The results page, its CSV export and the turnout chart."""
from flask import flash, redirect, render_template, url_for
from flask_login import login_required

from . import voting_window
from .db import get_db
from .downloads import csv_response
from .elections import bp, load_election
from .results import bar_chart, ballots_cast, csv_rows, tally, turnout, turnout_by_hour

CHART_WIDTH, CHART_HEIGHT = 600, 160


def results_visible(election):
    """After closing always; while open only when the admin chose live results."""
    state = voting_window.effective_state(election)
    return state == "closed" or (state == "open" and bool(election["has_live_results"]))


@bp.route("/<int:election_id>/results")
@login_required
def results(election_id):
    election = load_election(election_id)
    db = get_db()
    voted, total = turnout(db, election_id)
    context = {"election": election, "voted": voted, "total": total,
               "state": voting_window.effective_state(election),
               "is_visible": results_visible(election)}
    if context["is_visible"]:
        hours = turnout_by_hour(db, election_id)
        context.update(questions=tally(db, election_id), ballots=ballots_cast(db, election_id),
                       hours=hours, bars=bar_chart(hours, CHART_WIDTH, CHART_HEIGHT),
                       chart_width=CHART_WIDTH, chart_height=CHART_HEIGHT)
    return render_template("elections/results.html", **context)


@bp.route("/<int:election_id>/results.csv")
@login_required
def results_csv(election_id):
    election = load_election(election_id)
    if not results_visible(election):
        flash("Results are not available yet.", "info")
        return redirect(url_for("elections.results", election_id=election_id))
    header, *records = csv_rows(tally(get_db(), election_id))
    return csv_response(header, records, f"results-{election['slug']}.csv")
