import sqlite3
import threading

import pytest

from eo_cc import create_app
from eo_cc.db import connect, get_db
from eo_cc.migrations import migrate


def request_db(app):
    """The connection get_db() lends one request."""
    with app.test_request_context():
        return get_db()


def test_requests_in_one_thread_share_one_open_connection(app):
    first, second = request_db(app), request_db(app)
    assert first is second
    assert first.execute("SELECT count(*) FROM elections").fetchone() == (0,)  # still open


def test_a_transaction_left_open_is_rolled_back_after_the_request(app, db):
    with app.test_request_context():
        kept = get_db()
        kept.conn.execute("BEGIN IMMEDIATE")
        kept.execute("INSERT INTO throttles (key, failures, first_failure_at) VALUES ('k', 1, 'x')")
    assert not kept.conn.in_transaction
    assert db["throttles"].count == 0
    db["throttles"].insert({"key": "other", "failures": 1, "first_failure_at": "x"})  # not locked


def test_each_thread_has_its_own_connection(app):
    mine, theirs = request_db(app), []
    thread = threading.Thread(target=lambda: theirs.append(request_db(app)))
    thread.start()
    thread.join()
    assert theirs[0] is not mine


def test_an_app_with_another_database_gets_its_own_connection(app, tmp_path, monkeypatch):
    other_path = tmp_path / "other" / "eo_cc.sqlite"
    monkeypatch.setenv("EO_CC_INSTANCE_PATH", str(other_path.parent))
    other = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE": str(other_path)})
    setup = connect(other_path)
    migrate(setup)
    setup.close()
    first = request_db(app)
    second = request_db(other)
    assert second.execute("PRAGMA database_list").fetchone()[2] == str(other_path)
    with pytest.raises(sqlite3.ProgrammingError):  # one kept per thread: the earlier one is closed
        first.execute("SELECT 1")
    assert request_db(app).execute("PRAGMA database_list").fetchone()[2] == app.config["DATABASE"]


def test_a_forked_process_opens_its_own_connection(app, monkeypatch):
    parents = request_db(app)
    monkeypatch.setattr("eo_cc.db.os.getpid", lambda: -1)  # as in a worker forked after first use
    childs = request_db(app)
    assert childs is not parents
    assert parents.execute("SELECT 1").fetchone() == (1,)  # the parent's is left alone
