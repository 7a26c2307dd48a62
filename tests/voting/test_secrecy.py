"""Ballot secrecy by construction, as the schema states it (the attacks are in test_secrecy_attacks.py).

Receipts, ballots and selections have random keys, no rowid, no time and no secondary
index (each index would keep an order of its own); nothing leads from a voter to either,
and nothing leads from a receipt to a ballot.
"""
import pytest

from eo_cc.db import one, rows

from ..factories import make_admin, make_election, make_voters

BALLOT_BOX = ("receipts", "ballots", "ballot_selections")


def columns(db, table):
    return {c["name"]: c for c in rows(db, f"PRAGMA table_info({table})")}


def foreign_keys(db, table):
    return rows(db, f"PRAGMA foreign_key_list({table})")


@pytest.mark.parametrize("table", BALLOT_BOX)
def test_ballot_box_tables_have_no_path_to_voters(db, table):
    assert {fk["table"] for fk in foreign_keys(db, table)} <= {"elections", "ballots", "choices"}
    assert not any("voter" in name or "email" in name for name in columns(db, table))


def test_receipts_and_ballots_share_no_column_but_the_election(db):
    assert set(columns(db, "receipts")) & set(columns(db, "ballots")) == {"election_id"}
    assert set(columns(db, "receipts")) & set(columns(db, "ballot_selections")) == {"election_id"}
    assert {fk["table"] for fk in foreign_keys(db, "receipts")} == {"elections"}


def test_voters_reference_nothing_about_ballots(db):
    assert {fk["table"] for fk in foreign_keys(db, "voters")} == {"elections"}
    assert not any("ballot" in name or "receipt" in name for name in columns(db, "voters"))


def test_no_other_table_points_into_the_ballot_box(db):
    for table in db.table_names():
        if table not in BALLOT_BOX:
            assert not {"ballots", "receipts"} & {fk["table"] for fk in foreign_keys(db, table)}, table


@pytest.mark.parametrize("table", BALLOT_BOX)
def test_ballot_box_tables_are_without_rowid_timeless_and_unindexed(db, table):
    sql = one(db, "SELECT sql FROM sqlite_master WHERE name = ?", [table])["sql"]
    assert "WITHOUT ROWID" in sql.upper()
    assert not any(name.endswith("_at") or "time" in name or "date" in name
                   for name in columns(db, table))
    assert rows(db, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
                [table]) == []


def test_a_cast_keeps_no_receipt_anywhere_but_the_receipts_table(app, client, db):
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=1)  # the mail is queued
    election_id = make_election(db, make_admin(db))
    make_voters(db, election_id, count=2)
    slug = one(db, "SELECT slug FROM elections")["slug"]
    client.post(f"/vote/{slug}", data={"voter_id": "V0001", "password": "pw-1"})
    questions = rows(db, "SELECT q.id, MIN(c.id) AS choice FROM questions q JOIN choices c "
                         "ON c.question_id = q.id GROUP BY q.id")
    page = client.post(f"/vote/{slug}/ballot", data={f"q{q['id']}": str(q["choice"]) for q in questions})
    receipt = one(db, "SELECT code FROM receipts")["code"]
    assert "could not send the confirmation email" in page.get_data(as_text=True)
    for table in db.table_names():
        if table != "receipts":
            for column in columns(db, table):
                found = one(db, f'SELECT count(*) AS n FROM "{table}" WHERE "{column}" = ?', [receipt])
                assert found["n"] == 0, (table, column)


def test_a_ballot_carries_its_weight_and_ranks_but_nothing_else_new(db):
    assert set(columns(db, "ballots")) == {"election_id", "ballot_id", "weight"}
    assert set(columns(db, "ballot_selections")) == {"election_id", "ballot_id", "choice_id", "rank"}
