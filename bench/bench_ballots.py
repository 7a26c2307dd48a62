"""Benchmark: 50 concurrent voters signing in and casting ballots on eo_cc under gunicorn.

eo_cc runs as the README recommends (`gunicorn --workers 4 'eo_cc:create_app()'`) on a
temporary instance folder with an open election of --voters voters (two questions, one of
them multiple choice). 50 threads, each with its own requests.Session, take voters from a
queue and for each one: GET the election page (CSRF token), POST Voter ID and password
(redirect to the ballot), POST the selections with the ballot's CSRF token (redirect to
the one-time receipt). A ballot counts when the receipt page says "Thank you for voting".

The baseline is bench/baseline_app.py under the same gunicorn settings: one POST inserting
one row into SQLite per request, from the same 50 threads. Printed: ballots/s, p50/p95
latency (whole voter and per step), errors, and ballots/s / baseline inserts/s
(target >= 0.5, 0 errors); also CPU per ballot (server and client) and the ratio per HTTP
request, since a ballot takes 5 requests and a baseline insert 1.
"""
import argparse
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import _common
import requests

THREADS = 50
GUNICORN = [sys.executable, "-m", "gunicorn", "--workers", "4"]
SERVER_LIFETIME = 300            # backstop: every server we start is gone after this
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                  r'name="csrf_token" value="([^"]+)"|value="([^"]+)" name="csrf_token"')
CHOICE = re.compile(r'name="(q\d+)" value="(\d+)"')
TIMEOUT = 30


# --- servers ----------------------------------------------------------------------------

class Gunicorn:
    """gunicorn on 127.0.0.1:<free port>, stopped by stop() or, failing that, by `timeout`."""

    def __init__(self, app_spec, env, cwd):
        self.port = _common.free_port()
        command = ["timeout", "--signal=TERM", str(SERVER_LIFETIME), *GUNICORN,
                   "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning", app_spec]
        self.process = subprocess.Popen(command, env={**os.environ, **env}, cwd=cwd,
                                        start_new_session=True)
        _common.wait_for_port(self.port, 30, self.process)
        self.url = f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self):
        """CPU time used so far by every process of this server (its own process group)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.process.pid:          # pgrp: the session we started
                total += int(fields[11]) + int(fields[12])  # utime + stime
        return total / ticks

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)   # our own process group only
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def seed_site(instance, voters):
    """An open election with `voters` voters (Voter ID V0001.., password pw-1..); its slug."""
    from eo_cc.db import one
    from tests.factories import make_election, make_voters

    db = _common.eo_cc_database(instance / "eo_cc.sqlite")
    admin_id = _common.cheap_admin(db)
    election_id = make_election(db, admin_id, title="Bench election")
    make_voters(db, election_id, count=voters, secret_key=_common.SECRET_KEY)
    slug = one(db, "SELECT slug FROM elections WHERE id = ?", [election_id])["slug"]
    db.close()
    return slug


def site_env(instance):
    return {"EO_CC_INSTANCE_PATH": str(instance), "FLASK_SECRET_KEY": _common.SECRET_KEY,
            "FLASK_MAIL_BACKEND": "file"}


# --- the load ---------------------------------------------------------------------------

class Tally:
    """Latencies and errors from every thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.done = []          # seconds per completed unit (ballot, or baseline insert)
        self.steps = {}         # step name -> [seconds]
        self.errors = []

    def add(self, seconds, steps=None):
        with self.lock:
            self.done.append(seconds)
            for name, value in (steps or {}).items():
                self.steps.setdefault(name, []).append(value)

    def merge(self, other):
        self.done += other.done
        self.errors += other.errors
        for name, values in other.steps.items():
            self.steps.setdefault(name, []).extend(values)
        self.server_cpu = getattr(self, "server_cpu", 0) + other.server_cpu
        self.client_cpu = getattr(self, "client_cpu", 0) + other.client_cpu

    def error(self, text):
        with self.lock:
            self.errors.append(text)


def csrf_token(html):
    found = CSRF.search(html)
    if not found:
        raise ValueError("no csrf_token on the page")
    return next(group for group in found.groups() if group)


def cast_one(session, base, slug, number):
    """One voter from the election page to the receipt; returns seconds per step."""
    steps, started = {}, time.perf_counter()
    page = session.get(f"{base}/vote/{slug}", timeout=TIMEOUT)
    page.raise_for_status()
    steps["election page"] = time.perf_counter() - started
    mark = time.perf_counter()
    ballot = session.post(f"{base}/vote/{slug}", timeout=TIMEOUT, data={
        "csrf_token": csrf_token(page.text), "voter_id": f"V{number:04d}", "password": f"pw-{number}"})
    ballot.raise_for_status()
    if not ballot.url.endswith("/ballot") or "Cast ballot" not in ballot.text:
        raise ValueError(f"sign-in did not reach the ballot (ended at {ballot.url})")
    steps["sign in + ballot page"] = time.perf_counter() - mark
    mark = time.perf_counter()
    selections = {}
    for name, choice_id in CHOICE.findall(ballot.text):
        selections.setdefault(name, choice_id)          # the first choice of every question
    receipt = session.post(f"{base}/vote/{slug}/ballot", timeout=TIMEOUT,
                           data={"csrf_token": csrf_token(ballot.text), **selections})
    receipt.raise_for_status()
    if "Thank you for voting" not in receipt.text:
        raise ValueError(f"the ballot was not cast (ended at {receipt.url})")
    steps["cast + receipt page"] = time.perf_counter() - mark
    steps["http requests"] = sum(1 + len(r.history) for r in (page, ballot, receipt))
    return steps


def voter_thread(base, slug, numbers, tally, deadline):
    session = requests.Session()
    while time.monotonic() < deadline:
        try:
            number = numbers.get_nowait()
        except queue.Empty:
            return
        session.cookies.clear()                          # a new voter: nothing carried over
        started = time.perf_counter()
        try:
            steps = cast_one(session, base, slug, number)
        except (requests.RequestException, ValueError) as error:
            tally.error(f"voter {number}: {error}")
            continue
        tally.add(time.perf_counter() - started, steps)


def baseline_thread(base, counter, tally, deadline):
    session = requests.Session()
    while time.monotonic() < deadline and next(counter, None) is not None:
        started = time.perf_counter()
        try:
            response = session.post(f"{base}/vote", data={"choice": "Alice"}, timeout=TIMEOUT)
            if response.status_code != 201:
                raise ValueError(f"HTTP {response.status_code}")
        except (requests.RequestException, ValueError) as error:
            tally.error(str(error))
            continue
        tally.add(time.perf_counter() - started)


def run_threads(target, args, seconds, server):
    """Start THREADS threads of target(*args, tally, deadline); returns (tally, wall seconds)."""
    tally = Tally()
    server_cpu, client_cpu = server.cpu_seconds(), time.process_time()
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=target, args=(*args, tally, deadline), daemon=True)
               for _ in range(THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + TIMEOUT + 5)
    wall = time.perf_counter() - started
    tally.server_cpu = server.cpu_seconds() - server_cpu
    tally.client_cpu = time.process_time() - client_cpu
    return tally, wall


class SafeCounter:
    """next() gives 1..limit across threads, then None."""

    def __init__(self, limit):
        self._numbers = iter(range(1, limit + 1))
        self._lock = threading.Lock()

    def __iter__(self):
        return self

    def __next__(self):
        with self._lock:
            return next(self._numbers)


# --- the runs -----------------------------------------------------------------------------

def warm_up(url, path, method="get", n=8, **kwargs):
    """Let every gunicorn worker build its app and compile its templates before timing."""
    for _ in range(n):
        getattr(requests, method)(url + path, timeout=TIMEOUT, **kwargs)


def stored_counts(database):
    """Ballots, voters marked voted and removals queued: each cast must have written all three."""
    from eo_cc.db import connect

    db = connect(database)
    try:
        return {"ballots": db.execute("SELECT count(*) FROM ballots").fetchone()[0],
                "voted": db.execute("SELECT count(*) FROM voters WHERE has_voted = 1").fetchone()[0],
                "queued": db.execute("SELECT count(*) FROM cc_removals").fetchone()[0]}
    finally:
        db.close()


def run_rounds(tmp, voters, inserts, rounds, seconds):
    """Alternate baseline and eo_cc rounds (both servers up), so a change in the machine's load
    during the benchmark hits both alike; returns the two tallies, their walls and the counts."""
    from baseline_app import init_db

    instance = tmp / "instance"
    instance.mkdir()
    slug = seed_site(instance, voters)
    init_db(str(tmp / "baseline.sqlite"))
    numbers = queue.Queue()
    for number in range(1, voters + 1):
        numbers.put(number)
    site, base = Tally(), Tally()
    site_wall = base_wall = 0.0
    with Gunicorn("baseline_app:create_app()", {"BASELINE_DATABASE": str(tmp / "baseline.sqlite")},
                  str(Path(__file__).parent)) as base_server, \
            Gunicorn("eo_cc:create_app()", site_env(instance), str(_common.ROOT)) as site_server:
        warm_up(base_server.url, "/vote", method="post", data={"choice": "warm-up"})
        warm_up(site_server.url, f"/vote/{slug}")
        for n in range(rounds):
            counter = SafeCounter(inserts // rounds)
            tally, wall = run_threads(baseline_thread, (base_server.url, counter), seconds, base_server)
            base.merge(tally)
            base_wall += wall
            share = queue.Queue()
            for _ in range(voters // rounds if n < rounds - 1 else numbers.qsize()):
                share.put(numbers.get())
            tally, wall = run_threads(voter_thread, (site_server.url, slug, share), seconds, site_server)
            site.merge(tally)
            site_wall += wall
    return base, base_wall, site, site_wall, stored_counts(instance / "eo_cc.sqlite")


def describe(name, unit, tally, wall):
    rate = len(tally.done) / wall if wall else 0
    print(f"{name}: {len(tally.done)} {unit} in {wall:.1f} s = {rate:.1f} {unit}/s; latency p50 "
          f"{1000 * _common.percentile(tally.done, 0.5):.0f} ms, p95 "
          f"{1000 * _common.percentile(tally.done, 0.95):.0f} ms; errors {len(tally.errors)}")
    count = max(1, len(tally.done))
    print(f"    CPU per {unit[:-1]}: server {1000 * tally.server_cpu / count:.1f} ms, client "
          f"{1000 * tally.client_cpu / count:.1f} ms")
    http = sum(tally.steps.pop("http requests", [])) or len(tally.done)
    print(f"    HTTP requests: {http} = {http / count:.1f} per {unit[:-1]}, {http / wall:.1f}/s")
    for step, values in tally.steps.items():
        print(f"    {step:<24} p50 {1000 * _common.percentile(values, 0.5):6.0f} ms   p95 "
              f"{1000 * _common.percentile(values, 0.95):6.0f} ms")
    for text in tally.errors[:5]:
        print(f"    error: {text}")
    return rate


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voters", type=int, default=600, help="voters who cast (default 600)")
    parser.add_argument("--inserts", type=int, default=3000, help="baseline requests (default 3000)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (default 2)")
    parser.add_argument("--seconds", type=float, default=90, help="time bound per round")
    args = parser.parse_args()
    print(f"Ballots benchmark: gunicorn --workers 4, {THREADS} concurrent clients, "
          f"{args.voters} voters; baseline {args.inserts} one-row inserts; {args.rounds} "
          f"alternating rounds; load average before: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="eo_cc_bench_ballots_") as tmp:
        base_tally, base_wall, tally, wall, stored = run_rounds(
            Path(tmp), args.voters, args.inserts, args.rounds, args.seconds)
    http_per_ballot = sum(tally.steps.get("http requests", [])) / max(1, len(tally.done))
    base_rate = describe("baseline (bare Flask, one INSERT per request)", "inserts",
                         base_tally, base_wall)
    rate = describe("eo_cc (election page, sign in, ballot, cast, receipt)", "ballots", tally, wall)
    ratio = rate / base_rate if base_rate else 0
    errors = len(tally.errors) + len(base_tally.errors) + args.voters - len(tally.done)
    consistent = stored["ballots"] == stored["voted"] == stored["queued"] == len(tally.done)
    print(f"stored: {stored} (ballots, voters marked voted, removals queued: all equal to the "
          f"ballots cast: {consistent})")
    print(f"ratio eo_cc ballots/s / baseline inserts/s = {ratio:.3f} (target >= 0.5); "
          f"errors {errors} (target 0)")
    print(f"per HTTP request: eo_cc {rate * http_per_ballot:.1f}/s / baseline {base_rate:.1f}/s = "
          f"{ratio * http_per_ballot:.3f} (a ballot takes {http_per_ballot:.0f} requests)")
    _common.result("ballots", passed=ratio >= 0.5 and errors == 0 and consistent,
                   ballots_per_s=round(rate, 1), baseline_per_s=round(base_rate, 1),
                   ratio=round(ratio, 3), errors=errors, http_per_ballot=round(http_per_ballot, 1),
                   request_ratio=round(ratio * http_per_ballot, 3), ballots=len(tally.done),
                   p50_ms=round(1000 * _common.percentile(tally.done, 0.5)),
                   p95_ms=round(1000 * _common.percentile(tally.done, 0.95)),
                   steps_p50_ms={k: round(1000 * _common.percentile(v, 0.5))
                                 for k, v in tally.steps.items()},
                   baseline_p50_ms=round(1000 * _common.percentile(base_tally.done, 0.5)),
                   baseline_p95_ms=round(1000 * _common.percentile(base_tally.done, 0.95)),
                   server_cpu_ms_per_ballot=round(1000 * tally.server_cpu / max(1, len(tally.done)), 1),
                   server_cpu_ms_per_insert=round(
                       1000 * base_tally.server_cpu / max(1, len(base_tally.done)), 1),
                   stored=stored)


if __name__ == "__main__":
    main()
