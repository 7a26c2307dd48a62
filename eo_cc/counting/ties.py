"""Breaking ties between candidates, the same way for every count.

A tie among candidates with equal votes now is broken by the totals they had in earlier
rounds: the earliest round in which they differ decides (as rules 49 and 50 of the Scottish
Local Government Elections Rules 2007 direct for equal surpluses and equal lowest votes). When
they were equal in every round, the rules draw lots; eo_cc uses an order anyone can check
instead: the order of the candidates on the ballot. The candidate listed later is excluded
first, and of equal surpluses the candidate listed earlier is transferred first.
"""


def pick(tied, history, order, lowest):
    """(the chosen candidate, how the tie was broken or None).

    tied: candidates with equal votes now; history: one {candidate: votes} per earlier
    round, oldest first; order: every candidate in ballot order; lowest: True to pick the
    one with fewest votes (exclusion), False for the most (surplus).
    """
    tied = list(tied)
    if len(tied) == 1:
        return tied[0], None
    for totals in history:
        values = {c: totals.get(c, 0) for c in tied}
        if len(set(values.values())) > 1:
            best = min(values.values()) if lowest else max(values.values())
            tied = [c for c in tied if values[c] == best]
            if len(tied) == 1:
                return tied[0], "earlier rounds"
    position = {c: i for i, c in enumerate(order)}
    ranked = sorted(tied, key=position.__getitem__)
    return (ranked[-1] if lowest else ranked[0]), "ballot order"
