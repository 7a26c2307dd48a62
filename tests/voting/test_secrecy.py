"""Ballot secrecy by construction: nothing in the database leads from a voter to a ballot."""
import pytest

from eo_cc.db import one, rows
from eo_cc.voting import ballots

from ..factories import make_admin, make_election, make_voters

SECRET_TABLES = ("ballots", "ballot_selections")


def columns(db, table):
    return {c["name"]: c for c in rows(db, f"PRAGMA table_info({table})")}


def foreign_keys(db, table):
    return rows(db, f"PRAGMA foreign_key_list({table})")


@pytest.mark.parametrize("table", SECRET_TABLES)
def test_ballot_tables_have_no_path_to_voters(db, table):
    assert {fk["table"] for fk in foreign_keys(db, table)} <= {"elections", "ballots", "choices"}
    assert not any("voter" in name or "email" in name for name in columns(db, table))


def test_voters_reference_nothing_about_ballots(db):
    assert {fk["table"] for fk in foreign_keys(db, "voters")} == {"elections"}
    assert not any("ballot" in name or "receipt" in name for name in columns(db, "voters"))


def test_no_other_table_points_at_ballots(db):
    for table in db.table_names():
        if table not in SECRET_TABLES:
            assert "ballots" not in {fk["table"] for fk in foreign_keys(db, table)}, table


@pytest.mark.parametrize("table", SECRET_TABLES)
def test_ballot_tables_are_without_rowid_and_timeless(db, table):
    sql = one(db, "SELECT sql FROM sqlite_master WHERE name = ?", [table])["sql"]
    assert "WITHOUT ROWID" in sql.upper()
    assert not any(name.endswith("_at") or "time" in name or "date" in name
                   for name in columns(db, table))


def text_cells(db):
    """Every text value of every table except the ballot box, as (table, column, value)."""
    for table in db.table_names():
        if table in SECRET_TABLES:
            continue
        for name, column in columns(db, table).items():
            for row in rows(db, f'SELECT "{name}" AS v FROM "{table}" WHERE typeof("{name}") = \'text\''):
                yield table, name, row["v"]


def test_no_table_holds_a_receipt_after_a_vote_with_failed_confirmation(app, client, db):
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=1)
    election_id = make_election(db, make_admin(db))
    make_voters(db, election_id, count=2)
    slug = one(db, "SELECT slug FROM elections")["slug"]
    client.post(f"/vote/{slug}", data={"voter_id": "V0001", "password": "pw-1"})
    questions = ballots.load_questions(db, election_id)
    client.post(f"/vote/{slug}/ballot", data={
        f"q{q['id']}": str(q["choices"][0]["id"]) for q in questions})
    page = client.get(f"/vote/{slug}/voted").get_data(as_text=True)

    receipt = one(db, "SELECT receipt_code FROM ballots")["receipt_code"]
    assert ballots.format_receipt(receipt) in page
    assert "could not send the confirmation email" in page
    assert one(db, "SELECT has_voted FROM voters WHERE voter_code = 'V0001'")["has_voted"] == 1
    assert one(db, "SELECT count(*) AS n FROM mail_queue")["n"] == 1
    forms = {receipt, ballots.format_receipt(receipt), receipt.lower()}
    leaks = [(table, name) for table, name, value in text_cells(db)
             if any(form in value for form in forms)]
    assert leaks == []
    with client.session_transaction() as session:
        assert not any(form in str(dict(session)) for form in forms)


def test_voted_at_cannot_be_matched_to_a_ballot(db):
    """Ballots carry no time and no order, so voters.voted_at lines up with nothing."""
    election_id = make_election(db, make_admin(db))
    voter_ids = make_voters(db, election_id, count=5)
    questions = ballots.load_questions(db, election_id)
    receipts = [ballots.cast_ballot(db, voter_id, {q["id"]: [q["choices"][0]["id"]] for q in questions})
                for voter_id in voter_ids]
    stored = [r["receipt_code"] for r in rows(db, "SELECT receipt_code FROM ballots")]
    assert stored == sorted(receipts)  # stored in key order, i.e. random, never cast order
