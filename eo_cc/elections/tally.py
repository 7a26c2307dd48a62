"""Counting votes and turnout, without Flask (the CLI and tests use it too).

Counts come from `ballot_selections`; ballots carry no link to voters. Turnout over time
comes from `voters.voted_at` only, because ballots have no time at all. While voting is
open, admins see results only as snapshots, taken every `results_step` (k) ballots and
shown once k more are in, so that diffing two of them, or the last one and the final
count, against the list of who voted in between never narrows a choice down to fewer
than k voters.
"""
import json
from datetime import timedelta

from .. import clock
from ..counting import votes_text
from ..db import one, rows
from . import ranked

MAX_FILLED_HOURS = 24 * 31  # beyond a month of hours, show only hours with votes


def ballots_cast(db, election_id):
    return one(db, "SELECT COUNT(*) AS n FROM ballots WHERE election_id = ?", [election_id])["n"]


def turnout(db, election_id):
    """(voted, total) voters on the roster."""
    row = one(db, """SELECT COUNT(*) AS total, COALESCE(SUM(has_voted), 0) AS voted
                     FROM voters WHERE election_id = ?""", [election_id])
    return row["voted"], row["total"]


def percent(part, whole):
    return round(100 * part / whole, 1) if whole else 0.0


def number(value):
    """A weighted sum as shown: 3.0 -> 3, 2.5 stays."""
    return int(value) if float(value).is_integer() else round(value, 5)


def vote_counts(db, election_id):
    """{choice id: votes} over every ballot in the box, each ballot counting its weight.

    Ranked questions are counted by counting/ (see ranked.py), not here."""
    return {choice: number(votes) for choice, votes in db.execute(
        "SELECT s.choice_id, SUM(b.weight) FROM ballot_selections s JOIN ballots b "
        "ON b.election_id = s.election_id AND b.ballot_id = s.ballot_id "
        "WHERE s.election_id = ? AND s.rank IS NULL GROUP BY s.choice_id", [election_id])}


def total_weight(db, election_id):
    """The votes all ballots carry: their number, or the sum of their weights."""
    return number(one(db, "SELECT COALESCE(SUM(weight), 0) AS w FROM ballots WHERE election_id = ?",
                      [election_id])["w"])


def is_weighted(db, election_id):
    """True when the roster gives some voter a weight other than 1."""
    return one(db, "SELECT EXISTS (SELECT 1 FROM voters WHERE election_id = ? AND weight != 1) AS w",
               [election_id])["w"] == 1


def tally(db, election_id, counted=None):
    """The questions in ballot order, each with its choices, votes and percent of ballots.

    counted: (ballots, {choice id: votes}[, total weight]) to show, e.g. a live snapshot;
    default: the box now. Percents are of the total weight (the ballots when unweighted).
    """
    ballots, votes, *weight = counted or (ballots_cast(db, election_id), vote_counts(db, election_id),
                                          total_weight(db, election_id))
    weight = weight[0] if weight else ballots
    questions = {}
    for row in rows(db, """
            SELECT q.id AS question_id, q.prompt, q.max_choices, q.kind, q.seats,
                   c.id, c.label, c.is_abstain
            FROM questions q JOIN choices c ON c.question_id = q.id
            WHERE q.election_id = ? ORDER BY q.position, q.id, c.position, c.id""", [election_id]):
        question = questions.setdefault(row["question_id"], {
            "id": row["question_id"], "prompt": row["prompt"], "max_choices": row["max_choices"],
            "kind": row["kind"], "seats": row["seats"], "ballots": ballots, "weight": weight,
            "choices": []})
        count = votes.get(row["id"], 0)
        question["choices"].append({"id": row["id"], "label": row["label"], "is_abstain": row["is_abstain"],
                                    "votes": count, "percent": percent(count, weight)})
    return list(questions.values())


def take_snapshot_if_due(db, election, now=None):
    """Inside a cast's transaction: keep the live results of this moment once k more ballots
    are in than at the last snapshot (only for elections that show live results, and never for a
    weighted one: a weighted total that moved can name the one heavy voter who voted in between)."""
    if not election["has_live_results"]:
        return
    cast = ballots_cast(db, election["id"])
    last = one(db, "SELECT MAX(ballots) AS n FROM result_snapshots WHERE election_id = ?",
               [election["id"]])["n"] or 0
    # The roster is read only when a snapshot is due, not at every cast.
    if cast >= last + election["results_step"] and not is_weighted(db, election["id"]):
        db["result_snapshots"].insert({"election_id": election["id"], "ballots": cast,
                                       "votes": json.dumps(vote_counts(db, election["id"])),
                                       "rankings": json.dumps({
                                           "ranked": ranked.packed(ranked.profiles(db, election["id"]))}),
                                       "taken_at": clock.iso(now)})


def shown_snapshot(db, election):
    """The live results an admin may see: the newest snapshot with at least k ballots cast
    after it, {"ballots", "votes", "taken_at", "next_at"}; ballots 0 before there is one.

    Holding each snapshot back until k more ballots are in means the final count, too, is
    at least k ballots away from the last snapshot an admin saw.
    """
    step, cast = election["results_step"], ballots_cast(db, election["id"])
    stored = rows(db, "SELECT ballots, votes, rankings, taken_at FROM result_snapshots "
                      "WHERE election_id = ? ORDER BY ballots", [election["id"]])
    shown = [s for s in stored if s["ballots"] <= cast - step]
    snapshot = shown[-1] if shown else {"ballots": 0, "votes": "{}", "rankings": "{}", "taken_at": None}
    kept = json.loads(snapshot["rankings"])
    later = [s["ballots"] for s in stored if s["ballots"] > snapshot["ballots"]]
    next_taken = later[0] if later else (stored[-1]["ballots"] if stored else 0) + step
    return {"ballots": snapshot["ballots"], "taken_at": snapshot["taken_at"], "next_at": next_taken + step,
            "votes": {int(choice): count for choice, count in json.loads(snapshot["votes"]).items()},
            "weight": snapshot["ballots"],         # snapshots are of unweighted elections only
            "profiles": ranked.unpacked(kept.get("ranked", {}))}


def csv_rows(questions):
    """Rows for the results CSV: question, choice, votes, percent."""
    yield ["question", "choice", "votes", "percent"]
    for question in questions:
        for choice in question["choices"]:
            yield [question["prompt"], choice["label"], choice["votes"], f"{choice['percent']:.1f}"]


def _hour(moment):
    return moment.replace(minute=0, second=0, microsecond=0)


def turnout_by_hour(db, election_id):
    """[(hour start as aware UTC datetime, voters who voted in that hour)], oldest first, gaps as 0."""
    counts = {}
    for row in rows(db, """SELECT voted_at FROM voters
                           WHERE election_id = ? AND has_voted = 1 AND voted_at IS NOT NULL""",
                    [election_id]):
        hour = _hour(clock.parse(row["voted_at"]))
        counts[hour] = counts.get(hour, 0) + 1
    if not counts:
        return []
    first, last = min(counts), max(counts)
    if (last - first) / timedelta(hours=1) >= MAX_FILLED_HOURS:
        return sorted(counts.items())
    hours, hour = [], first
    while hour <= last:
        hours.append((hour, counts.get(hour, 0)))
        hour += timedelta(hours=1)
    return hours


def bar_chart(buckets, width=600, height=160, gap=2):
    """Geometry for an SVG bar chart of [(label, value)]: one dict per bar with x, y, width, height."""
    if not buckets:
        return []
    top = max(value for _, value in buckets) or 1
    slot = width / len(buckets)
    return [{"label": label, "value": value, "x": round(i * slot + gap / 2, 2),
             "width": round(max(slot - gap, 1), 2),
             "height": round(height * value / top, 2), "y": round(height - height * value / top, 2)}
            for i, (label, value) in enumerate(buckets)]


def final_count(db, election_id):
    """The ballot box as it is: {"ballots", "votes", "weight", "profiles"} for counted_questions."""
    return {"ballots": ballots_cast(db, election_id), "votes": vote_counts(db, election_id),
            "weight": total_weight(db, election_id), "profiles": ranked.profiles(db, election_id)}


def counted_questions(db, election_id, seen):
    """tally() with each ranked question counted: its result, rounds table and transfer chart,
    and its first preferences as the choices' votes."""
    questions = tally(db, election_id, (seen["ballots"], seen["votes"], seen["weight"]))
    for question in questions:
        if question["kind"] != "ranked":
            continue
        labels = {c["id"]: c["label"] for c in question["choices"]}
        result = ranked.count(question, seen["profiles"].get(question["id"], []))
        first = result.rounds[0].totals
        for choice in question["choices"]:
            choice["votes"] = votes_text(first.get(choice["id"], 0))
            choice["percent"] = percent(first.get(choice["id"], 0), result.total)
        question.update(result=result, elected=[labels[c] for c in result.elected],
                        table=ranked.rounds_table(result, labels),
                        chart=ranked.transfer_chart(result, labels),
                        quota=votes_text(result.quota) if result.quota else None)
    return questions
