"""Migrations keep every row: each is tried on a database made by the schema before it."""
from eo_cc.db import connect, one, rows
from eo_cc.elections.tally import vote_counts
from eo_cc.migrations import migrations

from .factories import make_admin, make_election, make_voters


def test_receipts_part_from_ballots_and_every_vote_is_kept(tmp_path):
    db = connect(tmp_path / "old.sqlite")
    migrations.apply(db, stop_before="m070_receipts_apart_from_ballots")
    election = make_election(db, make_admin(db))
    make_voters(db, election, count=3)
    choices = [r["id"] for r in rows(db, "SELECT id FROM choices ORDER BY id")]
    old = [("RECEIPTAAAAA", [choices[0], choices[2]]), ("RECEIPTBBBBB", [choices[1]]),
           ("RECEIPTCCCCC", [choices[0], choices[3], choices[4]])]
    for receipt, picked in old:
        db["ballots"].insert({"receipt_code": receipt, "election_id": election})
        db["ballot_selections"].insert_all({"receipt_code": receipt, "choice_id": c} for c in picked)

    migrations.apply(db)

    assert [r["code"] for r in rows(db, "SELECT code FROM receipts ORDER BY code")] == [r for r, _ in old]
    assert one(db, "SELECT count(*) AS n FROM ballots")["n"] == 3
    assert vote_counts(db, election) == {choices[0]: 2, choices[1]: 1, choices[2]: 1,
                                         choices[3]: 1, choices[4]: 1}
    ballot_ids = {r["ballot_id"] for r in rows(db, "SELECT ballot_id FROM ballots")}
    assert not ballot_ids & {r for r, _ in old}      # new keys: a receipt leads to no ballot
    assert one(db, "SELECT unmixed FROM ballot_box")["unmixed"] == 0
    db.close()
