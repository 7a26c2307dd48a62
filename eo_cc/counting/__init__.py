"""Counting ranked ballots, with no Flask and no database: plain functions over ballots.

A profile is a list of (ranking, weight) pairs: a ranking is a tuple of candidate ids, most
preferred first, and a weight is the number of votes the ballot carries (1 unless the
election is weighted). Arithmetic is exact: every value is a whole number of UNITs, a
hundred-thousandth of a vote (the Scottish rules count to five decimal places).

- irv.py  — instant-runoff for one seat.
- stv.py  — the single transferable vote for several seats: Scottish STV (Droop quota, weighted
  inclusive Gregory transfers truncated to five decimal places).
- ties.py — the one tie-break both use: earlier-round totals, then the ballot's order.
- blt.py  — the BLT file that other STV programs read, so anyone can recount.
"""
from decimal import ROUND_DOWN, Decimal

UNIT = 100_000
PLACES = Decimal("0.00001")


def to_units(weight):
    """A weight (int, float, Decimal or text) as whole UNITs, five decimal places kept."""
    value = Decimal(str(weight)).quantize(PLACES, rounding=ROUND_DOWN)
    return int(value * UNIT)


def from_units(units):
    """UNITs back to a Decimal of votes, e.g. 150000 -> Decimal('1.5')."""
    return (Decimal(units) / UNIT).normalize() if units else Decimal(0)


def votes_text(units):
    """UNITs as text for pages and the command line: 3, 2.5, 0.33333."""
    value = from_units(units)
    return f"{value:f}" if value != value.to_integral() else str(int(value))


def grouped(profile):
    """Identical rankings added together: [(ranking, total weight in UNITs)], in ranking order.

    Grouping drops every trace of the order the ballots came in.
    """
    totals = {}
    for ranking, units in profile:
        totals[tuple(ranking)] = totals.get(tuple(ranking), 0) + units
    return sorted(totals.items())
