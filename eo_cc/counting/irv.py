"""Instant-runoff for one seat.

Each round counts every ballot for its most preferred candidate still in the count. A
candidate with more than half of those votes wins; otherwise the candidate with the fewest
votes is excluded (ties: ties.py) and the next round begins. Ballots that rank no candidate
left in the count are exhausted and count for no one. With a single candidate left, that
candidate wins.
"""
from . import ties
from .rounds import Result, Round, first_preferences


def count(candidates, profile):
    """The instant-runoff Result for candidates (in ballot order) and a profile in UNITs."""
    continuing = list(candidates)
    total = sum(units for _, units in profile)
    rounds, history = [], []
    excluded = tie = None
    while continuing:
        totals, exhausted = first_preferences(profile, continuing)
        this = Round("exclude" if rounds else "first", excluded, tie=tie, exhausted=exhausted,
                     totals={**dict.fromkeys(candidates, 0), **totals})
        if rounds:
            before = rounds[-1]
            this.transfers = {c: this.totals[c] - before.totals[c] for c in continuing
                              if this.totals[c] != before.totals[c]}
            if exhausted != before.exhausted:
                this.transfers[None] = exhausted - before.exhausted
        rounds.append(this)
        live = sum(totals.values())
        leader = max(continuing, key=lambda c: totals[c])
        if len(continuing) == 1 or 2 * totals[leader] > live:
            this.elected = [leader]
            return Result("instant-runoff", 1, list(candidates), total, None, rounds, [leader])
        fewest = min(totals.values())
        excluded, tie = ties.pick([c for c in continuing if totals[c] == fewest], history, candidates,
                                  lowest=True)
        history.append(totals)
        continuing.remove(excluded)
    return Result("instant-runoff", 1, list(candidates), total, None, rounds, [])
