from datetime import datetime, timedelta, timezone

import pytest

from eo_cc import clock
from eo_cc.elections.tally import bar_chart, csv_rows, tally, turnout, turnout_by_hour

from ..factories import make_admin, make_election, make_voters, put_ballot


def choice_ids(db, election_id):
    """{(prompt, label): choice id}."""
    return {(r["prompt"], r["label"]): r["id"] for r in db.query(
        "SELECT q.prompt, c.label, c.id FROM choices c JOIN questions q ON q.id = c.question_id "
        "WHERE q.election_id = ?", [election_id])}


def cast(db, election_id, *choice_ids_):
    """Insert one ballot straight into the ballot box."""
    put_ballot(db, election_id, choice_ids_)


@pytest.fixture
def election(db):
    return make_election(db, make_admin(db))


def test_tally_counts_each_choice_from_ballot_selections(db, election):
    ids = choice_ids(db, election)
    chair, fund = "Who should chair the board?", "Which projects should we fund?"
    cast(db, election, ids[chair, "Alice"], ids[fund, "Library"], ids[fund, "Garden"])
    cast(db, election, ids[chair, "Alice"], ids[fund, "Garden"])
    cast(db, election, ids[chair, "Bob"])
    cast(db, election, ids[chair, "Alice"], ids[fund, "Choir"])
    questions = tally(db, election)
    assert [q["prompt"] for q in questions] == [chair, fund]
    assert [(c["label"], c["votes"], c["percent"]) for c in questions[0]["choices"]] == [
        ("Alice", 3, 75.0), ("Bob", 1, 25.0)]
    assert [(c["label"], c["votes"]) for c in questions[1]["choices"]] == [
        ("Library", 1), ("Garden", 2), ("Choir", 1)]
    assert questions[0]["ballots"] == 4


def test_tally_ignores_other_elections_ballots(db, election):
    other = make_election(db, make_admin(db, email="bo@example.org"))
    other_ids = choice_ids(db, other)
    cast(db, other, other_ids["Who should chair the board?", "Bob"])
    questions = tally(db, election)
    assert all(c["votes"] == 0 and c["percent"] == 0.0 for q in questions for c in q["choices"])
    assert questions[0]["ballots"] == 0


def test_tally_lists_choices_without_votes_and_abstain_last(db):
    election = make_election(db, make_admin(db), questions=[("Approve the budget?", ["Yes", "No", "Abstain"], 1)])
    ids = choice_ids(db, election)
    cast(db, election, ids["Approve the budget?", "Abstain"])
    [question] = tally(db, election)
    assert [(c["label"], c["votes"], c["is_abstain"]) for c in question["choices"]] == [
        ("Yes", 0, 0), ("No", 0, 0), ("Abstain", 1, 1)]


def test_csv_rows_have_question_choice_votes_percent(db, election):
    ids = choice_ids(db, election)
    cast(db, election, ids["Who should chair the board?", "Bob"])
    cast(db, election, ids["Who should chair the board?", "Alice"])
    rows = list(csv_rows(tally(db, election)))
    assert rows[0] == ["question", "choice", "votes", "percent"]
    assert ["Who should chair the board?", "Bob", 1, "50.0"] in rows
    assert len(rows) == 1 + 5


def vote_at(db, voter_id, when):
    db["voters"].update(voter_id, {"has_voted": 1, "voted_at": clock.iso(when)})


def test_turnout_counts_voters_who_voted(db, election):
    voter_ids = make_voters(db, election, count=4)
    vote_at(db, voter_ids[0], clock.now())
    assert turnout(db, election) == (1, 4)


def test_turnout_by_hour_buckets_voted_at_and_fills_gaps(db, election):
    voter_ids = make_voters(db, election, count=5)
    base = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
    for voter_id, minutes in zip(voter_ids, [5, 59, 60 + 30, 3 * 60 + 1]):
        vote_at(db, voter_id, base + timedelta(minutes=minutes))
    assert turnout_by_hour(db, election) == [
        (base, 2), (base + timedelta(hours=1), 1), (base + timedelta(hours=2), 0),
        (base + timedelta(hours=3), 1)]


def test_turnout_by_hour_is_empty_before_anyone_votes(db, election):
    make_voters(db, election, count=2)
    assert turnout_by_hour(db, election) == []


def test_bar_chart_scales_the_tallest_bar_to_the_full_height():
    bars = bar_chart([("a", 2), ("b", 4), ("c", 0)], width=300, height=100, gap=0)
    assert [(b["x"], b["width"], b["height"], b["y"]) for b in bars] == [
        (0, 100, 50, 50), (100, 100, 100, 0), (200, 100, 0, 100)]
