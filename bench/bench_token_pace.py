"""Benchmark: one hourly run over 200 connections whose access tokens have expired.

N organisations (default 200, --connections) each have their own Constant Contact account in
the sandbox, a connection whose access token has expired, and an election whose list has
--voted voters waiting to be removed. One `run_sync` must refresh every token (CC's token
endpoint takes one request a second for the whole API key) and sync every election. Prints

- voters removed against those waiting (target: all),
- token requests (target: N, one refresh each), the shortest gap between two of them at the
  sandbox (target >= 1 s), refresh tokens spent twice and 429s (targets 0),
- the run's wall time beside its floor: max(token requests / 1 per s, v3 requests / 4 per s),
  with the ratio.

The sandbox runs in its own process at CC's limits (4 requests/s, 1 token request/s). Seeding
takes a few seconds; the run itself several minutes, so this is not part of run_all.py.
"""
import argparse
import tempfile
import time
from pathlib import Path

import _common
import requests

RATE = 4          # CC_REQUESTS_PER_SECOND
TOKEN_RATE = 1    # CC_TOKEN_REQUESTS_PER_SECOND
MEMBERS = 5       # per list


def seed_sandbox(db_path, connections):
    """N accounts with one list each (our client app once); returns [(account id, list id)]."""
    from cc_sandbox import store

    db = store.open_db(db_path)
    seeded = []
    try:
        for n in range(connections):
            spec = {"account": {"email": f"owner{n}@example.org", "name": f"Association {n}"},
                    "lists": [{"name": "Members", "emails": member_emails(n)}]}
            if n == 0:
                spec["client"] = {"client_id": _common.SANDBOX_CLIENT[0],
                                  "client_secret": _common.SANDBOX_CLIENT[1],
                                  "redirect_uris": [_common.REDIRECT_URI]}
            made = store.seed(db, spec)
            seeded.append((made["account_id"], made["lists"][0]["list_id"]))
    finally:
        db.close()
    return seeded


def member_emails(n):
    return [f"member{k}@association{n}.example.org" for k in range(MEMBERS)]


def seed_eo_cc(db, sandbox_db, seeded, voted):
    """One admin, organisation, expired connection and election with queued removals per account."""
    from eo_cc import clock
    from eo_cc.cc.tokens import save_token
    from tests.factories import make_election, organisation_of

    at = clock.iso()
    for n, (account_id, list_id) in enumerate(seeded):
        admin_id = _common.cheap_admin(db, email=f"admin{n}@example.org")
        token = _common.sandbox_token(sandbox_db, account_id)
        token.pop("expires_in")
        token["expires_at"] = int(time.time()) - 60   # expired: the run must refresh it first
        save_token(db, _common.SECRET_KEY, organisation_of(db, admin_id), token)
        election_id = make_election(db, admin_id, title=f"Election {n}", cc_list_id=list_id,
                                    cc_list_name="Members")
        db["cc_removals"].insert_all(
            {"election_id": election_id, "email": email, "queued_at": at, "updated_at": at}
            for email in member_emails(n)[:voted])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--voted", type=int, default=1, help="voters waiting per election")
    parser.add_argument("--activity-delay", type=float, default=0.5)
    options = parser.parse_args()
    from eo_cc.cc.sync import run_sync

    with tempfile.TemporaryDirectory(prefix="eo_cc_bench_tokens_") as folder:
        workdir = Path(folder)
        sandbox_db = workdir / "sandbox.sqlite"
        seeded = seed_sandbox(sandbox_db, options.connections)
        db = _common.eo_cc_database(workdir / "eo_cc.sqlite")
        seed_eo_cc(db, sandbox_db, seeded, options.voted)
        with _common.SandboxProcess(sandbox_db, requests_per_second=RATE, daily_quota=10_000,
                                    token_requests_per_second=TOKEN_RATE,
                                    activity_delay=options.activity_delay) as sandbox:
            config = {"SECRET_KEY": _common.SECRET_KEY, "DATABASE": str(workdir / "eo_cc.sqlite"),
                      "CC_REQUESTS_PER_SECOND": RATE, "CC_TOKEN_REQUESTS_PER_SECOND": TOKEN_RATE,
                      "CC_DAILY_REQUEST_BUDGET": 10_000, "CC_SYNC_POLL_SECONDS": 120,
                      **sandbox.cc_config()}
            started = time.perf_counter()
            run = run_sync(db, config, echo=lambda line: None, lock_path=str(workdir / "cc_sync.lock"))
            seconds = time.perf_counter() - started
            stats = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=30).json()
        removed = db.execute("SELECT count(*) FROM cc_removals WHERE state = 'done'").fetchone()[0]
        db.close()
    report(options, run, seconds, stats, removed)


def report(options, run, seconds, stats, removed):
    entries = stats["token_requests"]
    arrivals = [entry["epoch"] for entry in entries]
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:])]
    v3 = sum(n for endpoint, n in stats["requests"].items() if endpoint.split(" ")[1].startswith("/v3"))
    token_floor, v3_floor = len(entries) / TOKEN_RATE, v3 / RATE
    floor = max(token_floor, v3_floor)
    spent_twice = sum(1 for entry in entries if entry.get("refresh_token_spent"))
    refused = sum(1 for entry in entries if entry["status"] != 200)
    waiting = options.connections * options.voted
    print(f"{options.connections} connections with expired access tokens, {waiting} voters waiting; "
          f"sandbox at {RATE} requests/s and {TOKEN_RATE} token request/s "
          f"(activity delay {options.activity_delay} s)")
    print(f"  removed:          {removed} of {waiting} (run exit code {run.exit_code})")
    print(f"  token requests:   {len(entries)} ({refused} refused), shortest gap "
          f"{min(gaps):.3f} s" if gaps else f"  token requests:   {len(entries)}")
    print(f"  refresh tokens spent twice: {spent_twice}; v3 429s: {stats['throttled']}")
    print(f"  v3 requests:      {v3}")
    print(f"  run time:         {seconds:.1f} s; floor {floor:.1f} s (token floor {token_floor:.1f} s, "
          f"v3 floor {v3_floor:.1f} s); ratio {seconds / floor:.2f}")
    _common.result("token_pace", connections=options.connections, removed=removed, waiting=waiting,
                   token_requests=len(entries), token_refused=refused,
                   min_token_gap_s=round(min(gaps), 3) if gaps else None,
                   refresh_tokens_spent_twice=spent_twice, throttled=stats["throttled"],
                   v3_requests=v3, seconds=round(seconds, 1), floor_s=round(floor, 1),
                   ratio=round(seconds / floor, 2), exit_code=run.exit_code)


if __name__ == "__main__":
    main()
