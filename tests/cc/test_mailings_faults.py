"""The mailings against a misbehaving sandbox (real HTTP): 500s, 503s, 429s and dropped connections
on a fifth of the requests, and imports that fail, while voters vote. Nothing is lost: in the end the
list holds exactly the roster's voters who have not voted, each with their current link."""
import pytest
import requests

from cc_sandbox import server, tokens
from eo_cc.cc import links, list_check
from eo_cc.cc.sync import run_sync
from eo_cc.cc.tokens import save_token
from eo_cc.db import rows
from eo_cc.voting.notices import ballot_link_url

from ..factories import SECRET_KEY, make_admin, make_election, make_voters, organisation_of
from .mailing_helpers import vote

pytestmark = pytest.mark.slow

CLIENT_ID, CLIENT_SECRET = "eo-cc-mailings-faults", "mailings-faults-secret"
REDIRECT_URI = "http://127.0.0.1:5000/callback"
VOTERS, MISSING, STRANGERS, UNSUBSCRIBED = 120, 10, 10, 5
FAULTS = {"error_500": 0.05, "error_503": 0.05, "throttled": 0.05, "drop": 0.05, "seed": 7}
MAX_RUNS = 15


def email(n):
    return f"voter{n}@example.org"


@pytest.fixture
def sandbox(tmp_path):
    running = server.start(tmp_path / "sandbox" / "sandbox.sqlite", requests_per_second=50, activity_delay=0.2,
                           token_requests_per_second=None)
    running.db_path = tmp_path / "sandbox" / "sandbox.sqlite"
    yield running
    running.stop()


def control(sandbox, method, path, **kwargs):
    response = requests.request(method, f"{sandbox.url}/_sandbox{path}", timeout=30, **kwargs)
    response.raise_for_status()
    return response.json()


def test_faults_and_failed_imports_lose_nothing(app, db, sandbox, tmp_path):
    listed = [{"email": email(n), **({"status": "unsubscribed"} if n <= MISSING + UNSUBSCRIBED else {})}
              for n in range(MISSING + 1, VOTERS + 1)]
    seeded = control(sandbox, "POST", "/seed", json={
        "account": {"email": "owner@example.org"},
        "client": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": [REDIRECT_URI]},
        "lists": [{"name": "Members", "contacts": listed + [{"email": f"stranger{n}@example.net"}
                                                           for n in range(STRANGERS)]}]})
    list_id = seeded["lists"][0]["list_id"]
    app.config.update(sandbox.cc_config(CLIENT_ID, CLIENT_SECRET), CC_REQUESTS_PER_SECOND=40,
                      CC_SYNC_POLL_SECONDS=10)
    admin_id = make_admin(db)
    election_id = make_election(db, admin_id, cc_list_id=list_id, cc_list_name="Members",
                                has_cc_ballot_links=1, questions=[("Chair?", ["Alice", "Bob"], 1)])
    make_voters(db, election_id, count=VOTERS)
    save_token(db, SECRET_KEY, organisation_of(db, admin_id), tokens.grant_directly(
        sandbox.db_path, CLIENT_ID, seeded["account_id"], REDIRECT_URI))
    list_check.request(db, election_id)
    control(sandbox, "POST", "/faults", json={**FAULTS, "activity_outcome": "failed"})

    outcomes = []
    for run in range(MAX_RUNS):
        result = run_sync(db, app.config, lock_path=str(tmp_path / "cc_sync.lock"), echo=lambda line: None,
                          sleep=lambda seconds: None)
        outcomes.append(result.exit_code)
        if run == 1:   # the check is in: fix everything, and let imports complete from now on
            list_check.ask_fix(db, election_id, list_check.MISSING)
            list_check.ask_fix(db, election_id, list_check.STRANGER)
            control(sandbox, "POST", "/faults", json={**FAULTS, "activity_outcome": "completed"})
        if run in (2, 3, 4):   # voters vote between (and so while) the imports
            for n in range(20 + 5 * run, 25 + 5 * run):
                vote(db, election_id, email(n))
        if run > 5 and not links.waiting(db, election_id, list_id) and result.exit_code == 0:
            break
    stats = control(sandbox, "GET", "/stats")

    members = {m["email"]: m for m in control(sandbox, "GET", f"/lists/{list_id}/members.json")["members"]}
    voters = rows(db, "SELECT * FROM voters WHERE election_id = ?", [election_id])
    election = db["elections"].get(election_id)
    expected = {v["email"] for v in voters if not v["has_voted"]}
    assert stats["errors"].get("dropped") and stats["errors"].get("throttled")   # the faults happened
    assert 1 in outcomes and outcomes[-1] == 0
    assert set(members) - expected == set(), "a voter who voted, or a stranger, is still on the list"
    assert expected - set(members) == set(), "a voter who has not voted is missing from the list"
    for voter in voters:
        if not voter["has_voted"] and voter["email"] in members:
            assert members[voter["email"]]["custom_fields"] == {
                links.field_of(db, election_id)["name"]: ballot_link_url(app.config, election, voter)}
    assert stats["forbidden_calls"] == []
    for n in range(STRANGERS):   # taken off the list, never deleted
        assert control(sandbox, "GET", "/contacts.json", params={"email": f"stranger{n}@example.net"})["contacts"]
