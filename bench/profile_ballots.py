"""Profile the voter path in process: CPU per step of a ballot, with the Flask test client.

Each voter: GET the election page, POST sign in, GET the ballot, POST cast (answered with the receipt),
with CSRF on and the file mail backend, as under gunicorn. Prints the mean CPU time per step;
--profile STEP prints cProfile's top functions for that step.
Run: .venv/bin/python bench/profile_ballots.py [--voters 300] [--profile cast]
"""
import argparse
import cProfile
import os
import pstats
import re
import tempfile
import time
from pathlib import Path

import _common

STEPS = ("election page", "sign in", "ballot", "cast")
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
CHOICE = re.compile(r'name="(q\d+)" value="(\d+)"')


def make_app(instance, voters):
    from bench_ballots import seed_site

    from eo_cc import create_app

    slug = seed_site(instance, voters)
    app = create_app({"SECRET_KEY": _common.SECRET_KEY, "DATABASE": str(instance / "eo_cc.sqlite"),
                      "MAIL_BACKEND": "file"})
    return app, slug


def one_voter(client, slug, number, timed):
    """Walk one voter through the five steps; timed(step, call) runs and measures each."""
    page = timed("election page", lambda: client.get(f"/vote/{slug}"))
    token = CSRF.search(page.get_data(as_text=True)).group(1)
    signed = timed("sign in", lambda: client.post(f"/vote/{slug}", data={
        "csrf_token": token, "voter_id": f"V{number:04d}", "password": f"pw-{number}"}))
    assert signed.status_code == 302, signed.status_code
    ballot = timed("ballot", lambda: client.get(f"/vote/{slug}/ballot"))
    html = ballot.get_data(as_text=True)
    selections = {}
    for name, choice_id in CHOICE.findall(html):
        selections.setdefault(name, choice_id)
    cast = timed("cast", lambda: client.post(f"/vote/{slug}/ballot", data={
        "csrf_token": CSRF.search(html).group(1), **selections}))
    assert "Thank you for voting" in cast.get_data(as_text=True)   # the receipt is the cast's answer
    cast.close()   # as a WSGI server does: a due mix of the ballot box runs here


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voters", type=int, default=300)
    parser.add_argument("--profile", choices=STEPS, help="print cProfile's top functions of this step")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="eo_cc_profile_") as tmp:
        instance = Path(tmp) / "instance"
        instance.mkdir()
        os.environ["EO_CC_INSTANCE_PATH"] = str(instance)
        app, slug = make_app(instance, args.voters + 5)
        totals = dict.fromkeys(STEPS, 0.0)
        profiler = cProfile.Profile()

        def timed(step, call):
            started = time.process_time()
            if step == args.profile:
                profiler.enable()
            result = call()
            if step == args.profile:
                profiler.disable()
            totals[step] += time.process_time() - started
            return result

        for number in range(1, 6):  # warm up: templates compiled, imports done
            one_voter(app.test_client(), slug, number, lambda step, call: call())
        for number in range(6, args.voters + 6):
            one_voter(app.test_client(), slug, number, timed)
    for step in STEPS:
        print(f"{step:<14} {1000 * totals[step] / args.voters:6.2f} ms CPU")
    print(f"{'ballot':<14} {1000 * sum(totals.values()) / args.voters:6.2f} ms CPU in all")
    if args.profile:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
