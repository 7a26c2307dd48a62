"""Run every benchmark (`make bench`) and print a summary of the figures against their targets.

Each benchmark runs as its own process with a time limit; together they stay under 10 minutes
on a 2-core machine. Exit status 0 when every target was met, 1 otherwise.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import _common

HERE = Path(__file__).resolve().parent
BENCHMARKS = [  # (script, time limit in seconds)
    ("bench_idle_sync.py", 60),
    ("bench_roster.py", 120),
    ("bench_ballots.py", 240),
    ("bench_sync.py", 420),
    ("bench_mailings.py", 240),
    ("bench_counting.py", 60),
]


def run(script, limit):
    """Run one benchmark, echoing its output; returns its RESULT dict (or a failure)."""
    print(f"\n=== {script} " + "=" * (60 - len(script)), flush=True)
    found = {"bench": script, "passed": False, "error": "no RESULT line"}
    process = subprocess.Popen([sys.executable, str(HERE / script)], cwd=str(_common.ROOT),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + limit
    try:
        for line in process.stdout:
            if line.startswith("RESULT "):
                found = json.loads(line[len("RESULT "):])
            else:
                print(line, end="", flush=True)
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(script, limit)
        process.wait(timeout=max(1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        found = {"bench": script, "passed": False, "error": f"over its {limit} s limit"}
    if process.returncode not in (0, None) and "error" not in found:
        found = {**found, "passed": False, "error": f"exit status {process.returncode}"}
    return found


def summary_lines(results):
    """One line per figure with its target, for the terminal and for BENCHMARKS.md."""
    lines = []
    for r in results:
        mark = "met" if r.get("passed") else "MISSED"
        if "error" in r:
            lines.append(f"- {r['bench']}: FAILED ({r['error']})")
        elif r["bench"] == "ballots":
            lines.append(f"- Ballots: {r['ballots_per_s']} ballots/s vs baseline {r['baseline_per_s']} "
                         f"inserts/s, ratio {r['ratio']} (target >= 0.5), p50 {r['p50_ms']} ms, "
                         f"p95 {r['p95_ms']} ms, errors {r['errors']} (target 0): {mark}; per HTTP "
                         f"request {r['request_ratio']} ({r['http_per_ballot']:.0f} requests a ballot), "
                         f"server CPU {r['server_cpu_ms_per_ballot']} ms a ballot vs "
                         f"{r['server_cpu_ms_per_insert']} ms an insert")
        elif r["bench"] == "sync":
            for c in r["cases"]:
                lines.append(
                    f"- Sync M={c['M']:,} P={c['P']:,}: {c['requests']} requests (optimum "
                    f"{c['optimum']} + {c['polls']} polls, target <= {c['request_limit']}), "
                    f"{c['rate_limited']} 429s, {c['wall_s']} s vs floor {c['floor_s']} s "
                    f"(ratio {c['wall_ratio']}, target <= 1.1), peak RSS {c['peak_rss_mib']} MiB, "
                    f"{c['left_on_list']:,} left on the list (expected {c['expected_left']:,})")
            lines.append(f"  (sync overall: {mark}; sandbox activity delay {r['activity_delay']} s)")
        elif r["bench"] == "roster":
            lines.append(f"- Roster {r['rows']:,} rows: eo_cc {r['eo_cc_s']} s (parse {r['parse_s']} s) "
                         f"vs insert_all {r['baseline_s']} s, ratio {r['ratio']}; peak RSS "
                         f"{r['eo_cc_peak_rss_mib']} MiB vs {r['baseline_peak_rss_mib']} MiB: {mark}")
        elif r["bench"] == "mailings":
            for scenario in ("A", "B", "C"):
                for row in r.get(scenario, {}).get("rows", []):
                    lines.append(f"- Mailings {scenario}, {row['step']}: {row['requests']} requests "
                                 f"({row['polls']} polls), optimum {row['optimum']} + polls, "
                                 f"{row['throttled']} 429s, {row['wall_s']} s")
            lines.append(f"  (mailings overall: {mark})")
        elif r["bench"] == "counting":
            theirs = r["pref_voting_irv_s"]
            lines.append(f"- Counting {r['ballots']:,} ranked ballots, {r['candidates']} candidates: read "
                         f"{r['read_s']} s, STV 3 seats {r['stv_s']} s, instant-runoff {r['irv_s']} s vs one "
                         f"pass of first preferences {r['floor_s']} s"
                         + (f", pref_voting instant_runoff {theirs} s" if theirs is not None else "")
                         + f" (target read + STV < 2 s): {mark}")
        elif r["bench"] == "idle_sync":
            lines.append(f"- Idle sync: {r['requests']} requests (sandbox saw {r['sandbox_requests']}), "
                         f"{r['idle_ms']} ms vs empty-database run {r['baseline_ms']} ms "
                         f"(target 0 requests, < 1 s): {mark}")
    return lines


def main():
    info = _common.machine()
    started = time.monotonic()
    print(f"eo_cc benchmarks on {info['nproc']} CPUs ({info['cpu']}), Python {info['python']}, "
          f"load average {os.getloadavg()[0]:.1f}")
    results = [run(script, limit) for script, limit in BENCHMARKS]
    total = time.monotonic() - started
    print("\n=== summary " + "=" * 50)
    print(f"machine: nproc {info['nproc']}, {info['cpu']}, Python {info['python']}; "
          f"total {total:.0f} s; load average at the end {os.getloadavg()[0]:.1f}")
    for line in summary_lines(results):
        print(line)
    sys.exit(0 if all(r.get("passed") for r in results) else 1)


if __name__ == "__main__":
    main()
