"""`flask --app eo_cc tally ID`: count an election from its stored ballots, on the command line.

The same counting as the results page (tally.py, ranked.py, counting/). An open election is
refused unless --while-open is given: while voting is open, admins see results only in steps
of k ballots, and a count of the box now would undo that.
"""
import click
from flask import current_app
from flask.cli import with_appcontext

from ..db import connect, one
from . import voting_window
from .tally import counted_questions, final_count, is_weighted


def report(db, election_id):
    """The count of every question as lines of text (counted as on the results page)."""
    seen = final_count(db, election_id)
    lines = [f"Ballots: {seen['ballots']}"
             + (f" ({seen['weight']} weighted votes)" if is_weighted(db, election_id) else "")]
    for question in counted_questions(db, election_id, seen):
        lines.append("")
        lines.append(question["prompt"])
        if question["kind"] != "ranked":
            lines += [f"  {c['label']}: {c['votes']}" for c in question["choices"]]
            continue
        result, table = question["result"], question["table"]
        lines.append(f"  {result.method}, {question['seats']} seat(s)"
                     + (f", quota {question['quota']}" if question["quota"] else ""))
        for number, heading in enumerate(table["headings"]):
            totals = ", ".join(f"{c['label']} {c['votes'][number]}" for c in table["candidates"]
                               if c["excluded_in"] is None or c["excluded_in"] > number)
            tie = table["ties"][number]
            lines.append(f"  Round {number + 1} ({heading}): {totals}; "
                         f"non-transferable {table['exhausted'][number]}"
                         + (f"; tie broken by {tie}" if tie else ""))
        lines.append("  Elected: " + (", ".join(question["elected"]) or "no one"))
    return lines


@click.command("tally")
@click.argument("election_id", type=int)
@click.option("--while-open", is_flag=True, help="Count an election whose voting is still open.")
@with_appcontext
def tally_command(election_id, while_open):
    """Count an election's ballots (ranked questions round by round)."""
    db = connect(current_app.config["DATABASE"])
    try:
        election = one(db, "SELECT * FROM elections WHERE id = ?", [election_id])
        if election is None:
            raise click.ClickException(f"There is no election {election_id}.")
        if voting_window.effective_state(election) == "open" and not while_open:
            raise click.ClickException(
                "Voting is open: live results are shown only in steps of k ballots. "
                "Close voting first, or add --while-open to count the ballot box as it is now.")
        click.echo("\n".join(report(db, election_id)))
    finally:
        db.close()


def init_app(app):
    app.cli.add_command(tally_command)
