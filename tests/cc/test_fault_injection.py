"""Fault injection: the sync against a misbehaving sandbox, killed, raced and refused.

Every test checks what is left on the sandbox's list, not only which calls were made:
nobody who voted stays on it once a run succeeds, and nobody who did not vote leaves it.
The sync runs as a real subprocess (tests/cc/sync_child.py -> scripts/cc_sync.py) where a
test needs to kill it or race two of them, and in-process elsewhere.
"""
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from cc_sandbox import server, store, tokens
from eo_cc import clock
from eo_cc.cc import tokens as cc_tokens
from eo_cc.cc.report import UP_TO_DATE, sync_status
from eo_cc.cc.sync import run_sync
from eo_cc.cc.tokens import get_connection, load_token, save_token
from eo_cc.db import connect, one, rows
from eo_cc.voting.ballots import cast_ballot

from .. import ROOT
from ..factories import SECRET_KEY, make_admin, make_election, make_voters, organisation_of

CHILD = Path(__file__).with_name("sync_child.py")
CRON_SCRIPT = ROOT / "scripts" / "cc_sync.py"
CLIENT_ID, CLIENT_SECRET = "eo-cc-fault-test", "fault-test-secret"
REDIRECT_URI = "http://127.0.0.1:5000/callback"
RATE = 40                      # our pacer; the sandbox allows 50/s, so only injected 429s
CHILD_TIMEOUT_SECONDS = 0.5    # the client's timeouts in the child; "slow" faults last longer
SLOW_SECONDS = 1.5
FAULT_MIX = {"error_500": 0.04, "error_503": 0.04, "throttled": 0.04, "slow": 0.04, "drop": 0.04,
             "slow_seconds": SLOW_SECONDS}
BATCH = 500
INJECTED_ERRORS = {"error_500": "server_error", "error_503": "service_unavailable",
                   "throttled": "throttled", "slow": "slow", "drop": "dropped"}


def emails(n):
    return [f"voter{i}@example.org" for i in range(1, n + 1)]


@dataclass
class World:
    """A sandbox list, and an eo_cc election whose roster is that list; voters vote on cast()."""
    sandbox: server.SandboxServer
    sandbox_db_path: Path
    account_id: int
    list_id: str
    organisation_id: int
    election_id: int
    db: object
    members: set
    to_vote: list              # voter ids, in the (seeded) order they will vote

    def cast(self, n):
        """The next n voters cast a ballot (which queues their removal, as on the site)."""
        choice = one(self.db, "SELECT c.id, c.question_id FROM choices c JOIN questions q "
                              "ON q.id = c.question_id WHERE q.election_id = ? LIMIT 1",
                     [self.election_id])
        for voter_id in self.to_vote[:n]:
            cast_ballot(self.db, voter_id, {choice["question_id"]: [choice["id"]]})
        del self.to_vote[:n]

    @property
    def voted(self):
        return {r["email"] for r in rows(self.db, "SELECT email FROM voters WHERE election_id = ? "
                                                  "AND has_voted = 1", [self.election_id])}

    @property
    def not_voted(self):
        return self.members - self.voted

    def api(self, method, path, **kwargs):
        response = requests.request(method, f"{self.sandbox.url}/_sandbox{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def faults(self, **settings):
        return self.api("POST", "/faults", json=settings)

    def stats(self):
        return self.api("GET", "/stats")

    def list_members(self):
        return set(self.api("GET", f"/lists/{self.list_id}/members.json")["emails"])

    def issue_token(self):
        """A fresh grant from the sandbox, as if the admin clicked Grant access again."""
        return tokens.grant_directly(self.sandbox_db_path, CLIENT_ID, self.account_id, REDIRECT_URI)


def remove_calls(stats):
    """Removal batches CC accepted (a 401, 5xx or dropped attempt started no activity)."""
    return stats["responses"].get("POST /v3/activities/remove_list_memberships 201", 0)


def api_requests(stats):
    return sum(n for endpoint, n in stats["requests"].items() if endpoint.split(" ")[1].startswith("/v3"))


def removal_states(db, election_id):
    return dict(db.execute("SELECT state, count(*) FROM cc_removals WHERE election_id = ? "
                           "GROUP BY state", [election_id]).fetchall())


def done_emails(db, election_id):
    return {r["email"] for r in rows(db, "SELECT email FROM cc_removals WHERE election_id = ? "
                                         "AND state = 'done'", [election_id])}


@pytest.fixture
def world(app, db, tmp_path):
    """Build a World of `members` list members of whom `voting` vote now (more may vote later)."""
    started = []

    def build(members, voting, seed=1):
        sandbox_db_path = tmp_path / "sandbox" / "sandbox.sqlite"
        # No token-endpoint pace (the sandbox's default is CC's one a second): these tests are about
        # rotation and faults; with the pace on, a second refresh within the second is a 429.
        sandbox = server.start(sandbox_db_path, requests_per_second=50, activity_delay=0.3,
                               token_requests_per_second=None)
        started.append(sandbox)
        seeded = requests.post(f"{sandbox.url}/_sandbox/seed", timeout=30, json={
            "account": {"email": "owner@example.org"},
            "client": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                       "redirect_uris": [REDIRECT_URI]},
            "lists": [{"name": "Members", "emails": emails(members)}]}).json()
        list_id = seeded["lists"][0]["list_id"]
        app.config.update(sandbox.cc_config(CLIENT_ID, CLIENT_SECRET), CC_REQUESTS_PER_SECOND=RATE)
        admin_id = make_admin(db)
        election_id = make_election(db, admin_id, cc_list_id=list_id, cc_list_name="Members",
                                    questions=[("Chair?", ["Alice", "Bob"], 1)])
        voter_ids = make_voters(db, election_id, count=members)
        random.Random(seed).shuffle(voter_ids)
        built = World(sandbox, sandbox_db_path, seeded["account_id"], list_id,
                      organisation_of(db, admin_id), election_id, db, set(emails(members)), voter_ids)
        save_token(db, SECRET_KEY, built.organisation_id, built.issue_token())
        built.cast(voting)
        return built

    yield build
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def child_env(app, tmp_path):
    """The environment of a cron-like sync run: instance folder and FLASK_ settings."""
    def env(extra=None):
        config = app.config
        settings = {key: str(config[key]) for key in (
            "CC_CLIENT_ID", "CC_CLIENT_SECRET", "CC_ACCESS_TOKEN_URL", "CC_API_BASE_URL",
            "CC_REQUESTS_PER_SECOND", "DATABASE", "SECRET_KEY")}
        return {**os.environ, "EO_CC_INSTANCE_PATH": str(tmp_path), "PYTHONUNBUFFERED": "1",
                **{f"FLASK_{key}": value for key, value in settings.items()}, **(extra or {})}
    return env


def spawn(env, *args, script=CHILD):
    return subprocess.Popen([sys.executable, str(script), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def run_child(env, *args, script=CHILD):
    """One sync subprocess to the end: (exit code, output)."""
    proc = spawn(env, *args, script=script)
    output = proc.communicate(timeout=120)[0]
    return proc.returncode, output


@pytest.fixture
def sync(app, db, tmp_path):
    """One in-process sync run: (RunResult, printed lines)."""
    def run(**options):
        lines = []
        options.setdefault("echo", lines.append)
        result = run_sync(db, app.config, lock_path=str(tmp_path / "cc_sync.lock"), **options)
        return result, lines
    return run


def last_run_id(db):
    return one(db, "SELECT coalesce(max(id), 0) AS id FROM sync_runs")["id"]


# --- 2,000 members, 1,000 vote, 20% faults, three kill -9s ------------------------------

KILLS = 3
MAX_RUNS = 12
WAVES = [700, 100, 100, 100]   # 1,000 ballots: most before the first run, more while it is killed


def kill_at_a_random_moment(proc, world, rng):
    """kill -9 the run a seeded random moment after its k-th request; True if it died so."""
    start = world.stats()["total_requests"]
    after_requests, delay = rng.randint(1, 4), rng.uniform(0.0, 0.3)
    while proc.poll() is None:
        if world.stats()["total_requests"] - start >= after_requests:
            time.sleep(delay)
            if proc.poll() is not None:
                break
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.01)
    return False


@dataclass
class Run:
    killed: bool
    exit_code: int
    became_done: int        # removals marked done while this run lived
    records: list           # its sync_runs rows
    output: str


def check_the_list_after_a_run(world, db):
    """Whatever the moment: no non-voter removed, nobody marked done who is still on the list."""
    members = world.list_members()
    assert world.not_voted <= members, "a voter who did not vote was removed"
    assert not done_emails(db, world.election_id) & members, "a removal was marked done too early"


@pytest.mark.slow
def test_killed_three_times_under_faults_the_sync_still_leaves_exactly_the_non_voters(
        app, world, db, child_env):
    w = world(2000, WAVES[0])
    w.faults(**FAULT_MIX, seed=20261128)
    rng, waves = random.Random(5), list(WAVES[1:])
    env = child_env({"EO_CC_TEST_CC_TIMEOUT": str(CHILD_TIMEOUT_SECONDS)})
    runs = []
    for _ in range(MAX_RUNS):
        done_before, last_run_before = len(done_emails(db, w.election_id)), last_run_id(db)
        proc = spawn(env, "--verbose")
        kills = sum(run.killed for run in runs)
        killed = kills < KILLS and kill_at_a_random_moment(proc, w, rng)
        output = proc.communicate(timeout=120)[0]
        records = rows(db, "SELECT * FROM sync_runs WHERE id > ? ORDER BY id", [last_run_before])
        runs.append(Run(killed, proc.returncode, len(done_emails(db, w.election_id)) - done_before,
                        records, output))
        check_the_list_after_a_run(w, db)
        if waves:
            w.cast(waves.pop(0))    # voting goes on between runs
        elif sum(run.killed for run in runs) == KILLS and not killed and proc.returncode == 0:
            break
    report = "\n".join(f"run {i}: killed={r.killed} exit={r.exit_code} done+={r.became_done}\n"
                       f"{r.output}" for i, r in enumerate(runs))

    assert sum(run.killed for run in runs) == KILLS, report
    assert runs[-1].exit_code == 0 and not runs[-1].killed, report
    assert len(w.voted) == 1000
    assert w.list_members() == w.not_voted                       # exactly the 1,000 non-voters
    assert removal_states(db, w.election_id) == {"done": 1000}
    time.sleep(SLOW_SECONDS)     # a "slow" request the client gave up on is counted when it ends
    stats = w.stats()
    assert stats["forbidden_calls"] == []
    injected = sum(stats["errors"].get(key, 0) for key in INJECTED_ERRORS.values())
    # Seed 20261128 draws faults at the 9th, 11th and 13th API requests; every kind alone
    # is covered by test_each_fault_kind_alone_is_retried_until_the_list_is_right.
    assert injected >= 2, stats["errors"]
    # The daily budget saw every request, but at most the one in flight when each kill hit.
    counted = one(db, "SELECT sum(requests) AS n FROM cc_request_counts")["n"]
    assert api_requests(stats) - KILLS <= counted <= api_requests(stats)
    status = sync_status(db, w.election_id, app.config)
    assert (status["verdict"], status["queued"], status["done"]) == (UP_TO_DATE, 0, 1000)
    # The run records add up: each run's record counts what it settled, written in the same
    # transaction, so a run killed before it finished still accounts for its removals.
    for run in runs:
        assert len(run.records) <= 1, report
        recorded = sum(r["removed"] for record in run.records for r in rows(
            db, "SELECT removed FROM sync_run_elections WHERE run_id = ?", [record["id"]]))
        assert recorded == run.became_done, report
        if run.killed:
            assert all(record["finished_at"] is None for record in run.records), report
        else:
            assert all(record["exit_code"] == run.exit_code for record in run.records), report
    assert sum(run.became_done for run in runs) == 1000
    assert one(db, "SELECT sum(removed) AS n FROM sync_run_elections")["n"] == 1000


def test_a_run_that_dies_before_writing_its_record_still_accounts_for_its_removals(world, db, sync):
    w = world(300, 120)

    def die_at_the_summary(line):
        if "removed" in line:               # the summary comes just before the record is written
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sync(echo=die_at_the_summary)
    assert removal_states(db, w.election_id) == {"done": 120}
    assert w.list_members() == w.not_voted
    run = one(db, "SELECT * FROM sync_runs")
    assert run["finished_at"] is None
    assert one(db, "SELECT removed FROM sync_run_elections WHERE run_id = ?", [run["id"]]) \
        == {"removed": 120}


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(INJECTED_ERRORS))
def test_each_fault_kind_alone_is_retried_until_the_list_is_right(kind, world, db, sync, monkeypatch):
    monkeypatch.setattr(cc_tokens, "TIMEOUT", (CHILD_TIMEOUT_SECONDS, CHILD_TIMEOUT_SECONDS))
    w = world(300, 120)
    w.faults(**{kind: 0.3, "slow_seconds": SLOW_SECONDS, "seed": 4})
    for _ in range(4):
        result, lines = sync()
        check_the_list_after_a_run(w, db)
        if result.exit_code == 0:
            break
    assert result.exit_code == 0, lines
    assert w.list_members() == w.not_voted
    assert removal_states(db, w.election_id) == {"done": 120}
    stats = w.stats()
    assert stats["errors"].get(INJECTED_ERRORS[kind], 0) >= 1, stats["errors"]
    assert stats["forbidden_calls"] == []


# --- tokens ------------------------------------------------------------------------------

def stored_refresh_token_is_live(world, refresh_token):
    sandbox_db = store.open_db(world.sandbox_db_path)
    try:
        row = one(sandbox_db, "SELECT is_active FROM refresh_tokens WHERE token_hash = ?",
                  [tokens.digest(refresh_token)])
    finally:
        sandbox_db.close()
    return bool(row and row["is_active"])


def token_requests(stats):
    return stats["requests"].get("POST /oauth2/default/v1/token", 0)


@pytest.mark.parametrize("when", ["expired at CC mid-run", "about to expire before the run"])
def test_expired_access_tokens_are_refreshed_once_and_the_rotated_refresh_token_saved(
        when, world, db, sync):
    w = world(1200, 700)                      # two batches: tokens expire between them
    before = load_token(db, SECRET_KEY, w.organisation_id)
    expired = []

    def echo(line):
        if when.endswith("mid-run") and "submitted 500" in line and not expired:
            expired.append(w.faults(expire_tokens=True))

    if when.endswith("before the run"):
        db.execute("UPDATE cc_connections SET expires_at = ?", [int(time.time()) + 60])
    result, _ = sync(echo=echo, verbose=True)

    assert when.endswith("before the run") or expired
    assert result.exit_code == 0 and result.total("removed") == 700
    assert w.list_members() == w.not_voted
    after = load_token(db, SECRET_KEY, w.organisation_id)
    assert after["refresh_token"] != before["refresh_token"]
    assert after["access_token"] != before["access_token"]
    assert stored_refresh_token_is_live(w, after["refresh_token"])
    assert not stored_refresh_token_is_live(w, before["refresh_token"])
    assert get_connection(db, w.organisation_id)["needs_grant"] == 0
    assert token_requests(w.stats()) == 1
    assert remove_calls(w.stats()) == 2


@pytest.mark.parametrize("expired", ["at CC", "locally"])
def test_a_refused_refresh_asks_for_a_new_grant_keeps_every_removal_and_a_new_grant_finishes(
        expired, app, world, db, child_env):
    w = world(300, 120)
    if expired == "at CC":
        w.faults(refuse_refresh=True, expire_tokens=True)
    else:
        w.faults(refuse_refresh=True)
        db.execute("UPDATE cc_connections SET expires_at = ?", [int(time.time()) - 60])
    env = child_env()

    code, output = run_child(env)
    assert code != 0, output
    assert "grant" in output.lower()
    connection = get_connection(db, w.organisation_id)
    assert connection["needs_grant"] == 1 and connection["last_error"]
    assert "grant access again" in sync_status(db, w.election_id, app.config)["verdict"]
    assert removal_states(db, w.election_id) == {"queued": 120}
    assert w.list_members() == w.members
    assert remove_calls(w.stats()) == 0

    # Until access is granted again, runs keep everything and send nothing.
    requests_so_far = w.stats()["total_requests"]
    code, output = run_child(env)
    assert code != 0 and w.stats()["total_requests"] == requests_so_far
    assert removal_states(db, w.election_id) == {"queued": 120}

    w.faults()
    save_token(db, SECRET_KEY, w.organisation_id, w.issue_token())   # the admin clicks Grant access
    code, output = run_child(env)
    assert code == 0, output
    assert w.list_members() == w.not_voted
    assert removal_states(db, w.election_id) == {"done": 120}
    assert get_connection(db, w.organisation_id)["needs_grant"] == 0


# --- activities --------------------------------------------------------------------------

@pytest.mark.parametrize("outcome", ["failed", "timed_out"])
def test_activities_that_end_badly_are_requeued_and_a_later_run_finishes(outcome, world, db, sync):
    w = world(1200, 700)
    w.faults(activity_outcome=outcome)
    first, lines = sync()
    assert first.exit_code == 1, lines
    assert removal_states(db, w.election_id) == {"queued": 700}
    assert {(r["attempts"], outcome in r["last_error"]) for r in rows(
        db, "SELECT attempts, last_error FROM cc_removals")} == {(1, True)}
    assert w.list_members() == w.members
    assert dict(db.execute("SELECT state, count(*) FROM cc_activities GROUP BY state").fetchall()) \
        == {outcome: 2}

    w.faults()
    second, lines = sync()
    assert second.exit_code == 0, lines
    assert w.list_members() == w.not_voted
    assert removal_states(db, w.election_id) == {"done": 700}
    assert [r["removed"] for r in rows(db, "SELECT removed FROM sync_run_elections ORDER BY run_id")] \
        == [0, 700]
    assert remove_calls(w.stats()) == 2 * math.ceil(700 / BATCH)     # one pass each, no repeats


def test_an_activity_still_processing_when_the_run_ends_is_done_only_by_the_next_run(world, db, sync):
    w = world(300, 120)
    w.api("POST", "/limits", json={"activity_delay": 3})
    first, _ = sync(poll_seconds=0)
    assert removal_states(db, w.election_id) == {"submitted": 120}
    assert first.total("removed") == 0 and first.total("processing") == 120
    assert w.list_members() == w.members

    time.sleep(3.2)
    second, _ = sync()
    assert second.exit_code == 0 and second.total("removed") == 120
    assert w.list_members() == w.not_voted
    assert remove_calls(w.stats()) == 1


@pytest.mark.slow
def test_a_dry_run_under_faults_removes_nobody_and_changes_no_removal(world, db, child_env):
    w = world(300, 120)
    w.faults(**FAULT_MIX, seed=4)
    code, output = run_child(child_env({"EO_CC_TEST_CC_TIMEOUT": str(CHILD_TIMEOUT_SECONDS)}),
                             "--dry-run")
    assert code in (0, 1) and "would remove" in output, output
    assert w.stats()["errors"], "no fault was injected"
    assert w.stats()["requests"].get("POST /v3/activities/remove_list_memberships", 0) == 0
    assert removal_states(db, w.election_id) == {"queued": 120}
    assert w.list_members() == w.members


# --- two runs at once -----------------------------------------------------------------------

@pytest.mark.slow
def test_two_syncs_started_at_once_do_the_work_once(world, db, child_env):
    w = world(1500, 1200)
    # Activities take 2.5 s, so the first run holds the lock well past the 2 s the other waits.
    w.api("POST", "/limits", json={"activity_delay": 2.5})
    env = child_env()
    procs = [spawn(env, script=CRON_SCRIPT) for _ in range(2)]
    outputs = [proc.communicate(timeout=120)[0] for proc in procs]

    assert [proc.returncode for proc in procs] == [0, 0], outputs
    workers = [out for out in outputs if "1200 removed" in out]
    idle = [out for out in outputs if out.strip() == "Another sync is running; nothing done this time."]
    assert len(workers) == 1 and len(idle) == 1, outputs
    runs = rows(db, "SELECT * FROM sync_runs")
    assert len(runs) == 1
    stats = w.stats()
    assert remove_calls(stats) == math.ceil(1200 / BATCH)
    assert stats["requests"]["POST /v3/activities/remove_list_memberships"] == math.ceil(1200 / BATCH)
    assert api_requests(stats) == runs[0]["requests"]            # the idle one sent nothing
    assert w.list_members() == w.not_voted
    assert removal_states(db, w.election_id) == {"done": 1200}


def test_the_site_and_the_sync_refreshing_one_expired_token_both_go_on(app, world, db):
    w = world(300, 0)
    db.execute("UPDATE cc_connections SET expires_at = ?", [int(time.time()) - 60])
    other_db = connect(app.config["DATABASE"])     # as another process would have
    try:
        site = cc_tokens.make_client(db, app.config, w.organisation_id)
        cron = cc_tokens.make_client(other_db, app.config, w.organisation_id)
        assert [item["list_id"] for item in site.contact_lists()] == [w.list_id]
        # cron still holds the refresh token the site's refresh just rotated away: under the
        # connection's lock it finds the site's new token stored, and spends nothing
        assert [item["list_id"] for item in cron.contact_lists()] == [w.list_id]
    finally:
        other_db.close()
    assert get_connection(db, w.organisation_id)["needs_grant"] == 0
    assert stored_refresh_token_is_live(w, load_token(db, SECRET_KEY, w.organisation_id)["refresh_token"])
    assert w.stats()["responses"] == {"POST /oauth2/default/v1/token 200": 1,
                                      "GET /v3/contact_lists 200": 2}


def test_quota_used_up_mid_run_keeps_everything_and_waits_for_the_next_day(world, db, sync,
                                                                             monkeypatch):
    w = world(1200, 700)
    w.api("POST", "/limits", json={"daily_quota": 5})   # 1 list size + 3 pages + 1 batch
    first, _ = sync()
    assert first.exit_code == 1
    assert removal_states(db, w.election_id) == {"submitted": 500, "queued": 200}
    assert w.stats()["quota_exceeded"] == 1

    requests_so_far = w.stats()["total_requests"]
    same_day, _ = sync()
    assert same_day.exit_code == 1 and w.stats()["total_requests"] == requests_so_far
    check_the_list_after_a_run(w, db)
    assert "done" not in removal_states(db, w.election_id)

    monkeypatch.setattr("eo_cc.cc.budget.utc_day", lambda: "2999-01-01")
    w.api("POST", "/limits", json={"daily_quota": 10_000, "reset_usage": True})
    next_day, _ = sync()
    assert next_day.exit_code == 0 and next_day.total("removed") == 700
    assert w.list_members() == w.not_voted
    assert remove_calls(w.stats()) == 2


def test_a_ballot_cast_during_a_run_waits_for_the_next_one_and_is_no_failure(
        app, world, db, sync, monkeypatch):
    w = world(300, 120)
    frozen = clock.now()
    monkeypatch.setattr(clock, "now", lambda: frozen)    # the ballot lands in the run's own second
    late_voter, choice = w.to_vote.pop(), one(db, "SELECT id, question_id FROM choices LIMIT 1")

    def vote_mid_run(line):
        if "submitted" in line and late_voter not in cast:
            voter_db = connect(app.config["DATABASE"])
            try:
                cast_ballot(voter_db, late_voter, {choice["question_id"]: [choice["id"]]})
            finally:
                voter_db.close()
            cast.append(late_voter)

    cast = []
    first, lines = sync(echo=vote_mid_run, verbose=True)
    assert cast and first.exit_code == 0, lines
    assert (first.total("removed"), first.total("failed")) == (120, 0)
    assert removal_states(db, w.election_id) == {"done": 120, "queued": 1}
    second, _ = sync()
    assert second.exit_code == 0 and second.total("removed") == 1
    assert w.list_members() == w.not_voted


# --- voting goes on while the sync runs ------------------------------------------------------

@pytest.mark.slow
def test_voters_casting_while_syncs_run_lose_no_ballot_and_every_voter_leaves_the_list(
        app, world, db, child_env):
    w = world(1500, 0)
    casting, errors = list(w.to_vote[:600]), []
    choice = one(db, "SELECT id, question_id FROM choices LIMIT 1")

    def vote():
        voter_db = connect(app.config["DATABASE"])
        try:
            for voter_id in casting:
                try:
                    cast_ballot(voter_db, voter_id, {choice["question_id"]: [choice["id"]]})
                except Exception as error:   # noqa: BLE001 (any failure is the finding)
                    errors.append(repr(error))
                time.sleep(0.005)
        finally:
            voter_db.close()

    voters = threading.Thread(target=vote)
    voters.start()
    env, outputs = child_env(), []
    while True:
        voting_over = not voters.is_alive()
        outputs.append(run_child(env))
        if voting_over:
            break
        assert len(outputs) <= 8, outputs
    voters.join()

    assert errors == []
    # Nothing failed: a ballot cast after a run read the queue waits for the next run and
    # is no failure of this one (exit 1 would page whoever watches the cron job).
    assert [code for code, _ in outputs] == [0] * len(outputs), outputs
    assert all(" 0 still queued" in out or out.startswith("Nothing to sync") for _, out in outputs), \
        outputs
    assert len(w.voted) == 600
    assert one(db, "SELECT count(*) AS n FROM ballots")["n"] == 600
    assert removal_states(db, w.election_id) == {"done": 600}
    assert w.list_members() == w.not_voted
