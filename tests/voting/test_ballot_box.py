"""Mixing the ballot box: key order on disk, nothing lost, the WAL emptied, run when due."""
import os
import threading

import pytest

from eo_cc.db import connect, one, rows
from eo_cc.elections.tally import vote_counts
from eo_cc.voting import ballot_box
from eo_cc.voting.ballots import cast_ballot, load_questions

from ..factories import make_admin, make_election, make_voters


@pytest.fixture
def election(db):
    return make_election(db, make_admin(db))


def vote(db, election, voter_id, pick=0):
    questions = load_questions(db, election)
    return cast_ballot(db, voter_id, {q["id"]: [q["choices"][pick]["id"]] for q in questions})


def box(db):
    return {table: rows(db, f"SELECT * FROM {table}") for table, _ in ballot_box.TABLES}


def wal_size(app):
    path = app.config["DATABASE"] + "-wal"
    return os.path.getsize(path) if os.path.exists(path) else 0


def test_a_box_with_nothing_new_is_left_alone(db, election):
    assert ballot_box.mix(db) == 0
    assert one(db, "SELECT mixed_at FROM ballot_box")["mixed_at"] is None


def test_mixing_keeps_every_receipt_ballot_and_selection_and_empties_the_wal(app, db, election):
    for n, voter_id in enumerate(make_voters(db, election, count=5)):
        vote(db, election, voter_id, pick=n % 2)
    before, counts = box(db), vote_counts(db, election)
    reader = connect(app.config["DATABASE"])     # another worker's idle connection does not block it
    assert wal_size(app) > 0
    assert ballot_box.mix(db) == 5
    assert {t: sorted(map(tuple, map(dict.values, r))) for t, r in box(db).items()} == \
        {t: sorted(map(tuple, map(dict.values, r))) for t, r in before.items()}
    assert vote_counts(reader, election) == counts
    assert one(db, "SELECT unmixed FROM ballot_box")["unmixed"] == 0
    assert wal_size(app) == 0
    assert rows(db, "PRAGMA foreign_key_check") == []
    reader.close()


def test_a_reader_in_a_transaction_holds_the_checkpoint_off_and_it_is_tried_again(app, db, election,
                                                                                   monkeypatch, caplog):
    monkeypatch.setattr(ballot_box, "CHECKPOINT_ATTEMPTS", 2)
    monkeypatch.setattr(ballot_box, "CHECKPOINT_WAIT_SECONDS", 0)
    vote(db, election, make_voters(db, election, count=1)[0])
    reader = connect(app.config["DATABASE"])
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM voters").fetchone()   # a read transaction is open
    assert ballot_box.empty_the_wal(db) is False
    assert "could not be emptied" in caplog.text and wal_size(app) > 0
    reader.execute("COMMIT")
    assert ballot_box.empty_the_wal(db) is True and wal_size(app) == 0
    reader.close()


def test_casts_while_the_box_is_mixed_lose_nothing(app, db, election):
    voter_ids = make_voters(db, election, count=12)
    start = threading.Barrier(13)

    def cast(voter_id):
        conn = connect(app.config["DATABASE"])
        start.wait()
        vote(conn, election, voter_id)
        conn.close()

    def mix_again_and_again():
        conn = connect(app.config["DATABASE"])
        start.wait()
        for _ in range(6):
            ballot_box.mix(conn)
        conn.close()

    threads = [threading.Thread(target=cast, args=(v,)) for v in voter_ids]
    threads.append(threading.Thread(target=mix_again_and_again))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts = {t: len(r) for t, r in box(db).items()}
    assert counts == {"receipts": 12, "ballots": 12, "ballot_selections": 24}
    ballot_box.mix(db)
    assert one(db, "SELECT unmixed FROM ballot_box")["unmixed"] == 0


def test_the_cast_that_makes_the_batch_mixes_the_box_once_its_page_is_sent(app, client, db, election):
    app.config["MIX_BALLOTS_EVERY"] = 2
    make_voters(db, election, count=2)
    slug = one(db, "SELECT slug FROM elections")["slug"]
    questions = load_questions(db, election)
    form = {f"q{q['id']}": str(q["choices"][0]["id"]) for q in questions}
    for n in (1, 2):
        voter = app.test_client()
        voter.post(f"/vote/{slug}", data={"voter_id": f"V{n:04d}", "password": f"pw-{n}"})
        response = voter.post(f"/vote/{slug}/ballot", data=form)
        assert one(db, "SELECT unmixed FROM ballot_box")["unmixed"] == n   # not during the request
        response.close()
    assert one(db, "SELECT unmixed FROM ballot_box")["unmixed"] == 0


def test_closing_voting_mixes_the_box(app, client, auth, db):
    admin_id = auth.create()
    auth.login()
    election = make_election(db, admin_id)
    vote(db, election, make_voters(db, election, count=1)[0])
    client.post(f"/elections/{election}/close")
    assert one(db, "SELECT unmixed FROM ballot_box")["unmixed"] == 0 and wal_size(app) == 0


def test_the_mix_ballots_command_mixes_and_says_how_many(runner, db, election):
    vote(db, election, make_voters(db, election, count=1)[0])
    assert "Mixed 1 ballots." in runner.invoke(args=["mix-ballots"]).output
    assert "Nothing new to mix." in runner.invoke(args=["mix-ballots"]).output


def test_mixing_keeps_each_ballots_weight_and_ranks(db):
    from ..factories import make_ranked_question
    election = make_election(db, make_admin(db), questions=[])
    ids = make_ranked_question(db, election, "Board", ["Ann", "Ben", "Cat"], seats=2)
    qid = db.execute("SELECT question_id FROM choices WHERE id = ?", [ids["Ann"]]).fetchone()[0]
    voters = make_voters(db, election, count=6, weights=[1, 2, 2.5, 1, 1, 4])
    for n, voter_id in enumerate(voters):
        order = ["Ann", "Ben", "Cat"][n % 3:] + ["Ann", "Ben", "Cat"][:n % 3]
        cast_ballot(db, voter_id, {qid: {ids[label]: rank for rank, label in enumerate(order, start=1)}})
    before = box(db)
    assert ballot_box.mix(db) == 6
    after = box(db)
    assert sorted(map(lambda r: tuple(r.values()), after["ballots"])) == \
        sorted(map(lambda r: tuple(r.values()), before["ballots"]))
    assert sorted(r["weight"] for r in after["ballots"]) == [1, 1, 1, 2, 2.5, 4]
    assert sorted(map(lambda r: tuple(r.values()), after["ballot_selections"])) == \
        sorted(map(lambda r: tuple(r.values()), before["ballot_selections"]))
