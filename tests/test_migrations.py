"""Migrations keep every row: each is tried on a database made by the schema before it.

For m110_organisations the database is built by the migrations released before it, filled
the way that schema was used (admins, their elections, voters, ballots, a connection,
removals, the audit log), then upgraded; each table is compared row by row.
"""
import pytest

from eo_cc.db import connect, one, rows
from eo_cc.elections.tally import vote_counts
from eo_cc.migrations import HISTORY, migrations

TODAY = "2026-03-01T09:00:00+00:00"
# Tables m110 does not touch: they must come out exactly as they went in.
UNTOUCHED = ("admins", "questions", "choices", "reminders", "voters", "receipts", "ballots",
             "ballot_selections", "ballot_box", "result_snapshots", "signups",
             "mail_queue", "cc_removals", "cc_activities", "cc_contacts", "cc_request_counts",
             "sync_runs", "sync_run_elections", "cc_list_sizes", "throttles")


@pytest.fixture
def old_db(tmp_path):
    db = connect(tmp_path / "old.sqlite")
    migrations.apply(db, stop_before="m110_organisations")
    yield db
    db.close()


def fill_the_old_schema(db):
    """Two admins as the old schema had them: Ada with two elections and a connection, Bo with one."""
    admins = [(7, "Ada", "ada@example.org"), (9, "", "bo@example.org")]
    for admin_id, name, email in admins:
        db.execute("INSERT INTO admins (id, name, email, password_hash, session_token, created_at) "
                   "VALUES (?, ?, ?, 'hash', ?, ?)", [admin_id, name, email, f"session-{admin_id}", TODAY])
    elections = [(1, 7, "Board", "open"), (2, 7, "Budget", "closed"), (3, 9, "Picnic", "draft")]
    for election_id, admin_id, title, state in elections:
        db.execute("INSERT INTO elections (id, admin_id, slug, title, state, cc_list_id, cc_list_name, "
                   "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'Voters', ?, ?)",
                   [election_id, admin_id, f"slug{election_id}", title, state,
                    "list-1" if admin_id == 7 else None, TODAY, TODAY])
        question_id = db.execute("INSERT INTO questions (election_id, position, prompt) VALUES (?, 0, ?)",
                                 [election_id, f"{title}?"]).lastrowid
        choice_id = db.execute("INSERT INTO choices (question_id, position, label) VALUES (?, 0, 'Yes')",
                               [question_id]).lastrowid
        for n in (1, 2):
            db.execute("INSERT INTO voters (election_id, voter_code, email, password_encrypted, has_voted, "
                       "created_at) VALUES (?, ?, ?, 'sealed', ?, ?)",
                       [election_id, f"V{n}", f"v{n}-{election_id}@example.org", int(n == 1), TODAY])
        db.execute("INSERT INTO receipts (election_id, code) VALUES (?, ?)", [election_id, f"RECEIPT{election_id}"])
        db.execute("INSERT INTO ballots (election_id, ballot_id) VALUES (?, ?)", [election_id, f"b{election_id}"])
        db.execute("INSERT INTO ballot_selections (election_id, ballot_id, choice_id) VALUES (?, ?, ?)",
                   [election_id, f"b{election_id}", choice_id])
        db.execute("INSERT INTO cc_removals (election_id, email, state, queued_at, updated_at) "
                   "VALUES (?, ?, 'queued', ?, ?)", [election_id, f"v1-{election_id}@example.org", TODAY, TODAY])
        db.execute("INSERT INTO reminders (election_id, send_at) VALUES (?, ?)", [election_id, TODAY])
        db.execute("INSERT INTO audit_log (election_id, admin_id, action, created_at) "
                   "VALUES (?, ?, 'created the election', ?)", [election_id, admin_id, TODAY])
    db.execute("INSERT INTO audit_log (election_id, admin_id, action, created_at) "
               "VALUES (NULL, NULL, 'sent reminders', ?)", [TODAY])
    db.execute("INSERT INTO cc_connections (admin_id, access_token_encrypted, refresh_token_encrypted, "
               "expires_at, scope, account_name, needs_grant, connected_at, updated_at) "
               "VALUES (7, 'sealed-access', 'sealed-refresh', 1893456000, 'contact_data', 'Ada Club', 1, ?, ?)",
               [TODAY, TODAY])
    db.execute("INSERT INTO cc_activities (activity_id, election_id, list_id, contact_count, state, "
               "submitted_at) VALUES ('act-1', 1, 'list-1', 1, 'completed', ?)", [TODAY])
    run_id = db.execute("INSERT INTO sync_runs (started_at) VALUES (?)", [TODAY]).lastrowid
    db.execute("INSERT INTO sync_run_elections (run_id, election_id, removed) VALUES (?, 1, 1)", [run_id])
    db.execute("INSERT INTO mail_queue (to_address, subject, body, next_attempt_at, created_at) "
               "VALUES ('v2-1@example.org', 'Reminder', 'sealed', ?, ?)", [TODAY, TODAY])


def table(db, name):
    return rows(db, f"SELECT * FROM [{name}] ORDER BY 1, 2")


# The steps released after m110, so m110's own tests see its result alone.
AFTER_M110 = [step.__name__ for step in HISTORY[[s.__name__ for s in HISTORY].index("m110_organisations") + 1:]]


def upgrade(db):
    before = {name: table(db, name) for name in db.table_names()}
    migrations.apply(db, stop_before=AFTER_M110[:1] or None)
    return before


def test_every_admin_becomes_the_owner_of_an_organisation_named_after_them(old_db):
    fill_the_old_schema(old_db)
    upgrade(old_db)
    owners = rows(old_db, """SELECT a.email, o.name, m.role, m.organisation_id FROM memberships m
                             JOIN admins a ON a.id = m.admin_id JOIN organisations o ON o.id = m.organisation_id
                             ORDER BY a.email""")
    assert [(o["email"], o["name"], o["role"]) for o in owners] == [
        ("ada@example.org", "Ada's organisation", "owner"),
        ("bo@example.org", "bo@example.org's organisation", "owner")]
    assert len({o["organisation_id"] for o in owners}) == 2


def test_each_organisation_holds_exactly_its_admins_elections_and_connection(old_db):
    fill_the_old_schema(old_db)
    before = upgrade(old_db)
    organisation_of = {m["admin_id"]: m["organisation_id"] for m in table(old_db, "memberships")}
    expected = [{**{k: v for k, v in e.items() if k != "admin_id"}, "organisation_id": organisation_of[e["admin_id"]]}
                for e in before["elections"]]
    assert table(old_db, "elections") == expected
    [connection] = before["cc_connections"]
    assert table(old_db, "cc_connections") == [
        {**{k: v for k, v in connection.items() if k != "admin_id"}, "organisation_id": organisation_of[7]}]


def test_every_other_row_comes_through_unchanged(old_db):
    fill_the_old_schema(old_db)
    before = upgrade(old_db)
    for name in UNTOUCHED:
        assert table(old_db, name) == before[name], name
    assert sum(len(before[name]) for name in UNTOUCHED) >= 30  # the check saw real rows


def test_audit_rows_keep_their_content_and_name_their_organisation(old_db):
    fill_the_old_schema(old_db)
    before = upgrade(old_db)
    after = table(old_db, "audit_log")
    assert [{k: v for k, v in row.items() if k != "organisation_id"} for row in after] == before["audit_log"]
    elections = {e["id"]: e["organisation_id"] for e in table(old_db, "elections")}
    for row in after:
        assert row["organisation_id"] == (elections[row["election_id"]] if row["election_id"] else None)


def test_the_upgraded_schema_keeps_its_keys_indexes_and_cascades(old_db):
    fill_the_old_schema(old_db)
    upgrade(old_db)
    assert old_db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert old_db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert "admin_id" not in old_db["elections"].columns_dict
    assert [(fk.column, fk.other_table) for fk in old_db["elections"].foreign_keys] == [
        ("organisation_id", "organisations")]
    assert [(fk.column, fk.other_table) for fk in old_db["cc_connections"].foreign_keys] == [
        ("organisation_id", "organisations")]
    assert {"elections_organisation"} <= {index.name for index in old_db["elections"].indexes}
    old_db.execute("DELETE FROM elections WHERE id = 3")  # children still follow their election
    assert old_db.execute("SELECT count(*) FROM voters WHERE election_id = 3").fetchone()[0] == 0
    with pytest.raises(Exception, match="UNIQUE"):
        old_db.execute("INSERT INTO elections (organisation_id, slug, title, created_at, updated_at) "
                       "VALUES (7, 'slug1', 'Copy', ?, ?)", [TODAY, TODAY])


def test_the_migration_keeps_columns_that_an_earlier_migration_added_to_elections(old_db):
    old_db.execute("ALTER TABLE elections ADD COLUMN is_weighted INTEGER NOT NULL DEFAULT 0")
    fill_the_old_schema(old_db)
    old_db.execute("UPDATE elections SET is_weighted = 1 WHERE id = 2")
    upgrade(old_db)
    assert [e["is_weighted"] for e in table(old_db, "elections")] == [0, 1, 0]


def test_running_the_migrations_again_changes_nothing(old_db):
    fill_the_old_schema(old_db)
    migrations.apply(old_db)
    after = {name: table(old_db, name) for name in old_db.table_names()}
    migrations.apply(old_db)
    assert {name: table(old_db, name) for name in old_db.table_names()} == after


# --- m070: receipts apart from ballots ------------------------------------------------------

def test_receipts_part_from_ballots_and_every_vote_is_kept(tmp_path):
    db = connect(tmp_path / "older.sqlite")
    migrations.apply(db, stop_before="m070_receipts_apart_from_ballots")
    db.execute("INSERT INTO admins (id, name, email, password_hash, session_token, created_at) "
               "VALUES (1, 'Ada', 'ada@example.org', 'hash', 's', ?)", [TODAY])
    db.execute("INSERT INTO elections (id, admin_id, slug, title, created_at, updated_at) "
               "VALUES (1, 1, 'slug', 'Board', ?, ?)", [TODAY, TODAY])
    db.execute("INSERT INTO questions (id, election_id, position, prompt) VALUES (1, 1, 0, 'Chair?')")
    choices = [db.execute("INSERT INTO choices (question_id, position, label) VALUES (1, ?, ?)",
                          [n, f"C{n}"]).lastrowid for n in range(5)]
    old = [("RECEIPTAAAAA", [choices[0], choices[2]]), ("RECEIPTBBBBB", [choices[1]]),
           ("RECEIPTCCCCC", [choices[0], choices[3], choices[4]])]
    for receipt, picked in old:
        db.execute("INSERT INTO ballots (receipt_code, election_id) VALUES (?, 1)", [receipt])
        for choice in picked:
            db.execute("INSERT INTO ballot_selections (receipt_code, choice_id) VALUES (?, ?)", [receipt, choice])

    migrations.apply(db)

    assert [r["code"] for r in rows(db, "SELECT code FROM receipts ORDER BY code")] == [r for r, _ in old]
    assert one(db, "SELECT count(*) AS n FROM ballots")["n"] == 3
    assert vote_counts(db, 1) == {choices[0]: 2, choices[1]: 1, choices[2]: 1, choices[3]: 1, choices[4]: 1}
    ballot_ids = {r["ballot_id"] for r in rows(db, "SELECT ballot_id FROM ballots")}
    assert not ballot_ids & {r for r, _ in old}      # new keys: a receipt leads to no ballot
    assert one(db, "SELECT unmixed FROM ballot_box")["unmixed"] == 0
    db.close()
