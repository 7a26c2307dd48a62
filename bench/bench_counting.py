"""Benchmark: counting a ranked question, 10,000 ballots, 10 candidates, 3 seats (Scottish STV).

eo_cc: `ranked.profiles` reads the ballots back from a real eo_cc database (ballots and their
ranked selections, as casts store them), then `stv.count` (3 seats) and `irv.count` (1 seat)
count them with exact five-place arithmetic.

Baselines, in the same run over the same ballots: one pass that counts first preferences (the
least any count must do: read every ballot once), and, when the test extra is installed,
pref_voting's `instant_runoff` (numpy; its profile is built outside the timing). Ballots rank
3 to 10 candidates, drawn with a fixed seed so every run counts the same profile; a quarter of
them carry weight 2.
"""
import argparse
import random
import secrets
import tempfile
import time
from collections import Counter
from pathlib import Path

import _common

TARGET_S = 2.0  # 10,000 ballots counted well within a page load


def make_ballots(count, candidates, seed=2027):
    chooser = random.Random(seed)
    popularity = [1 / (i + 1) for i in range(candidates)]
    ballots = []
    for _ in range(count):
        order = []
        pool = list(range(candidates))
        for _ in range(chooser.randint(3, candidates)):
            pick = chooser.choices(pool, [popularity[c] for c in pool])[0]
            pool.remove(pick)
            order.append(pick)
        ballots.append((order, 2 if chooser.random() < 0.25 else 1))
    return ballots


def store(db, ballots, candidates):
    from tests.factories import make_election, make_ranked_question

    election = make_election(db, _common.cheap_admin(db), questions=[])
    ids = make_ranked_question(db, election, "Board", [f"Candidate {n}" for n in range(candidates)], seats=3)
    choice = [ids[f"Candidate {n}"] for n in range(candidates)]
    with db.atomic():
        for order, weight in ballots:
            ballot_id = secrets.token_hex(16)
            db.execute("INSERT INTO ballots (election_id, ballot_id, weight) VALUES (?, ?, ?)",
                       [election, ballot_id, weight])
            db.conn.executemany("INSERT INTO ballot_selections (election_id, ballot_id, choice_id, rank) "
                                "VALUES (?, ?, ?, ?)",
                                [(election, ballot_id, choice[c], r) for r, c in enumerate(order, start=1)])
    return election, choice


def timed(function, *args):
    started = time.perf_counter()
    value = function(*args)
    return value, time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ballots", type=int, default=10_000)
    parser.add_argument("--candidates", type=int, default=10)
    args = parser.parse_args()

    from eo_cc.counting import irv, stv
    from eo_cc.elections import ranked

    ballots = make_ballots(args.ballots, args.candidates)
    with tempfile.TemporaryDirectory() as folder:
        db = _common.eo_cc_database(str(Path(folder) / "bench.sqlite"))
        election, choice = store(db, ballots, args.candidates)
        found, read_s = timed(ranked.profiles, db, election)
        profile = next(iter(found.values()))
        result, stv_s = timed(stv.count, choice, profile, 3)
        winner, irv_s = timed(irv.count, choice, profile)
        db.close()

    def first_preferences():
        return Counter(order[0] for order, _ in profile)
    _, floor_s = timed(first_preferences)
    theirs_s = None
    try:
        from pref_voting.profiles import Profile
        from pref_voting.voting_methods import instant_runoff
    except ImportError:
        pass
    else:
        full = Counter()
        for order, weight in ballots:  # pref_voting wants complete rankings: unranked ones last
            full[tuple(order + [c for c in range(args.candidates) if c not in order])] += weight
        theirs = Profile([list(r) for r in full], rcounts=list(full.values()))
        instant_runoff(theirs)  # its first call compiles
        _, theirs_s = timed(instant_runoff, theirs)

    print(f"{args.ballots:,} ballots, {args.candidates} candidates: {len(result.rounds)} STV rounds, "
          f"elected {len(result.elected)}; instant-runoff {len(winner.rounds)} rounds")
    print(f"read from the database (ranked.profiles): {read_s:.3f} s")
    print(f"STV, 3 seats:                            {stv_s:.3f} s")
    print(f"instant-runoff:                          {irv_s:.3f} s")
    print(f"baseline, one pass of first preferences: {floor_s:.4f} s (STV is {stv_s / floor_s:.0f} ×)")
    if theirs_s is not None:
        print(f"baseline, pref_voting instant_runoff:     {theirs_s:.3f} s (on complete rankings)")
    total = read_s + stv_s
    print(f"read + STV {total:.3f} s (target < {TARGET_S} s): {'met' if total < TARGET_S else 'MISSED'}")
    _common.result("counting", ballots=args.ballots, candidates=args.candidates, read_s=round(read_s, 3),
                   stv_s=round(stv_s, 3), irv_s=round(irv_s, 3), floor_s=round(floor_s, 4),
                   pref_voting_irv_s=None if theirs_s is None else round(theirs_s, 3),
                   passed=total < TARGET_S)


if __name__ == "__main__":
    main()
