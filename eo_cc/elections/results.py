"""The results page, its CSV export, the BLT ballot files of ranked questions and the turnout chart."""
from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_login import login_required

from ..db import get_db
from ..downloads import csv_response, no_store
from ..roster import weights
from . import ranked, voting_window
from .tally import (
    bar_chart,
    counted_questions,
    csv_rows,
    final_count,
    is_weighted,
    shown_snapshot,
    turnout,
    turnout_by_hour,
)
from .views import load_election

bp = Blueprint("results", __name__, url_prefix="/elections/<int:election_id>")

CHART_WIDTH, CHART_HEIGHT = 600, 160


def results_visible(election):
    """After closing always; while open only when the admin chose live results, and never for a
    weighted election (see live_results_withheld)."""
    state = voting_window.effective_state(election)
    return state == "closed" or (state == "open" and bool(election["has_live_results"])
                                 and not is_weighted(get_db(), election["id"]))


def live_results_withheld(election):
    """True when live results were asked for but the election is weighted.

    Snapshots k ballots apart hide each choice among k voters only when every ballot counts the
    same: with weights, the change in a weighted total can add up in one way only (1 + 1 + 10)
    and so point at the one voter with weight 10 who voted in between.
    """
    return (voting_window.effective_state(election) == "open" and bool(election["has_live_results"])
            and is_weighted(get_db(), election["id"]))


def visible_count(db, election):
    """What an admin may see: the final count once voting has closed; while it is open, the
    last snapshot, never the box now. {"ballots", "votes", "weight", "profiles", "snapshot"}."""
    if voting_window.effective_state(election) == "closed":
        return {**final_count(db, election["id"]), "snapshot": None}
    snapshot = shown_snapshot(db, election)
    return {"ballots": snapshot["ballots"], "votes": snapshot["votes"], "weight": snapshot["weight"],
            "profiles": snapshot["profiles"], "snapshot": snapshot}


@bp.route("/results")
@login_required
def show(election_id):
    election = load_election(election_id)
    db = get_db()
    voted, total = turnout(db, election_id)
    context = {"election": election, "voted": voted, "total": total,
               "state": voting_window.effective_state(election),
               "is_visible": results_visible(election), "is_weighted": is_weighted(db, election_id),
               "is_withheld": live_results_withheld(election),
               "weight_warning": weights.warning(weights.roster_classes(db, election_id))}
    if context["is_visible"]:
        hours = turnout_by_hour(db, election_id)
        seen = visible_count(db, election)
        context.update(questions=counted_questions(db, election_id, seen), ballots=seen["ballots"],
                       weight=seen["weight"], snapshot=seen["snapshot"], hours=hours,
                       bars=bar_chart(hours, CHART_WIDTH, CHART_HEIGHT),
                       chart_width=CHART_WIDTH, chart_height=CHART_HEIGHT)
    return render_template("elections/results.html", **context)


def _refuse_hidden(election):
    if not results_visible(election):
        flash("Results are not available yet.", "info")
        return redirect(url_for("results.show", election_id=election["id"]))
    return None


@bp.route("/results.csv")
@login_required
def download(election_id):
    election = load_election(election_id)
    if refused := _refuse_hidden(election):
        return refused
    header, *records = csv_rows(counted_questions(get_db(), election_id, visible_count(get_db(), election)))
    return csv_response(header, records, f"results-{election['slug']}.csv")


@bp.route("/results/<int:question_id>.blt")
@login_required
def ballot_file(election_id, question_id):
    """Every ballot of one ranked question in BLT, for a recount in any STV program."""
    election = load_election(election_id)
    if refused := _refuse_hidden(election):
        return refused
    db = get_db()
    question = next((q for q in ranked.load_ranked_questions(db, election_id) if q["id"] == question_id), None)
    if question is None:
        abort(404)
    profile = visible_count(db, election)["profiles"].get(question_id, [])   # the one secrecy rule
    return no_store(Response(ranked.blt_text(election["title"], question, profile), mimetype="text/plain",
                             headers={"Content-Disposition":
                                      f'attachment; filename="ballots-{election["slug"]}-{question_id}.blt"'}))
