"""The single transferable vote: Scottish STV, for several seats.

The rules are those of the Scottish Local Government Elections Rules 2007 (SSI 2007/42,
schedule 1, rules 45 to 52), the rules OpaVote and OpenSTV call "Scottish STV":

- Quota (Droop): the total vote divided by one more than the seats, decimals ignored, plus 1.
  A candidate whose votes reach the quota is elected (several at once: most votes first).
- Surplus (weighted inclusive Gregory method): every ballot the elected candidate holds moves
  to its next continuing preference at the transfer value
  ballot value × surplus ÷ the candidate's votes, to five decimal places, any remainder
  ignored. The largest surplus moves first, one per round; all surpluses move before anyone
  is excluded. What cannot move (no further preference) is non-transferable; what the
  truncation drops is shown as lost to rounding.
- Exclusion: with no surplus left, the candidate with the fewest votes is excluded and every
  ballot they hold moves, at its current value, in one round.
- When the candidates left equal the seats left, they are elected.
- Ties (equal surpluses, equal fewest votes): ties.py, earlier rounds then ballot order.

Weighted ballots start at their weight instead of 1; nothing else changes.
"""
from collections import Counter

from . import UNIT, ties
from .rounds import Result, Round


def droop_quota(total_units, seats):
    """floor(total / (seats + 1)) + 1 whole votes, in UNITs."""
    return (total_units // UNIT // (seats + 1) + 1) * UNIT


class _Count:
    def __init__(self, candidates, profile, seats):
        self.candidates, self.seats = list(candidates), seats
        self.piles = {c: [] for c in self.candidates}   # candidate -> [(ranking, position, value, papers)]
        self.continuing = set(self.candidates)
        self.elected, self.pending = [], []              # pending: elected, surplus not yet moved
        self.exhausted = self.lost = 0
        self.rounds = []
        papers = Counter((tuple(r), units) for r, units in profile if units > 0)
        self.total = sum(units * n for (_, units), n in papers.items())
        self.quota = droop_quota(self.total, seats)
        moved = Counter()
        for (ranking, units), n in sorted(papers.items()):
            self._place(ranking, -1, units, n, moved)

    def votes(self, candidate):
        return sum(value * n for _, _, value, n in self.piles[candidate])

    def _place(self, ranking, after, value, papers, moved):
        """Give papers to their next continuing preference after position `after`."""
        for position in range(after + 1, len(ranking)):
            if ranking[position] in self.continuing:
                self.piles[ranking[position]].append((ranking, position, value, papers))
                moved[ranking[position]] += value * papers
                return
        self.exhausted += value * papers
        moved[None] += value * papers

    def finish_round(self, action, subject=None, moved=None, tie=None):
        totals = {c: self.votes(c) if c in self.continuing or c in self.elected else 0
                  for c in self.candidates}
        this = Round(action, subject, totals, dict(moved or {}), self.exhausted, self.lost, tie=tie)
        self.rounds.append(this)
        reached = [c for c in self.candidates if c in self.continuing and totals[c] >= self.quota]
        reached.sort(key=lambda c: (-totals[c], self._history_key(c), self.candidates.index(c)))
        for candidate in reached[:self.seats - len(self.elected)]:
            self.continuing.discard(candidate)
            self.elected.append(candidate)
            this.elected.append(candidate)
            if totals[candidate] > self.quota:
                self.pending.append(candidate)

    def _history_key(self, candidate):
        return tuple(-r.totals[candidate] for r in self.rounds)

    def transfer_surplus(self):
        best = max(self.votes(c) - self.quota for c in self.pending)
        tied = [c for c in self.pending if self.votes(c) - self.quota == best]
        candidate, tie = ties.pick(tied, [r.totals for r in self.rounds], self.candidates, lowest=False)
        self.pending.remove(candidate)
        votes, surplus = self.votes(candidate), best
        moved = Counter()
        for ranking, position, value, papers in self.piles[candidate]:
            self._place(ranking, position, value * surplus // votes, papers, moved)
        self.lost += surplus - sum(moved.values())  # what truncating to five places dropped
        self._credit_quota(candidate)
        self.finish_round("surplus", candidate, moved, tie)

    def _credit_quota(self, candidate):
        """An elected candidate keeps exactly the quota once the surplus has moved."""
        self.piles[candidate] = [((), 0, self.quota, 1)]

    def exclude(self):
        totals = {c: self.votes(c) for c in self.continuing}
        fewest = min(totals.values())
        candidate, tie = ties.pick([c for c in self.candidates if c in self.continuing and totals[c] == fewest],
                                   [r.totals for r in self.rounds], self.candidates, lowest=True)
        self.continuing.discard(candidate)
        moved = Counter()
        for ranking, position, value, papers in self.piles[candidate]:
            self._place(ranking, position, value, papers, moved)
        self.piles[candidate] = []
        self.finish_round("exclude", candidate, moved, tie)

    def run(self):
        self.finish_round("first")
        if not self.total:                   # no ballots: no seat is filled by default
            return Result("Scottish STV", self.seats, self.candidates, self.total, self.quota,
                          self.rounds, [])
        while len(self.elected) < self.seats:
            left = self.seats - len(self.elected)
            if len(self.continuing) <= left:
                rest = sorted(self.continuing, key=lambda c: (-self.votes(c), self.candidates.index(c)))
                self.elected += rest
                self.rounds[-1].elected += rest
                self.continuing.clear()
                break
            if self.pending:
                self.transfer_surplus()
            else:
                self.exclude()
        return Result("Scottish STV", self.seats, self.candidates, self.total, self.quota,
                      self.rounds, self.elected)


def count(candidates, profile, seats):
    """The Scottish STV Result for candidates (in ballot order), one (ranking, UNITs) per ballot."""
    if seats < 1:
        raise ValueError("An STV count needs at least one seat.")
    return _Count(candidates, profile, seats).run()
