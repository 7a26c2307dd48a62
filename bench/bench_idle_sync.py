"""Benchmark: the hourly sync with nothing queued makes 0 Constant Contact requests, in under a second.

The eo_cc database has an admin connected to the sandbox and an election using a list, whose
100,000 voters' removals are all settled already ('done', as after earlier runs). One
`run_sync` must send no request (counted by eo_cc and by the sandbox) and finish in under a
second. Baseline: the same run_sync over an empty database (no elections at all), the least
a run can cost; the ratio is idle run time / baseline time.
"""
import tempfile
import time
from pathlib import Path

import _common
import requests

DONE = 100_000
REPEAT = 5


def timed_runs(db, config, lock_path):
    """The best of REPEAT runs (seconds) and the requests the last one counted."""
    from eo_cc.cc.sync import run_sync

    best, outcome = None, None
    for _ in range(REPEAT):
        started = time.perf_counter()
        outcome = run_sync(db, config, echo=lambda line: None, lock_path=lock_path)
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    return best, outcome


def seed_settled(db, list_id, token):
    from eo_cc import clock
    from eo_cc.cc.tokens import save_token
    from tests.factories import make_election, organisation_of

    admin_id = _common.cheap_admin(db)
    save_token(db, _common.SECRET_KEY, organisation_of(db, admin_id), token)
    election_id = make_election(db, admin_id, cc_list_id=list_id, cc_list_name="Members")
    at = clock.iso()
    db["cc_removals"].insert_all(
        ({"election_id": election_id, "email": f"member{n:06d}@example.org", "state": "done",
          "list_id": list_id, "contact_id": f"c{n}", "queued_at": at, "updated_at": at}
         for n in range(DONE)), batch_size=5000)


def main():
    with tempfile.TemporaryDirectory(prefix="eo_cc_bench_idle_") as tmp:
        tmp = Path(tmp)
        sandbox_db = tmp / "sandbox.sqlite"
        account_id, list_id = _common.seed_sandbox(sandbox_db, "Members", ["someone@example.org"])
        token = _common.sandbox_token(sandbox_db, account_id)
        empty = _common.eo_cc_database(tmp / "empty.sqlite")
        db = _common.eo_cc_database(tmp / "eo_cc.sqlite")
        seed_settled(db, list_id, token)
        with _common.SandboxProcess(sandbox_db, requests_per_second=4) as sandbox:
            config = {"SECRET_KEY": _common.SECRET_KEY, "DATABASE": str(tmp / "eo_cc.sqlite"),
                      "CC_REQUESTS_PER_SECOND": 4, **sandbox.cc_config()}
            baseline, _ = timed_runs(empty, {**config, "DATABASE": str(tmp / "empty.sqlite")},
                                     str(tmp / "empty.lock"))
            idle, outcome = timed_runs(db, config, str(tmp / "cc_sync.lock"))
            sandbox_requests = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=10).json()[
                "total_requests"]
        db.close()
        empty.close()
    ratio = idle / baseline if baseline else float("nan")
    passed = outcome.requests == 0 and sandbox_requests == 0 and idle < 1.0
    print(f"Idle sync benchmark: {DONE:,} settled removals, nothing queued; best of {REPEAT} runs")
    print(f"  baseline (empty database)  {1000 * baseline:8.2f} ms")
    print(f"  idle run                   {1000 * idle:8.2f} ms  target < 1000 ms; ratio {ratio:.2f}")
    print(f"  requests: eo_cc counted {outcome.requests}, the sandbox saw {sandbox_requests} "
          f"(target 0); \"{outcome.message}\"  [{'ok' if passed else 'MISSED'}]")
    _common.result("idle_sync", passed=passed, idle_ms=round(1000 * idle, 2),
                   baseline_ms=round(1000 * baseline, 2), ratio=round(ratio, 2),
                   requests=outcome.requests, sandbox_requests=sandbox_requests)


if __name__ == "__main__":
    main()
