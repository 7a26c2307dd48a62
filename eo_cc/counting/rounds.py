"""What a count reports: its rounds and its result, the same shape for instant-runoff and STV."""
from dataclasses import dataclass, field


@dataclass
class Round:
    """One round (a "stage" in the Scottish rules) of a count, all votes in UNITs.

    action: "first" (first preferences), "surplus" or "exclude"; subject: whose votes moved.
    totals: every candidate's votes at the end of the round (0 once excluded);
    transfers: what moved in this round, {candidate: votes received}, None for non-transferable;
    exhausted and lost: non-transferable votes and votes lost to rounding so far.
    """
    action: str
    subject: object = None
    totals: dict = field(default_factory=dict)
    transfers: dict = field(default_factory=dict)
    exhausted: int = 0
    lost: int = 0
    elected: list = field(default_factory=list)
    tie: str | None = None


@dataclass
class Result:
    """elected in the order they were elected; quota in UNITs (None for instant-runoff)."""
    method: str
    seats: int
    candidates: list
    total: int
    quota: int | None
    rounds: list
    elected: list

