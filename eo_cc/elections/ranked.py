"""Ranked questions: their ballots read from the box, counted by counting/, shown as rounds.

Flask-free (the results page, `flask --app eo_cc tally` and tests share it). A ranked
question with one seat is counted by instant-runoff, with several by Scottish STV.
"""
from collections import Counter

from ..counting import blt, irv, stv, to_units, votes_text
from ..db import rows


def profiles(db, election_id):
    """{question id: [(ranking of choice ids, weight in UNITs)]}, one entry per ballot that ranks
    someone, in the box's key order (random: it says nothing about who cast what, or when)."""
    found, ballots = {}, {}
    for row in db.execute("""
            SELECT s.ballot_id, c.question_id, s.choice_id, b.weight
            FROM ballot_selections s
            JOIN ballots b ON b.election_id = s.election_id AND b.ballot_id = s.ballot_id
            JOIN choices c ON c.id = s.choice_id
            WHERE s.election_id = ? AND s.rank IS NOT NULL
            ORDER BY s.ballot_id, c.question_id, s.rank""", [election_id]):
        ballot_id, question_id, choice_id, weight = row
        key = (ballot_id, question_id)
        if key not in ballots:
            ballots[key] = ([], to_units(weight))
            found.setdefault(question_id, []).append(ballots[key])
        ballots[key][0].append(choice_id)
    return {qid: [(tuple(ranking), units) for ranking, units in entries] for qid, entries in found.items()}


def packed(found):
    """profiles() as JSON-ready counts per (ranking, weight), for live snapshots."""
    return {str(qid): [[list(r), units, n] for (r, units), n in sorted(Counter(entries).items())]
            for qid, entries in found.items()}


def unpacked(kept):
    """packed() back into profiles()."""
    return {int(qid): [(tuple(r), units) for r, units, n in entries for _ in range(n)]
            for qid, entries in kept.items()}


def count(question, profile):
    """The counting Result for a ranked question (dict with id, seats, choices) and its ballots."""
    candidates = [c["id"] for c in question["choices"]]
    if question["seats"] == 1:
        return irv.count(candidates, profile)
    return stv.count(candidates, profile, question["seats"])


ACTIONS = {"first": "First preferences", "surplus": "Surplus of {}", "exclude": "{} excluded"}


def rounds_table(result, labels):
    """The results page's round-by-round table: headings and one row per candidate, votes as text."""
    headings = [ACTIONS[r.action].format(labels.get(r.subject, "")) for r in result.rounds]
    elected_in = {c: i for i, r in enumerate(result.rounds) for c in r.elected}
    out_in = {r.subject: i for i, r in enumerate(result.rounds) if r.action == "exclude"}
    candidates = [{"label": labels[c], "votes": [votes_text(r.totals[c]) for r in result.rounds],
                   "elected_in": elected_in.get(c), "excluded_in": out_in.get(c),
                   "is_elected": c in result.elected} for c in result.candidates]
    return {"headings": headings, "candidates": candidates,
            "exhausted": [votes_text(r.exhausted) for r in result.rounds],
            "lost": [votes_text(r.lost) for r in result.rounds] if result.quota else None,
            "ties": [r.tie for r in result.rounds]}


def transfer_chart(result, labels, width=600, row_height=22):
    """Geometry for the inline SVG of transfers: one row per round after the first, one bar
    segment per candidate that received votes (non-transferable last), widths to scale."""
    moved = [r for r in result.rounds if r.transfers]
    top = max((sum(r.transfers.values()) for r in moved), default=0) or 1
    chart, y = [], 0
    for this in moved:
        x, segments = 0.0, []
        order = [c for c in result.candidates if this.transfers.get(c)] + ([None] if this.transfers.get(None) else [])
        for target in order:
            share = width * 0.6 * this.transfers[target] / top
            segments.append({"x": round(200 + x, 2), "width": round(max(share, 1), 2),
                             "label": labels.get(target, "Non-transferable"),
                             "votes": votes_text(this.transfers[target]),
                             "colour": colour(result.candidates, target)})
            x += share
        chart.append({"y": y, "label": ACTIONS[this.action].format(labels.get(this.subject, "")),
                      "segments": segments})
        y += row_height
    keys = [{"label": labels[c], "colour": colour(result.candidates, c)} for c in result.candidates]
    return {"rows": chart, "height": max(y, row_height), "width": width + 200,
            "colours": keys + [{"label": "Non-transferable", "colour": colour(result.candidates, None)}]}


def colour(candidates, target):
    """Each candidate keeps one colour in every row of the chart; grey for non-transferable."""
    return "#8a8f99" if target is None else PALETTE[candidates.index(target) % len(PALETTE)]


PALETTE = ("#1f5fbf", "#c4622d", "#2e8540", "#8e44ad", "#b58900", "#16808a", "#a33a3a")


def blt_text(title, question, profile):
    """The BLT file of one ranked question."""
    return blt.write(f"{title} – {question['prompt']}", [(c["id"], c["label"]) for c in question["choices"]],
                     question["seats"], profile)


def load_ranked_questions(db, election_id):
    """The election's ranked questions, each with its choices in ballot order."""
    questions = rows(db, "SELECT * FROM questions WHERE election_id = ? AND kind = 'ranked' "
                         "ORDER BY position, id", [election_id])
    for question in questions:
        question["choices"] = rows(db, "SELECT * FROM choices WHERE question_id = ? ORDER BY position, id",
                                   [question["id"]])
    return questions
