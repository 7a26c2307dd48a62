"""Benchmark: what Constant Contact mailings cost in requests for a 10,000-voter election (issue 10).

Against the sandbox in its own process, with CC's limits (4 requests/s, 10,000 a day) and an
activity completion delay of --activity-delay seconds (default 0), one sync run per step:

A. A list of 10,000 members: 9,900 of the 10,000 voters (50 of them unsubscribed) and 100
   strangers. 1 check; 2 add the 100 missing voters; 3 remove the 100 strangers; 4 put the
   10,000 ballot links into CC; 5 one voter asks for a new link (the next run); 6 voting closes.
B. The same push with no check before it (nothing known about the list).
C. A list created from the roster: the list (one request, as the page makes it) and the import.

Each step prints its API requests by endpoint, the optimum (the fewest requests that can do it,
polls apart: an activity needs at least one poll) and the wall time.
"""
import argparse
import math
import tempfile
import time
from pathlib import Path

import _common
import requests

RATE = 4
VOTERS, MISSING, STRANGERS, UNSUBSCRIBED = 10_000, 100, 100, 50
PAGE = 500


def voter_email(n):
    return f"member{n:05d}@example.org"


def seed_sandbox(db_path, scenario):
    """The account, our client app and (A, B) the list; returns (account id, list id or None)."""
    from cc_sandbox import store

    people = [{"email": voter_email(n), **({"status": "unsubscribed"} if MISSING <= n < MISSING + UNSUBSCRIBED
                                            else {})} for n in range(MISSING, VOTERS)]
    people += [{"email": f"stranger{n:03d}@example.net"} for n in range(STRANGERS)]
    db = store.open_db(db_path)
    try:
        seeded = store.seed(db, {
            "account": {"email": "owner@example.org", "name": "Bench Association"},
            "client": {"client_id": _common.SANDBOX_CLIENT[0], "client_secret": _common.SANDBOX_CLIENT[1],
                       "redirect_uris": [_common.REDIRECT_URI]},
            "lists": [] if scenario == "C" else [{"name": "Members", "contacts": people}]})
    finally:
        db.close()
    return seeded["account_id"], (seeded["lists"][0]["list_id"] if seeded["lists"] else None)


def seed_eo_cc(db, token, list_id):
    """An admin connected to the sandbox and an open election of 10,000 voters using the list."""
    from eo_cc import clock
    from eo_cc.cc.tokens import save_token
    from eo_cc.crypto import Box
    from tests.factories import make_election, organisation_of

    admin_id = _common.cheap_admin(db)
    save_token(db, _common.SECRET_KEY, organisation_of(db, admin_id), token)
    election_id = make_election(db, admin_id, title="Annual Meeting 2026", cc_list_id=list_id,
                                cc_list_name="Members" if list_id else None,
                                has_announcement_email=0, has_reminder_emails=0)
    sealed, now = Box(_common.SECRET_KEY, "voter-passwords").seal("not-used"), clock.iso()
    db["voters"].insert_all(({"election_id": election_id, "voter_code": f"V{n:05d}", "name": f"Member {n}",
                              "email": voter_email(n), "password_encrypted": sealed, "created_at": now}
                             for n in range(VOTERS)), batch_size=5000)
    return election_id


class World:
    """One scenario: the sandbox process, eo_cc's database, and a run per step."""

    def __init__(self, workdir, scenario, activity_delay):
        workdir.mkdir()
        sandbox_db = workdir / "sandbox.sqlite"
        account_id, self.list_id = seed_sandbox(sandbox_db, scenario)
        self.db = _common.eo_cc_database(workdir / "eo_cc.sqlite")
        self.election_id = seed_eo_cc(self.db, _common.sandbox_token(sandbox_db, account_id), self.list_id)
        self.sandbox = _common.SandboxProcess(sandbox_db, requests_per_second=RATE, daily_quota=10_000,
                                              activity_delay=activity_delay)
        self.config = {"SECRET_KEY": _common.SECRET_KEY, "DATABASE": str(workdir / "eo_cc.sqlite"),
                       "BASE_URL": "https://vote.example.org", "CC_REQUESTS_PER_SECOND": RATE,
                       "CC_DAILY_REQUEST_BUDGET": 10_000, "CC_SYNC_POLL_SECONDS": 120,
                       **self.sandbox.cc_config()}
        self.lock = str(workdir / "cc_sync.lock")

    def api_requests(self):
        stats = requests.get(f"{self.sandbox.url}/_sandbox/stats", timeout=10).json()
        return {endpoint: n for endpoint, n in stats["requests"].items() if " /v3/" in endpoint}, stats

    def step(self, name, optimum, prepare=None):
        """Run prepare() (which may itself call CC, counted), then one sync run; returns a row."""
        from eo_cc.cc.sync import run_sync

        before, _ = self.api_requests()
        started = time.perf_counter()
        if prepare:
            prepare(self)
        outcome = run_sync(self.db, self.config, election_id=self.election_id, echo=lambda line: None,
                           lock_path=self.lock)
        wall = time.perf_counter() - started
        after, stats = self.api_requests()
        spent = {endpoint: n - before.get(endpoint, 0) for endpoint, n in after.items()
                 if n - before.get(endpoint, 0)}
        polls = sum(n for endpoint, n in spent.items() if endpoint.startswith("GET /v3/activities/"))
        total = sum(spent.values())
        return {"step": name, "requests": total, "polls": polls, "optimum": optimum,
                "ratio": round((total - polls) / optimum, 2) if optimum else None,
                "by_endpoint": spent, "wall_s": round(wall, 1), "floor_s": round(total / RATE, 1),
                "exit_code": outcome.exit_code, "throttled": stats["rate_limited"],
                "message": outcome.message}

    def members(self):
        return requests.get(f"{self.sandbox.url}/_sandbox/lists/{self.list_id}/members.json",
                            timeout=60).json()


def scenario_a(world):
    from eo_cc.cc import list_check
    from eo_cc.db import one

    eid = world.election_id
    rows = [world.step("check (on demand)", math.ceil(VOTERS / PAGE), lambda w: list_check.request(w.db, eid)),
            world.step(f"add the {MISSING} missing voters", 1,
                       lambda w: list_check.ask_fix(w.db, eid, list_check.MISSING)),
            world.step(f"remove the {STRANGERS} strangers", math.ceil(STRANGERS / 500),
                       lambda w: list_check.ask_fix(w.db, eid, list_check.STRANGER)),
            world.step(f"put {VOTERS:,} ballot links into CC", 2, turn_links_on),
            world.step("a new link reaches CC (next run)", 1,
                       lambda w: w.db.execute("UPDATE voters SET link_version = 2 WHERE voter_code = 'V00500'"))]
    members = world.members()
    check = {"members": members["member_count"],
             "strangers_left": sum(e.endswith("@example.net") for e in members["emails"]),
             "members_with_a_link": sum(bool(m["custom_fields"]) for m in members["members"]),
             "links_eo_cc_recorded": one(world.db, "SELECT count(*) AS n FROM cc_ballot_links")["n"]}
    rows.append(world.step("voting closes: the field is deleted", 1,
                           lambda w: w.db.execute("UPDATE elections SET state = 'closed'")))
    check["members_with_a_link_after_closing"] = sum(bool(m["custom_fields"]) for m in world.members()["members"])
    return rows, check


def turn_links_on(world):
    world.db.execute("UPDATE elections SET has_cc_ballot_links = 1")


def scenario_b(world):
    return [world.step(f"put {VOTERS:,} ballot links into CC, list unknown", 1 + math.ceil(VOTERS / PAGE) + 1,
                       turn_links_on)], {}


def scenario_c(world):
    def create_list(w):
        from eo_cc.cc import list_check, tokens
        from eo_cc.cc.budget import request_counter

        client = tokens.make_client(w.db, w.config, 1, on_request=request_counter(w.db))
        made = client.create_contact_list("Annual Meeting 2026", "Voters of Annual Meeting 2026")
        w.list_id = made["list_id"]
        w.db.execute("UPDATE elections SET cc_list_id = ?, cc_list_name = ?", [made["list_id"], made["name"]])
        list_check.everyone_missing(w.db, w.election_id, made["list_id"])
    rows = [world.step(f"create a list from the {VOTERS:,}-voter roster", 2, create_list)]
    return rows, {"members": world.members()["member_count"]}


def report(scenario, rows, check):
    print(f"\nScenario {scenario}")
    for row in rows:
        print(f"  {row['step']:<44} {row['requests']:>4} requests ({row['polls']} polls); optimum "
              f"{row['optimum']} + polls; ratio {row['ratio']}; {row['wall_s']} s (floor {row['floor_s']} s); "
              f"429s {row['throttled']}; exit {row['exit_code']}")
        for endpoint, n in sorted(row["by_endpoint"].items()):
            print(f"      {n:>5}  {endpoint}")
    if check:
        print(f"  afterwards: {check}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activity-delay", type=float, default=0.0)
    parser.add_argument("--scenarios", default="A,B,C")
    args = parser.parse_args()
    print(f"Mailings benchmark: {VOTERS:,} voters, sandbox at {RATE} requests/s, activity delay "
          f"{args.activity_delay} s; {_common.machine()}")
    results, passed = {}, True
    with tempfile.TemporaryDirectory(prefix="eo_cc_bench_mailings_") as tmp:
        for scenario in args.scenarios.split(","):
            world = World(Path(tmp) / scenario, scenario, args.activity_delay)
            try:
                rows, check = {"A": scenario_a, "B": scenario_b, "C": scenario_c}[scenario](world)
            finally:
                world.sandbox.stop()
                world.db.close()
            report(scenario, rows, check)
            results[scenario] = {"rows": [{k: v for k, v in r.items() if k != "by_endpoint"} for r in rows],
                                 "check": check}
            passed = passed and all(r["exit_code"] == 0 and r["throttled"] == 0 for r in rows)
    _common.result("mailings", passed=passed, **results)


if __name__ == "__main__":
    main()
