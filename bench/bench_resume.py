"""Benchmark: the requests a sync spends when things go wrong, with list scans that resume.

A 10,000-member sandbox list, 5,000 voters who voted (spread evenly, so paging cannot stop
early). Three scenarios, each on a fresh sandbox and database, each run in a child process:

- clean: no fault, every activity completes; one run (bench_sync.py's 10,000 x 5,000 case);
- resume (eo_cc as it is): 20 % of /v3 requests faulted (5 % each of 500, 503, 429 and
  dropped connections), the first removal activity fails and the second times out, every
  access token expires after the first kill, and three runs are killed (SIGKILL) just after
  the k-th API answer of the scenario, for three k drawn from [1, 40] by a seeded RNG; then
  runs until the list is exactly right;
- restart (the baseline): the same, with a list scan that always starts again at page 1.

Prints total /v3 requests (every request CC saw, faulted ones included) and those that got a
real answer, each against the clean run, and the goal total <= 1.3 x clean. The faults are a
share of every request, so even a perfect client pays about 1 / (1 - 0.2) = 1.25 x the clean
run for them, plus what the kills, the failed activities and the token expiry cost.
"""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import _common
import bench_sync
import requests

M, P = 10_000, 5_000
RATE = 4
FAULTS = {"error_500": 0.05, "error_503": 0.05, "throttled": 0.05, "drop": 0.05}
KILLS = 3
MAX_RUNS = 25


def activity_outcome(sandbox_url):
    """The first removal activity fails, the second times out, the rest complete."""
    made = sum(requests.get(f"{sandbox_url}/_sandbox/stats", timeout=30).json()["activities"].values())
    return {0: "failed", 1: "timed_out"}.get(made, "completed"), made


def set_faults(sandbox_url, faults, seed, **extra):
    outcome, _ = activity_outcome(sandbox_url)
    settings = {**faults, "activity_outcome": outcome, **extra}
    if faults:
        settings["seed"] = seed   # the same seed all along: the sandbox's faults go on where they were
    requests.post(f"{sandbox_url}/_sandbox/faults", json=settings, timeout=30).raise_for_status()


def scenario(name, workdir, faults, kills, seed, restart_scans):
    workdir.mkdir()
    emails = bench_sync.member_emails(M)
    voted = bench_sync.voters_spread(emails, P)
    sandbox_db = workdir / "sandbox.sqlite"
    account_id, list_id = _common.seed_sandbox(sandbox_db, "Members", emails)
    token = _common.sandbox_token(sandbox_db, account_id)
    db = _common.eo_cc_database(workdir / "eo_cc.sqlite")
    election_id = bench_sync.seed_eo_cc(db, list_id, token, voted)
    runs = []
    with _common.SandboxProcess(sandbox_db, requests_per_second=RATE, daily_quota=10_000,
                                activity_delay=0) as sandbox:
        config = {"SECRET_KEY": _common.SECRET_KEY, "DATABASE": str(workdir / "eo_cc.sqlite"),
                  "CC_REQUESTS_PER_SECOND": RATE, "CC_DAILY_REQUEST_BUDGET": 10_000,
                  **sandbox.cc_config()}
        kills_left, answered, expired = list(kills), 0, False
        for n in range(MAX_RUNS):
            kill_at = kills_left[0] - answered if kills_left else 0
            if kills and len(kills_left) < len(kills) and not expired:   # after the first kill
                set_faults(sandbox.url, faults, seed, expire_tokens=True)
                expired = True
            elif faults:
                set_faults(sandbox.url, faults, seed)
            run = run_child(config, sandbox.url, faults, seed, kill_at, restart_scans)
            runs.append(run)
            answered += run.get("killed_at") or run["answers"]
            if "killed_at" in run:
                kills_left.pop(0)
            waiting = db.execute("SELECT count(*) FROM cc_removals WHERE election_id = ? "
                                 "AND state IN ('queued', 'submitted')", [election_id]).fetchone()[0]
            if "killed_at" not in run and waiting == 0:
                break
        stats = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=30).json()
        left = requests.get(f"{sandbox.url}/_sandbox/lists/{list_id}/members.json",
                            timeout=60).json()["member_count"]
    states = dict(db.execute("SELECT state, count(*) FROM cc_removals GROUP BY state").fetchall())
    db.close()
    return figures(name, runs, stats, left, states)


def run_child(config, sandbox_url, faults, seed, kill_at, restart_scans):
    args = {"config": config, "sandbox": sandbox_url, "faults": faults, "seed": seed,
            "kill_at": kill_at, "restart_scans": restart_scans}
    done = subprocess.run([sys.executable, __file__, "--child", json.dumps(args)],
                          capture_output=True, text=True, timeout=900, cwd=str(_common.ROOT))
    if kill_at and done.returncode == -signal.SIGKILL:
        return {"killed_at": kill_at}
    if done.returncode != 0:
        raise RuntimeError(f"the sync process failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child(args_json):
    """One run_sync; killed with SIGKILL right after its kill_at-th API answer, if given."""
    from eo_cc import DEFAULTS
    from eo_cc.cc import scans
    from eo_cc.cc.sync import run_sync
    from eo_cc.db import connect

    args = json.loads(args_json)
    config = {**DEFAULTS, **args["config"]}
    if args["restart_scans"]:   # the baseline: every scan starts at page 1
        scans.open_scan = lambda db, list_id, max_age: scans.start(db, list_id)
    answers = {"n": 0, "activities": 0}
    original = requests.Session.request

    def request(self, method, url, *rest, **kwargs):
        response = original(self, method, url, *rest, **kwargs)
        if "/v3/" in str(url):
            answers["n"] += 1
            if answers["n"] == args["kill_at"]:
                os.kill(os.getpid(), signal.SIGKILL)
            if (args["faults"] and response.status_code == 201 and answers["activities"] < 2
                    and str(url).endswith("/remove_list_memberships")):   # the next activity's outcome
                answers["activities"] += 1
                set_faults(args["sandbox"], args["faults"], args["seed"])
        return response

    requests.Session.request = request
    db = connect(config["DATABASE"])
    outcome = run_sync(db, config, echo=lambda line: None,
                       lock_path=str(Path(config["DATABASE"]).with_name("cc_sync.lock")))
    print(json.dumps({"requests": outcome.requests, "exit_code": outcome.exit_code, "answers": answers["n"],
                      "message": outcome.message}))


def figures(name, runs, stats, left, states):
    by_endpoint = {k: v for k, v in stats["requests"].items() if " /v3/" in k}
    total = sum(by_endpoint.values())
    faulted = sum(n for key, n in stats["responses"].items()   # 500s include dropped connections
                  if " /v3/" in key and key.rsplit(" ", 1)[1] in ("429", "500", "503"))
    return {"name": name, "requests": total, "by_endpoint": by_endpoint, "runs": len(runs),
            "kills": sum(1 for run in runs if "killed_at" in run),
            "kill_points": [run["killed_at"] for run in runs if "killed_at" in run],
            "faulted": faulted, "errors": stats["errors"],
            "left_on_list": left, "expected_left": M - P, "states": states,
            "forbidden": len(stats["forbidden_calls"])}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1, help="faults and kill points (default 1)")
    parser.add_argument("--skip-restart", action="store_true", help="leave out the baseline scenario")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    rng = random.Random(args.seed)
    kills = sorted(rng.sample(range(1, 41), KILLS))   # after these answers of the whole scenario
    print(f"Resume benchmark: M = {M:,} list members, P = {P:,} voted, {RATE} requests/s; faults "
          f"{FAULTS} (seed {args.seed}); kills after answers {kills} (counted over all runs)")
    with tempfile.TemporaryDirectory(prefix="eo_cc_bench_resume_") as tmp:
        clean = scenario("clean", Path(tmp) / "clean", {}, [], args.seed, False)
        resume = scenario("resume", Path(tmp) / "resume", FAULTS, kills, args.seed, False)
        restart = (None if args.skip_restart else
                   scenario("restart", Path(tmp) / "restart", FAULTS, kills, args.seed, True))
    passed = report(clean, resume, restart)
    _common.result("resume", passed=passed, seed=args.seed, kill_points=kills, clean=clean["requests"],
                   optimum=bench_sync.optimum(M, P), resume=resume["requests"],
                   restart=restart and restart["requests"],
                   ratio=round(resume["requests"] / clean["requests"], 3),
                   answered_ratio=round((resume["requests"] - resume["faulted"]) / clean["requests"], 3),
                   restart_ratio=restart and round(restart["requests"] / clean["requests"], 3))


def report(clean, resume, restart):
    ok = True
    print(f"\nclean run: {clean['requests']} API requests (bench_sync.py's optimum "
          f"{bench_sync.optimum(M, P)} + activity polls and the list size)")
    for row in filter(None, (resume, restart)):
        exact = (row["left_on_list"] == row["expected_left"] and row["forbidden"] == 0
                 and set(row["states"]) == {"done"})
        ratio = row["requests"] / clean["requests"]
        answered = row["requests"] - row["faulted"]
        print(f"\n{row['name']}: {row['runs']} runs ({row['kills']} killed, after answers "
              f"{row['kill_points']}); list afterwards {row['left_on_list']:,} members, expected "
              f"{row['expected_left']:,}; outbox {row['states']}  [{'ok' if exact else 'WRONG'}]")
        print(f"  API requests  {row['requests']:>5}  = {ratio:.2f} x the clean run "
              f"({clean['requests']}); goal <= 1.3 x")
        print(f"  answered      {answered:>5}  = {answered / clean['requests']:.2f} x "
              f"({row['faulted']} were faulted: {row['faulted'] / row['requests']:.0%} of all requests)")
        for endpoint, n in sorted(row["by_endpoint"].items()):
            print(f"      {n:>5}  {endpoint}")
        print(f"  errors the sandbox noted: {row['errors']}")
        ok = ok and exact
    print(f"\nResumed scans: {resume['requests']} requests = "
          f"{resume['requests'] / clean['requests']:.2f} x the fault-free {clean['requests']}"
          + (f"; restarting from page 1: {restart['requests']} = "
             f"{restart['requests'] / clean['requests']:.2f} x." if restart else "."))
    return ok and resume["requests"] <= 1.3 * clean["requests"]


if __name__ == "__main__":
    main()
