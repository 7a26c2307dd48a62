"""Voter weights (one vote per share, unit or delegate): reading them, and the secrecy warning.

A ballot carries its voter's weight so that the count can use it. A weight held by few voters
therefore singles out their ballots: with one voter at weight 7, the ballot of weight 7 is
theirs. eo_cc warns about every weight shared by fewer than SMALL_CLASS voters whenever an
election has more than one weight, naming the weights, never the voters.
"""
from collections import Counter
from decimal import Decimal, InvalidOperation

SMALL_CLASS = 5
MAX_WEIGHT = Decimal(1_000_000_000)
MAX_PLACES = 5  # the count works to five decimal places


def weight_problem(text):
    """None when text is a usable weight (blank means 1), else a message for the admin."""
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return f"The weight “{text[:20]}” is not a number."
    if not value.is_finite() or value <= 0:
        return "The weight must be a positive number (leave it blank for 1)."
    if value > MAX_WEIGHT:
        return "The weight is too large."
    if -value.as_tuple().exponent > MAX_PLACES:
        return f"The weight has more than {MAX_PLACES} decimal places."
    return None


def as_weight(text):
    """A valid weight's text as the number stored (1 when blank)."""
    value = Decimal(text) if text else Decimal(1)
    return int(value) if value == value.to_integral() else float(value)


def weight_text(value):
    """2.0 -> '2', 1.5 -> '1.5'."""
    return f"{Decimal(str(value)).normalize():f}"


def small_classes(weights):
    """[(weight text, voters)] for each weight fewer than SMALL_CLASS voters share, when there is
    more than one weight; weights: an iterable of numbers, or {weight: voters}."""
    counts = dict(weights) if isinstance(weights, dict) else Counter(weights)
    if len(counts) < 2:
        return []
    return [(weight_text(w), n) for w, n in sorted(counts.items()) if n < SMALL_CLASS]


def warning(classes):
    """The admin's warning for small_classes(), or None."""
    if not classes:
        return None
    named = ", ".join(f"{w} ({n} voter{'' if n == 1 else 's'})" for w, n in classes)
    return (f"Fewer than {SMALL_CLASS} voters share the weight {named}. Each ballot stores its "
            "voter's weight, so the ballots of such a small group can be told apart: their choices "
            "are less secret. Consider giving them a weight more voters share.")


def roster_classes(db, election_id):
    """small_classes() of the election's roster."""
    found = db.execute("SELECT weight, COUNT(*) FROM voters WHERE election_id = ? GROUP BY weight",
                       [election_id]).fetchall()
    return small_classes({w: n for w, n in found})
