"""The BLT ballot file (the format of OpenSTV, OpaVote, eSTV and the ERS's tools), for recounts.

    <candidates> <seats>
    <weight> <candidate number> <candidate number> ... 0     one line per distinct ranking
    0
    "<candidate name>"                                      one line per candidate, in ballot order
    "<title>"

Candidates are numbered from 1 in ballot order. Identical rankings are written once with
their weights added, sorted by ranking, so the file keeps no trace of the order ballots were
cast in. Weights are whole numbers unless the election is weighted (then decimals, which
OpenSTV and OpaVote read).
"""
from . import grouped, votes_text


def _quoted(text):
    # BLT has no escapes: a double quote or a line break would end the name early.
    return '"' + " ".join(str(text).replace('"', "'").split()) + '"'


def write(title, candidates, seats, profile):
    """The BLT text for candidates [(id, name)] in ballot order and a (ranking, UNITs) profile."""
    number = {cid: i for i, (cid, _) in enumerate(candidates, start=1)}
    lines = [f"{len(candidates)} {seats}"]
    for ranking, units in grouped(profile):
        marks = " ".join(str(number[c]) for c in ranking if c in number)
        lines.append(f"{votes_text(units)} {marks} 0" if marks else f"{votes_text(units)} 0")
    lines.append("0")
    lines += [_quoted(name) for _, name in candidates]
    lines.append(_quoted(title))
    return "\n".join(lines) + "\n"


def read(text):
    """(title, candidate names, seats, [(ranking of 1-based numbers, weight text)]) from BLT text.

    Enough of the format for eo_cc's own files and tests: no withdrawn candidates, no
    equal rankings.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    count, seats = (int(x) for x in lines[0].split())
    ballots, at = [], 1
    while lines[at] != "0":
        weight, *marks = lines[at].split()
        ballots.append((tuple(int(m) for m in marks[:-1]), weight))
        at += 1
    names = [line.strip('"') for line in lines[at + 1:at + 1 + count]]
    return lines[at + 1 + count].strip('"'), names, seats, ballots
