"""Ranked and weighted questions through the real cast path: the count, the results page, the BLT
file and `flask --app eo_cc tally`."""
import pytest

from eo_cc.counting import blt
from eo_cc.elections import ranked
from eo_cc.elections.tally import tally
from eo_cc.voting.ballots import InvalidBallot, cast_ballot

from ..factories import make_election, make_ranked_question, make_voters

ORDER = ["Ann", "Ben", "Cat", "Dev"]


@pytest.fixture
def election(db, auth):
    admin = auth.create()
    election_id = make_election(db, admin, questions=[("Approve the budget?", ["Yes", "No"], 1)])
    return election_id


def ranks(ids, *labels):
    return {ids[label]: rank for rank, label in enumerate(labels, start=1)}


def budget(db, election_id):
    return {r["label"]: r["id"] for r in db.query(
        "SELECT c.id, c.label FROM choices c JOIN questions q ON q.id = c.question_id "
        "WHERE q.election_id = ? AND q.kind = 'plurality'", [election_id])}


def test_a_cast_keeps_ranks_and_the_voters_weight_and_the_count_uses_both(db, election):
    ids = make_ranked_question(db, election, "Chair", ORDER)
    yes_no = budget(db, election)
    voters = make_voters(db, election, 3, weights=[1, 1, 3])
    question = [q for q in tally(db, election) if q["kind"] == "ranked"][0]
    qid = question["id"]
    cast_ballot(db, voters[0], {qid: ranks(ids, "Ben", "Ann"), question["id"] - 1: [yes_no["No"]]})
    cast_ballot(db, voters[1], {qid: ranks(ids, "Ben"), question["id"] - 1: [yes_no["No"]]})
    cast_ballot(db, voters[2], {qid: ranks(ids, "Ann", "Cat"), question["id"] - 1: [yes_no["Yes"]]})
    found = ranked.profiles(db, election)[qid]
    assert sorted(found) == sorted([((ids["Ben"], ids["Ann"]), 100_000), ((ids["Ben"],), 100_000),
                                    ((ids["Ann"], ids["Cat"]), 300_000)])
    assert ranked.count(question, found).elected == [ids["Ann"]]  # 3 weighted votes beat 2
    plurality = [q for q in tally(db, election) if q["kind"] == "plurality"][0]
    assert [(c["label"], c["votes"], c["percent"]) for c in plurality["choices"]] == [
        ("Yes", 3, 60.0), ("No", 2, 40.0)]


@pytest.mark.parametrize("marks, message", [
    ({"Ann": 1, "Ben": 1}, "Duplicate rank: 1"),
    ({"Ann": 1, "Ben": 3}, "Skipped rank: there is no 2"),
    ({"Ben": 2}, "Skipped rank: there is no 1"),
    ({}, "Please rank at least one candidate"),
    ({"Ann": 9}, "Ranks go from 1 to 4"),
])
def test_duplicate_or_skipped_ranks_are_refused_and_nothing_is_stored(db, election, marks, message):
    ids = make_ranked_question(db, election, "Chair", ORDER)
    qid = db.execute("SELECT question_id FROM choices WHERE id = ?", [ids["Ann"]]).fetchone()[0]
    [voter] = make_voters(db, election, 1)
    with pytest.raises(InvalidBallot) as refused:
        cast_ballot(db, voter, {qid: {ids[k]: v for k, v in marks.items()}, qid - 1: [budget(db, election)["Yes"]]})
    assert message in refused.value.errors[qid]
    assert db.execute("SELECT COUNT(*) FROM ballots").fetchone()[0] == 0


def test_the_ballot_page_offers_a_rank_select_per_candidate_and_explains_a_skipped_rank(app, client, db, election):
    ids = make_ranked_question(db, election, "Chair", ORDER)
    qid = db.execute("SELECT question_id FROM choices WHERE id = ?", [ids["Ann"]]).fetchone()[0]
    make_voters(db, election, 1)
    slug = db.execute("SELECT slug FROM elections WHERE id = ?", [election]).fetchone()[0]
    client.post(f"/vote/{slug}", data={"voter_id": "V0001", "password": "pw-1"})
    page = client.get(f"/vote/{slug}/ballot").get_data(as_text=True)
    assert all(f'name="q{qid}-c{ids[label]}"' in page for label in ORDER)
    answer = client.post(f"/vote/{slug}/ballot", data={f"q{qid}-c{ids['Ann']}": "1", f"q{qid}-c{ids['Ben']}": "3",
                                                      f"q{qid - 1}": str(budget(db, election)["Yes"])})
    assert "Skipped rank: there is no 2" in answer.get_data(as_text=True)
    answer = client.post(f"/vote/{slug}/ballot", data={f"q{qid}-c{ids['Ann']}": "1", f"q{qid}-c{ids['Ben']}": "2",
                                                      f"q{qid - 1}": str(budget(db, election)["Yes"])})
    assert "Your receipt code" in answer.get_data(as_text=True)
    assert db.execute("SELECT choice_id, rank FROM ballot_selections WHERE rank IS NOT NULL ORDER BY rank"
                      ).fetchall() == [(ids["Ann"], 1), (ids["Ben"], 2)]


def close(db, election_id):
    db.execute("UPDATE elections SET state = 'closed', closes_at = '2026-01-01T00:00:00+00:00' WHERE id = ?",
               [election_id])


def test_results_show_rounds_transfers_weights_and_the_blt_file_recounts(app, client, auth, db, election):
    ids = make_ranked_question(db, election, "Board", ORDER, seats=2)
    qid = db.execute("SELECT question_id FROM choices WHERE id = ?", [ids["Ann"]]).fetchone()[0]
    voters = make_voters(db, election, 6, weights=[3, 1, 1, 1, 1, 1])
    papers = [("Ann", "Cat"), ("Ann", "Cat"), ("Ben",), ("Ben",), ("Cat",), ("Dev", "Ben")]
    for voter, paper in zip(voters, papers):
        cast_ballot(db, voter, {qid: ranks(ids, *paper), qid - 1: [budget(db, election)["Yes"]]})
    close(db, election)
    auth.login()
    page = client.get(f"/elections/{election}/results").get_data(as_text=True)
    # 8 weighted votes, 2 seats: quota 8 // 3 + 1 = 3. Ann 4 is elected; her surplus of 1 moves at
    # 1/4 of each ballot's value (0.75 + 0.25) to Cat: 2. Ben 2, Dev 1 is excluded, to Ben: 3.
    assert "Elected:</strong> Ann, Ben" in page
    assert "Surplus of Ann" in page and "Dev excluded" in page
    assert "Weighted votes: each ballot counts its voter" in page
    assert "share the weight 3 (1 voter)." in page
    assert "<svg" in page and "Transfers" in page
    download = client.get(f"/elections/{election}/results/{qid}.blt")
    assert download.headers["Cache-Control"] == "no-store"
    title, names, seats, ballots = blt.read(download.get_data(as_text=True))
    assert (names, seats) == (ORDER, 2)
    assert sorted(ballots) == [((1, 3), "4"), ((2,), "2"), ((3,), "1"), ((4, 2), "1")]


def test_the_blt_file_is_refused_while_results_are_hidden_and_for_other_questions(client, auth, db, election):
    ids = make_ranked_question(db, election, "Board", ORDER, seats=2)
    qid = db.execute("SELECT question_id FROM choices WHERE id = ?", [ids["Ann"]]).fetchone()[0]
    auth.login()
    assert client.get(f"/elections/{election}/results/{qid}.blt").status_code == 302
    close(db, election)
    assert client.get(f"/elections/{election}/results/{qid - 1}.blt").status_code == 404


def test_the_tally_command_refuses_an_open_election_unless_asked_and_counts_a_closed_one(runner, db, election):
    ids = make_ranked_question(db, election, "Chair", ORDER)
    qid = db.execute("SELECT question_id FROM choices WHERE id = ?", [ids["Ann"]]).fetchone()[0]
    voters = make_voters(db, election, 3)
    for voter, paper in zip(voters, [("Cat", "Ann"), ("Ann",), ("Ben",)]):
        cast_ballot(db, voter, {qid: ranks(ids, *paper), qid - 1: [budget(db, election)["No"]]})
    refused = runner.invoke(args=["tally", str(election)])
    assert refused.exit_code != 0 and "--while-open" in refused.output
    assert "Elected: " in runner.invoke(args=["tally", str(election), "--while-open"]).output
    close(db, election)
    output = runner.invoke(args=["tally", str(election)]).output
    assert "instant-runoff" in output and "No: 3" in output
    # Round 1: Ann 1, Ben 1, Cat 1, Dev 0: Dev out; then all 1: ballot order excludes Cat, whose vote
    # goes to Ann (2 of 3).
    assert "Elected: Ann" in output


def test_while_open_ranked_results_and_their_blt_file_come_from_the_snapshot_k_ballots_back(
        client, auth, db):
    admin = auth.create()
    election = make_election(db, admin, questions=[], has_live_results=1, results_step=5)
    ids = make_ranked_question(db, election, "Chair", ORDER)
    qid = db.execute("SELECT question_id FROM choices WHERE id = ?", [ids["Ann"]]).fetchone()[0]
    voters = make_voters(db, election, 10)
    for n, voter in enumerate(voters):
        cast_ballot(db, voter, {qid: ranks(ids, "Ann" if n < 3 else "Ben")})
    auth.login()
    page = client.get(f"/elections/{election}/results").get_data(as_text=True)
    assert "Elected:</strong> Ann" in page  # the snapshot of the first 5 (3 to 2); the box now has Ben 7
    title, names, seats, ballots = blt.read(
        client.get(f"/elections/{election}/results/{qid}.blt").get_data(as_text=True))
    assert ballots == [((1,), "3"), ((2,), "2")]


def test_a_weighted_election_shows_no_live_results_while_open(client, auth, db):
    """1 + 1 + 1 + 1 + 10: a weighted total that moved by 10 or 11 names the weight-10 voter's choice."""
    election = make_election(db, auth.create(), questions=[("Approve?", ["Yes", "No"], 1)],
                             has_live_results=1, results_step=5)
    yes_no = budget(db, election)
    qid = db.execute("SELECT question_id FROM choices WHERE id = ?", [yes_no["Yes"]]).fetchone()[0]
    for n, voter in enumerate(make_voters(db, election, 10, weights=[1] * 9 + [10])):
        cast_ballot(db, voter, {qid: [yes_no["Yes" if n % 2 else "No"]]})
    auth.login()
    page = client.get(f"/elections/{election}/results").get_data(as_text=True)
    assert "This election is weighted, so there are no live results" in page
    assert "Weighted votes</th>" not in page
    assert client.get(f"/elections/{election}/results.csv").status_code == 302
    assert db.execute("SELECT COUNT(*) FROM result_snapshots").fetchone()[0] == 0  # none on disk either
    close(db, election)
    assert "Weighted votes</th>" in client.get(f"/elections/{election}/results").get_data(as_text=True)
