"""The ballot box: cast one secret ballot per voter, in one transaction.

Flask-free so tests and scripts can drive it directly. A cast writes three unrelated
things: a receipt (a random code, so the voter can check they were counted), a ballot
(another random key and the election, nothing else: no voter, no time, no rowid) with
its selections, and the voter's mark. The same transaction queues the voter's email in
`cc_removals`, the outbox that the Constant Contact sync consumes, and counts the ballot
as not yet mixed (ballot_box.py rewrites the box so that no cast order survives).
"""
import re
import secrets

from .. import clock
from ..cc import removals
from ..crypto import random_code
from ..db import immediate, one, rows
from ..elections import voting_window
from ..elections.tally import take_snapshot_if_due

RECEIPT_LENGTH = 12


class BallotError(Exception):
    """A ballot that cannot be cast; str() is a message for the voter."""


class AlreadyVoted(BallotError):
    def __init__(self):
        super().__init__("You have already voted. Each voter can cast one ballot.")


class VotingClosed(BallotError):
    def __init__(self):
        super().__init__("Voting is not open for this election.")


class UnknownVoter(BallotError):
    def __init__(self):
        super().__init__("This voter is not on the roster.")


class InvalidBallot(BallotError):
    """errors maps question id -> what is wrong with the answer to that question."""

    def __init__(self, errors):
        self.errors = errors
        super().__init__("Please correct the marked questions: " + " ".join(errors.values()))


def format_receipt(code):
    """ABCDEFGHJKLM -> ABCD-EFGH-JKLM, easier to read out and copy."""
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def normalise_receipt(text):
    """What a voter typed -> the stored form: upper case, no dashes or spaces."""
    return re.sub(r"[^A-Z0-9]", "", (text or "").upper())


def load_questions(db, election_id):
    """The election's questions in order, each with its 'choices' list."""
    questions = rows(db, "SELECT * FROM questions WHERE election_id = ? ORDER BY position, id",
                     [election_id])
    choices = rows(db, """SELECT c.* FROM choices c JOIN questions q ON q.id = c.question_id
                          WHERE q.election_id = ? ORDER BY c.position, c.id""", [election_id])
    for question in questions:
        question["choices"] = [c for c in choices if c["question_id"] == question["id"]]
    return questions


def rank_error(question, ranks):
    """What is wrong with the ranks {choice id: rank} for a ranked question, or None.

    Ranks start at 1 and follow on: a voter may rank some or all candidates, each rank once.
    """
    if not isinstance(ranks, dict):
        return "Please rank the candidates with the rank boxes."
    by_id = {c["id"]: c for c in question["choices"]}
    if not ranks:
        return "Please rank at least one candidate: put 1 next to your first choice."
    if any(cid not in by_id for cid in ranks):
        return "That choice does not belong to this question."
    given = sorted(ranks.values())
    if any(not isinstance(r, int) or not 1 <= r <= len(by_id) for r in given):
        return f"Ranks go from 1 to {len(by_id)}."
    repeated = sorted({r for r in given if given.count(r) > 1})
    if repeated:
        return (f"Duplicate rank: {repeated[0]} is given to more than one candidate. "
                "Give each rank to one candidate only.")
    skipped = next((r for r in range(1, given[-1] + 1) if r not in given), None)
    if skipped:
        return (f"Skipped rank: there is no {skipped}. Number your choices 1, 2, 3 … without gaps "
                "(you need not rank every candidate).")
    return None


def question_error(question, chosen):
    """What is wrong with the choices for one question ({choice id: rank} for a ranked one, else
    choice ids), or None."""
    if question.get("kind") == "ranked":
        return rank_error(question, chosen or {})
    chosen_ids = list(chosen or [])
    by_id = {c["id"]: c for c in question["choices"]}
    if not chosen_ids:
        return "Please answer this question."
    if len(set(chosen_ids)) != len(chosen_ids) or any(cid not in by_id for cid in chosen_ids):
        return "That choice does not belong to this question."
    if len(chosen_ids) > 1 and any(by_id[cid]["is_abstain"] for cid in chosen_ids):
        return "Abstain must be the only choice for this question."
    if len(chosen_ids) > question["max_choices"]:
        return f"Please pick at most {question['max_choices']}."
    return None


def ballot_errors(questions, selections):
    """Per-question errors for selections {question_id: [choice_id, ...]}; empty when valid."""
    known = {q["id"] for q in questions}
    errors = {qid: "That question is not on this ballot." for qid in selections if qid not in known}
    for question in questions:
        error = question_error(question, selections.get(question["id"]))
        if error:
            errors[question["id"]] = error
    return errors


def cast_ballot(db, voter_id, selections, now=None):
    """Store the voter's ballot and return the receipt code (12 characters, no dashes).

    Raises UnknownVoter, AlreadyVoted, VotingClosed or InvalidBallot; then
    nothing is written. The write lock is taken first, so concurrent casts for
    one voter queue up and all but the first see AlreadyVoted.
    """
    now = now or clock.now()
    with immediate(db):
        voter = one(db, "SELECT * FROM voters WHERE id = ?", [voter_id])
        if voter is None:
            raise UnknownVoter()
        if voter["has_voted"]:
            raise AlreadyVoted()
        election = one(db, "SELECT * FROM elections WHERE id = ?", [voter["election_id"]])
        if not voting_window.is_open(election, now):
            raise VotingClosed()
        errors = ballot_errors(load_questions(db, election["id"]), selections)
        if errors:
            raise InvalidBallot(errors)
        _insert_ballot(db, election["id"], selections, voter["weight"])
        receipt_code = _insert_receipt(db, election["id"])
        _mark_voted(db, voter_id, now)
        removals.queue(db, election["id"], voter["email"], now)
        db.execute("UPDATE ballot_box SET unmixed = unmixed + 1 WHERE id = 1")
        take_snapshot_if_due(db, election, now)
    return receipt_code


def _insert_ballot(db, election_id, selections, weight):
    """The ballot carries its voter's weight (see schema/ranked.py) and, for ranked questions,
    each candidate's rank."""
    ballot_id = secrets.token_hex(16)
    db.execute("INSERT INTO ballots (election_id, ballot_id, weight) VALUES (?, ?, ?)",
               [election_id, ballot_id, weight])
    marks = []
    for chosen in selections.values():
        pairs = chosen.items() if isinstance(chosen, dict) else ((cid, None) for cid in chosen)
        marks += [(election_id, ballot_id, cid, rank) for cid, rank in pairs]
    db.conn.executemany(
        "INSERT INTO ballot_selections (election_id, ballot_id, choice_id, rank) VALUES (?, ?, ?, ?)",
        marks)


def _insert_receipt(db, election_id):
    code = random_code(RECEIPT_LENGTH)
    db.execute("INSERT INTO receipts (election_id, code) VALUES (?, ?)", [election_id, code])
    return code


def _mark_voted(db, voter_id, now):
    db.execute("UPDATE voters SET has_voted = 1, voted_at = ? WHERE id = ?", [clock.iso(now), voter_id])


def receipt_in_ballot_box(db, election_id, text):
    """True when the typed receipt code matches a ballot of this election."""
    code = normalise_receipt(text)
    return len(code) == RECEIPT_LENGTH and one(
        db, "SELECT 1 AS found FROM receipts WHERE election_id = ? AND code = ?",
        [election_id, code]) is not None
