"""The baseline for bench_ballots.py: a bare Flask app that inserts one row into SQLite per request.

Served the same way as eo_cc (gunicorn, same workers and bind), with the SQLite settings of
eo_cc.db.connect (WAL, a 10 s busy timeout) and one INSERT per request. It opens a connection
per request, as eo_cc did when the target was set; eo_cc now keeps one per worker thread. Run: gunicorn --workers 4 'baseline_app:create_app()' with BASELINE_DATABASE set.
"""
import os
import secrets
import sqlite3

from flask import Flask, g, request


def connect(path):
    conn = sqlite3.connect(path, timeout=10)
    conn.execute("PRAGMA busy_timeout = 10000")
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    return conn


def init_db(path):
    conn = connect(path)
    conn.execute("CREATE TABLE IF NOT EXISTS votes (id INTEGER PRIMARY KEY, receipt TEXT NOT NULL, "
                 "choice TEXT NOT NULL)")
    conn.commit()
    conn.close()


def create_app():
    app = Flask(__name__)
    app.config["DATABASE"] = os.environ["BASELINE_DATABASE"]

    @app.post("/vote")
    def vote():
        g.db = connect(app.config["DATABASE"])
        with g.db:  # one transaction: one INSERT, committed
            g.db.execute("INSERT INTO votes (receipt, choice) VALUES (?, ?)",
                         [secrets.token_hex(6), request.form.get("choice", "")])
        return "stored\n", 201

    @app.teardown_appcontext
    def close(exception=None):
        db = g.pop("db", None)
        if db is not None:
            db.close()

    return app
