"""Benchmark: one Constant Contact sync run against the sandbox, for three list sizes.

For (M list members, P of them voted) = (10,000, 50), (10,000, 5,000), (100,000, 100,000):
seed the sandbox list with M contacts and eo_cc's outbox (cc_removals) with the P voters'
emails, exactly as cast_ballot leaves them; run `eo_cc.sync.run_sync` once with a real
token issued by the sandbox; print

- API requests against the optimum min(P, ceil(M/500)) + ceil(P/500) plus activity polls
  (target: requests <= 1.1 x optimum + polls),
- 429s the sandbox answered (target 0),
- wall time against the floor requests / CC_REQUESTS_PER_SECOND (target <= 1.1 x floor),
- peak memory of the process that runs the sync (it only runs the sync: seeding happens
  in the parent),
- and that the list then holds exactly the M - P members who did not vote.

The voters are spread evenly through the list, so paging cannot stop early. The sandbox
runs in its own process (CC's limits: 4 requests/s, 10,000/day) with the activity
completion delay set by --activity-delay (default 0 s: a removal is complete when next
polled; CC takes seconds to minutes, which would only add polls and sleeps, not requests
that depend on M or P).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common
import requests

CASES = [(10_000, 50), (10_000, 5_000), (100_000, 100_000)]
RATE = 4   # CC_REQUESTS_PER_SECOND, CC's documented limit


def member_emails(m):
    return [f"member{n:06d}@example.org" for n in range(m)]


def voters_spread(emails, p):
    """p emails spread evenly over the list, the last one near its end."""
    step = len(emails) / p
    return [emails[min(len(emails) - 1, int((i + 1) * step) - 1)] for i in range(p)]


def optimum(m, p):
    return min(p, math.ceil(m / 500)) + math.ceil(p / 500)


def seed_eo_cc(db, list_id, token, voted):
    """An admin connected to the sandbox, an election using the list, P queued removals."""
    from eo_cc import clock
    from eo_cc.cc.tokens import save_token
    from tests.factories import make_election, organisation_of

    admin_id = _common.cheap_admin(db)
    save_token(db, _common.SECRET_KEY, organisation_of(db, admin_id), token)
    election_id = make_election(db, admin_id, cc_list_id=list_id, cc_list_name="Members")
    at = clock.iso()
    db["cc_removals"].insert_all(
        ({"election_id": election_id, "email": email, "queued_at": at, "updated_at": at}
         for email in voted), batch_size=5000)
    return election_id


def run_case(m, p, workdir, activity_delay):
    workdir.mkdir()
    emails = member_emails(m)
    voted = voters_spread(emails, p)
    sandbox_db = workdir / "sandbox.sqlite"
    account_id, list_id = _common.seed_sandbox(sandbox_db, "Members", emails)
    token = _common.sandbox_token(sandbox_db, account_id)
    db = _common.eo_cc_database(workdir / "eo_cc.sqlite")
    election_id = seed_eo_cc(db, list_id, token, voted)
    del emails, voted
    with _common.SandboxProcess(sandbox_db, requests_per_second=RATE, daily_quota=10_000,
                                activity_delay=activity_delay) as sandbox:
        config = {"SECRET_KEY": _common.SECRET_KEY, "DATABASE": str(workdir / "eo_cc.sqlite"),
                  "CC_REQUESTS_PER_SECOND": RATE, "CC_DAILY_REQUEST_BUDGET": 10_000,
                  **sandbox.cc_config()}
        run = run_in_child(config, workdir)
        stats = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=10).json()
        left = requests.get(f"{sandbox.url}/_sandbox/lists/{list_id}/members.json",
                            timeout=60).json()["member_count"]
    states = dict(db.execute("SELECT state, count(*) FROM cc_removals WHERE election_id = ? "
                             "GROUP BY state", [election_id]).fetchall())
    db.close()
    return figures(m, p, run, stats, left, states)


def run_in_child(config, workdir):
    """One run_sync in a fresh process, so its peak memory is the sync's alone."""
    done = subprocess.run([sys.executable, __file__, "--child", json.dumps(config)],
                          capture_output=True, text=True, timeout=600, cwd=str(_common.ROOT))
    if done.returncode != 0:
        raise RuntimeError(f"the sync process failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def rss_mib(field="VmRSS"):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def record_sends(sends):
    """Note when every request leaves the client (after the pacer), to check its spacing."""
    original = requests.Session.request

    def request(self, method, url, *args, **kwargs):
        if "/v3/" in str(url):
            sends.append(time.monotonic())
        return original(self, method, url, *args, **kwargs)

    requests.Session.request = request


def closest_window(sends, size=5):
    """The shortest time any `size` consecutive requests took to leave (CC allows 4 a second)."""
    gaps = [sends[i + size - 1] - sends[i] for i in range(len(sends) - size + 1)]
    return min(gaps) if gaps else None


def child(config_json):
    """The child: import, note the memory, run the sync once, print wall time and memory."""
    from eo_cc.cc.sync import run_sync
    from eo_cc.db import connect

    config = json.loads(config_json)
    db = connect(config["DATABASE"])
    lines, sends = [], []
    record_sends(sends)
    before = rss_mib()
    started = time.perf_counter()
    outcome = run_sync(db, config, echo=lines.append,
                       lock_path=str(Path(config["DATABASE"]).with_name("cc_sync.lock")))
    wall = time.perf_counter() - started
    print(json.dumps({"wall": wall, "requests": outcome.requests, "exit_code": outcome.exit_code,
                      "rss_before_mib": before, "peak_rss_mib": rss_mib("VmHWM"),
                      "message": outcome.message, "closest_5": closest_window(sends),
                      "load": os.getloadavg()[0]}))


def figures(m, p, run, stats, left, states):
    by_endpoint = stats["requests"]
    polls = sum(n for endpoint, n in by_endpoint.items() if endpoint.startswith("GET /v3/activities/"))
    api_requests = sum(n for endpoint, n in by_endpoint.items() if " /v3/" in endpoint)
    best = optimum(m, p)
    floor = api_requests / RATE
    wall = run["wall"]
    return {
        "M": m, "P": p, "requests": api_requests, "eo_cc_counted": run["requests"],
        "optimum": best, "polls": polls, "request_limit": round(1.1 * best + polls, 1),
        "by_endpoint": by_endpoint, "throttled": stats["throttled"],
        "rate_limited": stats["rate_limited"], "wall_s": round(wall, 2), "floor_s": round(floor, 2),
        "wall_ratio": round(wall / floor, 3) if floor else None,
        "peak_rss_mib": round(run["peak_rss_mib"], 1),
        "rss_before_mib": round(run["rss_before_mib"], 1), "left_on_list": left, "expected_left": m - p,
        "states": states, "exit_code": run["exit_code"],
        "closest_5_s": round(run["closest_5"], 3) if run["closest_5"] else None,
        "load": round(run["load"], 1), "message": run["message"], "forbidden": len(stats["forbidden_calls"]),
    }


def verdict(row):
    return {
        "requests": row["requests"] <= row["request_limit"],
        "wall": row["wall_ratio"] is not None and row["wall_ratio"] <= 1.1,
        "throttled": row["rate_limited"] == 0,
        "list": row["left_on_list"] == row["expected_left"] and row["forbidden"] == 0,
    }


def report(row):
    ok = verdict(row)
    mark = {True: "ok", False: "MISSED"}
    print(f"\nM = {row['M']:,} list members, P = {row['P']:,} voted")
    print(f"  API requests     {row['requests']:>7}  (eo_cc counted {row['eo_cc_counted']}); optimum "
          f"{row['optimum']} + {row['polls']} activity polls; target <= {row['request_limit']}"
          f"  [{mark[ok['requests']]}]")
    for endpoint, n in sorted(row["by_endpoint"].items()):
        print(f"      {n:>6}  {endpoint}")
    print(f"  429s provoked    {row['rate_limited']:>7}  target 0  [{mark[ok['throttled']]}]; "
          f"the closest 5 consecutive requests left eo_cc {row['closest_5_s']} s apart "
          f"(> 1 s: paced within 4/s); load average {row['load']}")
    print(f"  wall time        {row['wall_s']:>7.2f} s  floor {row['floor_s']:.2f} s "
          f"(requests / {RATE} per s); ratio {row['wall_ratio']}, target <= 1.1  [{mark[ok['wall']]}]")
    print(f"  peak memory      {row['peak_rss_mib']:>7.1f} MiB peak RSS of the sync process "
          f"({row['rss_before_mib']:.1f} MiB before the run: interpreter and imports)")
    print(f"  list afterwards  {row['left_on_list']:>7,} members, expected {row['expected_left']:,}; "
          f"outbox {row['states']}; exit code {row['exit_code']}; forbidden calls "
          f"{row['forbidden']}  [{mark[ok['list']]}]")
    print(f"  eo_cc said       {row['message']}")
    return all(ok.values())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activity-delay", type=float, default=0.0,
                        help="seconds the sandbox takes to complete a removal activity (default 0)")
    parser.add_argument("--cases", default=",".join(f"{m}x{p}" for m, p in CASES),
                        help="M x P cases, e.g. 10000x50,10000x5000")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    cases = [tuple(int(n) for n in case.split("x")) for case in args.cases.split(",")]
    print(f"Sync benchmark: sandbox at {RATE} requests/s, activity completion delay "
          f"{args.activity_delay} s")
    rows, passed = [], True
    with tempfile.TemporaryDirectory(prefix="eo_cc_bench_sync_") as tmp:
        for n, (m, p) in enumerate(cases):
            row = run_case(m, p, Path(tmp) / f"case{n}", args.activity_delay)
            passed = report(row) and passed
            rows.append(row)
    for row in rows:
        if (row["M"], row["P"]) == (10_000, 5_000):
            print(f"\nFor issue 4: 10,000 voters, 5,000 voted, 10,000-member list: one sync made "
                  f"{row['requests']} API requests in {row['wall_s']:.1f} s at {RATE} requests/s.")
    _common.result("sync", passed=passed, activity_delay=args.activity_delay,
                   cases=[{k: v for k, v in row.items() if k != "by_endpoint"} for row in rows])


if __name__ == "__main__":
    main()
