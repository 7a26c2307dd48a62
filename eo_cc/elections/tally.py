"""Counting votes and turnout, without Flask (the CLI and tests use it too).

Counts come from `ballot_selections` joined to choices and questions; ballots
carry no link to voters. Turnout over time comes from `voters.voted_at` only,
because ballots have no time at all.
"""
from datetime import timedelta

from .. import clock
from ..db import one, rows

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


def tally(db, election_id):
    """The questions in ballot order, each with its choices, votes and percent of ballots cast."""
    ballots = ballots_cast(db, election_id)
    questions = {}
    for row in rows(db, """
            SELECT q.id AS question_id, q.prompt, q.max_choices,
                   c.id, c.label, c.is_abstain, COUNT(s.receipt_code) AS votes
            FROM questions q
            JOIN choices c ON c.question_id = q.id
            LEFT JOIN ballot_selections s ON s.choice_id = c.id
            WHERE q.election_id = ?
            GROUP BY c.id
            ORDER BY q.position, q.id, c.position, c.id""", [election_id]):
        question = questions.setdefault(row["question_id"], {
            "id": row["question_id"], "prompt": row["prompt"], "max_choices": row["max_choices"],
            "ballots": ballots, "choices": []})
        question["choices"].append({
            "id": row["id"], "label": row["label"], "is_abstain": row["is_abstain"],
            "votes": row["votes"], "percent": percent(row["votes"], ballots)})
    return list(questions.values())


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
