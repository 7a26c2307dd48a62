import threading
from datetime import timedelta

import pytest

from eo_cc import clock
from eo_cc.db import connect, one, rows
from eo_cc.voting import ballots
from eo_cc.voting.ballots import AlreadyVoted, InvalidBallot, VotingClosed, cast_ballot

from ..factories import make_admin, make_election, make_voters

QUESTIONS = [
    ("Who should chair the board?", ["Alice", "Bob", "Abstain"], 1),
    ("Which projects should we fund?", ["Library", "Garden", "Choir", "Abstain"], 2),
]


@pytest.fixture
def election(db):
    return make_election(db, make_admin(db), questions=QUESTIONS)


@pytest.fixture
def voter_id(db, election):
    return make_voters(db, election, count=2)[0]


def choice_ids(db, election):
    """{question position: {label: choice id}} and [question ids]."""
    questions = ballots.load_questions(db, election)
    return ([q["id"] for q in questions],
            [{c["label"]: c["id"] for c in q["choices"]} for q in questions])


def valid_selections(db, election):
    qids, labels = choice_ids(db, election)
    return {qids[0]: [labels[0]["Alice"]], qids[1]: [labels[1]["Library"], labels[1]["Choir"]]}


def test_cast_stores_ballot_selections_voter_flag_and_removal(db, election, voter_id):
    receipt = cast_ballot(db, voter_id, valid_selections(db, election))
    assert len(receipt) == 12
    assert rows(db, "SELECT election_id, code FROM receipts") == [{"election_id": election, "code": receipt}]
    assert one(db, "SELECT count(*) AS n FROM ballots WHERE election_id = ?", [election])["n"] == 1
    assert len(rows(db, "SELECT * FROM ballot_selections WHERE election_id = ?", [election])) == 3
    assert one(db, "SELECT unmixed FROM ballot_box")["unmixed"] == 1
    voter = one(db, "SELECT * FROM voters WHERE id = ?", [voter_id])
    assert voter["has_voted"] == 1 and voter["voted_at"]
    removal = one(db, "SELECT * FROM cc_removals")
    assert (removal["election_id"], removal["email"], removal["state"]) == (
        election, voter["email"], "queued")


def test_second_cast_for_same_voter_is_refused(db, election, voter_id):
    cast_ballot(db, voter_id, valid_selections(db, election))
    with pytest.raises(AlreadyVoted):
        cast_ballot(db, voter_id, valid_selections(db, election))
    assert one(db, "SELECT count(*) AS n FROM ballots")["n"] == 1


@pytest.mark.parametrize("state, opens_in, closes_in", [
    ("draft", 5, 48),        # scheduled, not yet open
    ("open", -48, -1),       # window already closed
    ("closed", -5, 48),      # closed by the admin
])
def test_cast_outside_voting_window_is_refused(db, state, opens_in, closes_in):
    election = make_election(db, make_admin(db), state=state, questions=QUESTIONS,
                             opens_in_hours=opens_in, closes_in_hours=closes_in)
    voter_id = make_voters(db, election, count=1)[0]
    with pytest.raises(VotingClosed):
        cast_ballot(db, voter_id, valid_selections(db, election))
    assert one(db, "SELECT has_voted FROM voters WHERE id = ?", [voter_id])["has_voted"] == 0


def test_cast_uses_the_given_time_for_the_window(db, election, voter_id):
    later = clock.now() + timedelta(days=30)
    with pytest.raises(VotingClosed):
        cast_ballot(db, voter_id, valid_selections(db, election), now=later)


@pytest.mark.parametrize("case, message", [
    ("missing", "Please answer this question."),
    ("over", "Please pick at most 1."),
    ("abstain_with_other", "Abstain must be the only choice"),
    ("other_questions_choice", "does not belong to this question"),
    ("duplicate", "does not belong to this question"),
])
def test_invalid_selections_are_refused_per_question(db, election, voter_id, case, message):
    qids, labels = choice_ids(db, election)
    first = {
        "missing": [],
        "over": [labels[0]["Alice"], labels[0]["Bob"]],
        "abstain_with_other": [labels[0]["Alice"], labels[0]["Abstain"]],
        "other_questions_choice": [labels[1]["Garden"]],
        "duplicate": [labels[0]["Alice"], labels[0]["Alice"]],
    }[case]
    selections = {qids[0]: first, qids[1]: [labels[1]["Library"]]}
    with pytest.raises(InvalidBallot) as error:
        cast_ballot(db, voter_id, selections)
    assert message in error.value.errors[qids[0]]
    assert qids[1] not in error.value.errors
    assert one(db, "SELECT count(*) AS n FROM ballots")["n"] == 0
    assert one(db, "SELECT has_voted FROM voters WHERE id = ?", [voter_id])["has_voted"] == 0


def test_abstain_alone_and_up_to_max_choices_are_valid(db, election, voter_id):
    qids, labels = choice_ids(db, election)
    cast_ballot(db, voter_id, {qids[0]: [labels[0]["Abstain"]],
                               qids[1]: [labels[1]["Garden"], labels[1]["Choir"]]})
    assert one(db, "SELECT count(*) AS n FROM ballot_selections")["n"] == 3


def test_question_not_on_ballot_is_refused(db, election, voter_id):
    selections = valid_selections(db, election)
    selections[999] = [1]
    with pytest.raises(InvalidBallot) as error:
        cast_ballot(db, voter_id, selections)
    assert 999 in error.value.errors


def test_failure_after_ballot_insert_leaves_nothing_behind(db, election, voter_id, monkeypatch):
    def broken_queue(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ballots.removals, "queue", broken_queue)
    with pytest.raises(RuntimeError):
        cast_ballot(db, voter_id, valid_selections(db, election))
    for table in ("receipts", "ballots", "ballot_selections", "cc_removals"):
        assert one(db, f"SELECT count(*) AS n FROM {table}")["n"] == 0
    assert one(db, "SELECT has_voted FROM voters WHERE id = ?", [voter_id])["has_voted"] == 0


def test_twenty_concurrent_casts_for_one_voter_store_one_ballot(app, db, election, voter_id):
    selections = valid_selections(db, election)
    outcomes, lock, start = [], threading.Lock(), threading.Barrier(20)

    def cast():
        own = connect(app.config["DATABASE"])
        try:
            start.wait()
            outcome = cast_ballot(own, voter_id, selections)
        except AlreadyVoted:
            outcome = "already voted"
        except Exception as error:  # recorded so the assertion shows any other failure
            outcome = repr(error)
        finally:
            own.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=cast) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("already voted") == 19, outcomes
    receipts = [o for o in outcomes if o != "already voted"]
    assert [r["code"] for r in rows(db, "SELECT code FROM receipts")] == receipts
    assert one(db, "SELECT count(*) AS n FROM ballots")["n"] == 1
    assert one(db, "SELECT count(*) AS n FROM cc_removals")["n"] == 1


def test_revote_after_list_change_requeues_existing_removal(db, election, voter_id):
    email = one(db, "SELECT email FROM voters WHERE id = ?", [voter_id])["email"]
    db["cc_removals"].insert({"election_id": election, "email": email, "state": "done",
                              "queued_at": clock.iso(), "updated_at": clock.iso()})
    cast_ballot(db, voter_id, valid_selections(db, election))
    assert rows(db, "SELECT state FROM cc_removals") == [{"state": "queued"}]


@pytest.mark.parametrize("typed", ["abcd-efgh-jkmn", " ABCD EFGH JKMN ", "ABCDEFGHJKMN"])
def test_receipt_check_ignores_case_dashes_and_spaces(db, election, typed):
    db.execute("INSERT INTO receipts (election_id, code) VALUES (?, 'ABCDEFGHJKMN')", [election])
    assert ballots.receipt_in_ballot_box(db, election, typed)
    assert not ballots.receipt_in_ballot_box(db, election + 1, typed)
    assert not ballots.receipt_in_ballot_box(db, election, "ABCD-EFGH-JKMP")


def test_receipt_is_shown_in_groups_of_four():
    assert ballots.format_receipt("ABCDEFGHJKMN") == "ABCD-EFGH-JKMN"
