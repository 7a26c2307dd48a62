"""A chosen list deleted in Constant Contact mid-election, against the sandbox: the election is marked
in plain words, later runs spend nothing on it, and choosing a new list removes the whole queue."""
import pytest
import requests

from cc_sandbox import demo, server
from cc_sandbox import store as sandbox_store
from cc_sandbox import tokens as sandbox_tokens
from eo_cc.cc import tokens as cc_tokens
from eo_cc.cc import views as integration
from eo_cc.db import one
from eo_cc.voting.ballots import cast_ballot

from ..factories import make_admin, make_election, make_voters, organisation_of
from .test_token_endpoint_at_cc_limits import hourly_job, logged_in_client

LIST = sandbox_store.DEMO_VOTER_LIST
MARK = f"The list {LIST} no longer exists in Constant Contact: Select a List again."


@pytest.fixture
def sandbox(app, db, tmp_path):
    """The demo sandbox; an election on its voter list, connected, with voter1..3 who voted."""
    path = tmp_path / "sandbox" / "sandbox.sqlite"
    running = server.start(path, demo=True, activity_delay=0.2)
    try:
        app.config.update(demo.sandbox_config(running.url), CC_SYNC_POLL_SECONDS=10)
        integration.init_app(app)
        sandbox_db = sandbox_store.open_db(path)
        account_id = one(sandbox_db, "SELECT id FROM accounts WHERE email = ?", [sandbox_store.DEMO_EMAIL])["id"]
        running.list_id = one(sandbox_db, "SELECT list_id FROM lists WHERE name = ?", [LIST])["list_id"]
        sandbox_db.close()
        running.token = sandbox_tokens.grant_directly(str(path), sandbox_store.DEMO_CLIENT_ID, account_id,
                                                      "http://localhost/integration/cc/callback")
        admin_id = make_admin(db)
        cc_tokens.save_token(db, app.config["SECRET_KEY"], organisation_of(db, admin_id), running.token)
        running.election_id = make_election(db, admin_id, cc_list_id=running.list_id, cc_list_name=LIST,
                                            questions=[("Chair?", ["Alice", "Bob"], 1)],
                                            has_announcement_email=0, has_reminder_emails=0)
        yield running
    finally:
        running.stop()


def api(sandbox, method, path, **kwargs):
    response = requests.request(method, f"{sandbox.url}/v3{path}", timeout=10,
                                headers={"Authorization": f"Bearer {sandbox.token['access_token']}"}, **kwargs)
    response.raise_for_status()
    return response.json() if response.content else None


def requests_at_sandbox(sandbox):
    return requests.get(f"{sandbox.url}/_sandbox/stats", timeout=10).json()["total_requests"]


def vote(db, election_id, count):
    choice = one(db, "SELECT id, question_id FROM choices LIMIT 1")
    for voter_id in make_voters(db, election_id, count=count):
        cast_ballot(db, voter_id, {choice["question_id"]: [choice["id"]]})


def members(sandbox, list_id):
    return sorted(c["email_address"]["address"] for c in
                  api(sandbox, "GET", "/contacts", params={"lists": list_id, "limit": 500})["contacts"])


def test_a_list_deleted_mid_election_is_marked_costs_nothing_and_a_new_list_takes_the_queue(
        app, db, sandbox, tmp_path):
    election_id = sandbox.election_id
    vote(db, election_id, 3)
    requests.post(f"{sandbox.url}/_sandbox/lists/{sandbox.list_id}/delete", timeout=10).raise_for_status()

    hourly_job(app, tmp_path)
    row = one(db, "SELECT cc_list_problem FROM elections WHERE id = ?", [election_id])
    assert row["cc_list_problem"] == "deleted"
    assert db.execute("SELECT state, count(*) FROM cc_removals GROUP BY state").fetchall() == [("queued", 3)]
    client = logged_in_client(app)
    page = client.get(f"/elections/{election_id}/integration").get_data(as_text=True)
    assert MARK in page and "not_found" not in page and sandbox.list_id not in page

    before = requests_at_sandbox(sandbox)
    for _ in range(2):
        assert hourly_job(app, tmp_path).exit_code == 0
    assert requests_at_sandbox(sandbox) == before

    requests.post(f"{sandbox.url}/_sandbox/seed", timeout=10, json={
        "account": {"email": sandbox_store.DEMO_EMAIL},
        "lists": [{"name": "Voters, again", "contacts": [{"email": f"voter{n}@example.org"} for n in (1, 2, 3, 4)]}],
    }).raise_for_status()
    new_list = next(item["list_id"] for item in api(sandbox, "GET", "/contact_lists")["lists"]
                    if item["name"] == "Voters, again")
    page = client.post(f"/elections/{election_id}/integration/list", data={"list_id": new_list},
                       follow_redirects=True).get_data(as_text=True)
    assert 'id="list-problem"' not in page and "3 voter(s) who already voted will be removed" in page
    hourly_job(app, tmp_path)
    assert members(sandbox, new_list) == ["voter4@example.org"]
    assert db.execute("SELECT state, count(*) FROM cc_removals GROUP BY state").fetchall() == [("done", 3)]
