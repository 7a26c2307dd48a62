"""Instant-runoff for one seat.

Each round counts every ballot for its most preferred candidate still in the count. A
candidate with more than half of those votes wins; otherwise the candidate with the fewest
votes is excluded (ties: ties.py) and their ballots move to their next choice still in the
count. Ballots that rank no candidate left are exhausted and count for no one. With a single
candidate left, that candidate wins, unless no ballot counts for anyone (no ballots at all).
"""
from . import grouped, ties
from .rounds import Result, Round


def count(candidates, profile):
    """The instant-runoff Result for candidates (in ballot order) and a profile in UNITs."""
    continuing = list(candidates)
    piles = {c: [] for c in candidates}          # candidate -> [(ranking, position, UNITs)]
    exhausted = _deal(piles, set(continuing), [(r, -1, units) for r, units in grouped(profile)])[None]
    total = sum(units for _, units in profile)
    rounds, history = [], []
    excluded = tie = None
    while continuing:
        totals = {c: sum(units for _, _, units in piles[c]) for c in continuing}
        this = Round("exclude" if rounds else "first", excluded, tie=tie, exhausted=exhausted,
                     totals={**dict.fromkeys(candidates, 0), **totals})
        if rounds:
            before = rounds[-1]
            this.transfers = {c: this.totals[c] - before.totals[c] for c in continuing
                              if this.totals[c] != before.totals[c]}
            if exhausted != before.exhausted:
                this.transfers[None] = exhausted - before.exhausted
        rounds.append(this)
        leader = max(continuing, key=lambda c: totals[c])
        if not totals[leader]:               # no ballot left for anyone: nobody is elected
            return Result("instant-runoff", 1, list(candidates), total, None, rounds, [])
        if len(continuing) == 1 or 2 * totals[leader] > sum(totals.values()):
            this.elected = [leader]
            return Result("instant-runoff", 1, list(candidates), total, None, rounds, [leader])
        fewest = min(totals.values())
        excluded, tie = ties.pick([c for c in continuing if totals[c] == fewest], history, candidates,
                                  lowest=True)
        history.append(totals)
        continuing.remove(excluded)
        exhausted += _deal(piles, set(continuing), piles.pop(excluded))[None]
    return Result("instant-runoff", 1, list(candidates), total, None, rounds, [])


def _deal(piles, continuing, papers):
    """Put papers on the piles of their next continuing choice; {None: UNITs exhausted}."""
    lost = {None: 0}
    for ranking, position, units in papers:
        nxt = next((p for p in range(position + 1, len(ranking)) if ranking[p] in continuing), None)
        if nxt is None:
            lost[None] += units
        else:
            piles[ranking[nxt]].append((ranking, nxt, units))
    return lost
