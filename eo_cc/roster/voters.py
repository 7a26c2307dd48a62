"""The voter roster as data: read a roster CSV file, and add voters to an election all or nothing.

Flask-free, so the web pages, commands and tests share it. `parse_roster` never raises on
any bytes: every problem becomes a `RowError` naming the spreadsheet row (the header is
row 1) and the column. `import_roster` writes every voter in one transaction or none.
"""
import csv
import io
import re
from typing import NamedTuple

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from .. import clock
from ..crypto import Box, random_codes
from ..db import immediate, one, rows
from ..elections import voting_window
from ..text import unsafe_character
from .weights import as_weight, weight_problem

MAX_ROWS = 100_000
COLUMNS = ("email", "name", "voter_id", "password", "weight")
MAX_LENGTHS = {"email": 254, "name": 200, "voter_id": 64, "password": 64, "weight": 30}
ALIASES = {"e_mail": "email", "email_address": "email", "voterid": "voter_id"}
DELIMITERS = (",", ";", "\t")
VOTER_ID_LENGTH = 8
PASSWORD_LENGTH = 10
INSERT_CHUNK = 1000

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
# A plain ASCII address is valid for email_validator too; only the others need its slow path.
_SIMPLE_EMAIL = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


class RowError(NamedTuple):
    """One problem: row as numbered in a spreadsheet (None: the whole file), column or None."""
    row: int | None
    column: str | None
    message: str

    def __str__(self):
        where = ", ".join(p for p in (self.row and f"Row {self.row}", self.column) if p)
        return f"{where}: {self.message}" if where else self.message


class RosterParse(NamedTuple):
    """Voters (dicts with row, email, name, voter_id, password) or errors; never both."""
    voters: list
    errors: list
    ignored_columns: list


class RosterRejected(Exception):
    """Nothing was written; `errors` (RowErrors) say why."""

    def __init__(self, errors):
        super().__init__("; ".join(str(e) for e in errors[:3]))
        self.errors = list(errors)


def _failed(message, row=None, column=None, ignored=()):
    return RosterParse([], [RowError(row, column, message)], list(ignored))


# --- reading the file -------------------------------------------------------------------

def decode(data):
    """The file's text, or raise ValueError with a message for the admin."""
    if not data or not data.strip():
        raise ValueError("The file is empty.")
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise ValueError("This is a spreadsheet workbook, not a CSV file. "
                         "In your spreadsheet choose Save As → CSV, then upload that file.")
    try:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            text = data.decode("utf-16")
        else:
            text = _decode_8bit(data)
    except UnicodeError:
        raise ValueError("The file is not text in UTF-8 or Windows-1252. "
                         "Save it from your spreadsheet as CSV UTF-8.") from None
    if "\x00" in text:
        raise ValueError("This does not look like a CSV file (it contains binary data).")
    return text.removeprefix("\ufeff")


def _decode_8bit(data):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252")  # Excel's "CSV" on Windows


def sniff_delimiter(text):
    """Comma, semicolon or tab: whichever the header line uses most (comma when none)."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    unquoted = re.sub(r'"[^"]*"', "", header)
    counts = [(unquoted.count(d), -i, d) for i, d in enumerate(DELIMITERS)]
    best = max(counts)
    return best[2] if best[0] else ","


def normalise_column(name):
    """'Voter ID ' -> 'voter_id'; 'E-mail' -> 'email'."""
    key = re.sub(r"[\s\-]+", "_", name.strip().lower())
    return ALIASES.get(key, key)


def map_columns(header, row):
    """({column: index}, ignored names, errors) for the header record."""
    mapping, ignored, errors = {}, [], []
    for index, raw in enumerate(header):
        key = normalise_column(raw)
        if key in COLUMNS and key in mapping:
            errors.append(RowError(row, key, f"The column “{raw.strip()}” appears twice."))
        elif key in COLUMNS:
            mapping[key] = index
        elif raw.strip():
            ignored.append(raw.strip()[:80])
    if "email" not in mapping and not errors:
        found = ", ".join(h.strip()[:40] for h in header[:8] if h.strip()) or "nothing"
        errors.append(RowError(row, "email", (
            "The file has no email column. The first row must name the columns, "
            f"e.g. email,name,voter_id,password (found: {found}).")))
    return mapping, ignored, errors


def _records(text, delimiter):
    """(row number, cells) for every record, blank ones included so numbers match a spreadsheet."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    return enumerate(reader, start=1)


def parse_roster(data, existing=None):
    """Read roster CSV bytes into a RosterParse. Never raises.

    existing: (emails, casefolded voter IDs) already on the roster, from `existing_voters`,
    so those clashes are reported together with the file's own problems.
    """
    try:
        text = decode(data)
    except ValueError as error:
        return _failed(str(error))
    try:
        return _parse_text(text, existing or ({}, {}))
    except csv.Error as error:
        return _failed(f"This is not a readable CSV file ({error}).")


def _parse_text(text, existing):
    records = _records(text, sniff_delimiter(text))
    header_row, header = next(((n, cells) for n, cells in records if _has_text(cells)), (None, None))
    if header is None:
        return _failed("The file is empty.")
    mapping, ignored, errors = map_columns(header, header_row)
    if errors:
        return RosterParse([], errors, ignored)
    voters, errors = _read_voters(records, mapping, existing)
    if errors:
        return RosterParse([], errors, ignored)
    if not voters:
        return _failed("The file has a header row but no voters.", header_row, ignored=ignored)
    return RosterParse(voters, [], ignored)


def _has_text(cells):
    return any(cell.strip() for cell in cells)


def _read_voters(records, mapping, existing):
    voters, errors = [], []
    first_row_of_email, first_row_of_code = {}, {}
    count = 0
    for row, cells in records:
        if not _has_text(cells):
            continue
        count += 1
        if count > MAX_ROWS:
            return [], [RowError(None, None, (
                f"The file has more than {MAX_ROWS:,} voters. Split it into smaller files."))]
        values = {col: cells[i] if i < len(cells) else "" for col, i in mapping.items()}
        voter, row_errors = validate_voter(values, row)
        row_errors += _duplicates(voter, row, first_row_of_email, first_row_of_code)
        row_errors += roster_conflicts([voter], *existing)
        if row_errors:
            errors += row_errors
        else:
            voters.append(voter)
    return voters, errors


def _duplicates(voter, row, first_row_of_email, first_row_of_code):
    errors = []
    email, code = voter["email"], voter["voter_id"]
    if email:
        if email in first_row_of_email:
            errors.append(RowError(row, "email", (
                f"{email} appears twice in the file (rows {first_row_of_email[email]} and {row}).")))
        first_row_of_email.setdefault(email, row)
    if code:
        key = code.casefold()
        if key in first_row_of_code:
            errors.append(RowError(row, "voter_id", (
                f"Voter ID {code} appears twice in the file (rows {first_row_of_code[key]} and {row}).")))
        first_row_of_code.setdefault(key, row)
    return errors


# --- one voter --------------------------------------------------------------------------

def validate_voter(values, row=None):
    """Check one voter's fields (as typed); return (voter dict, RowErrors).

    Blank voter_id and password become None: they are generated on import; a blank weight is 1.
    """
    voter = {"row": row, "email": "", "name": "", "voter_id": None, "password": None, "weight": 1}
    errors = []
    for column in COLUMNS:
        value = (values.get(column) or "").strip()
        message = _field_problem(column, value)
        if message:
            errors.append(RowError(row, column, message))
        elif column == "email":
            voter["email"] = value.lower()
        elif column == "weight":
            voter["weight"] = as_weight(value)
        elif value or column == "name":
            voter[column] = value
    return voter, errors


def _field_problem(column, value):
    label = column.replace("_", " ")
    if column == "email" and not value:
        return "The email is blank."
    if len(value) > MAX_LENGTHS[column]:
        return f"The {label} is longer than {MAX_LENGTHS[column]} characters."
    if _CONTROL.search(value):
        return f"The {label} contains a control character."
    if problem := unsafe_character(value):
        return f"The {label} contains {problem}, which eo_cc does not accept."
    if column == "email":
        return email_problem(value)
    return weight_problem(value) if column == "weight" else None


def email_problem(email):
    """None when email looks like a deliverable address, else a message."""
    if _is_plain_address(email.lower()):
        return None
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as error:
        return f"“{email}” is not a valid email address. {error}"
    return None


def _is_plain_address(email):
    if not _SIMPLE_EMAIL.fullmatch(email):
        return False
    local, domain = email.split("@")
    return (len(local) <= 64 and "--" not in domain
            and not any(domain == d or domain.endswith("." + d) for d in SPECIAL_USE_DOMAIN_NAMES))


# --- writing ------------------------------------------------------------------------------

LOCKED = "The roster is locked: voting has opened, so voters can no longer be added, changed or removed."


def _check_unlocked(db, election_id):
    election = one(db, "SELECT * FROM elections WHERE id = ?", [election_id])
    if election is None:
        raise RosterRejected([RowError(None, None, "That election does not exist.")])
    if voting_window.is_ballot_locked(election):
        raise RosterRejected([RowError(None, None, LOCKED)])


def existing_voters(db, election_id, except_pk=None):
    """{email: voter pk} and {casefolded voter id: voter pk} already on the roster."""
    found = rows(db, "SELECT id, email, voter_code FROM voters WHERE election_id = ? AND id IS NOT ?",
                 [election_id, except_pk])
    return ({r["email"]: r["id"] for r in found},
            {r["voter_code"].casefold(): r["id"] for r in found})


def roster_conflicts(voters, emails, codes):
    """RowErrors for voters whose email or voter ID is already on the roster."""
    errors = []
    for voter in voters:
        if voter["email"] in emails:
            errors.append(RowError(voter["row"], "email", f"{voter['email']} is already on the roster."))
        if voter["voter_id"] and voter["voter_id"].casefold() in codes:
            errors.append(RowError(voter["row"], "voter_id",
                                   f"Voter ID {voter['voter_id']} is already on the roster."))
    return errors


def _fill_voter_ids(voters, codes):
    """Generate a unique voter ID for every voter without one."""
    taken = set(codes) | {v["voter_id"].casefold() for v in voters if v["voter_id"]}
    missing = [v for v in voters if not v["voter_id"]]
    while missing:
        for voter, code in zip(missing, random_codes(len(missing), VOTER_ID_LENGTH)):
            if code.casefold() not in taken:
                voter["voter_id"] = code
                taken.add(code.casefold())
        missing = [v for v in missing if not v["voter_id"]]


def _voter_rows(election_id, voters, secret_key):
    box = Box(secret_key, "voter-passwords")
    passwords = iter(random_codes(len(voters), PASSWORD_LENGTH))
    now = clock.iso()
    for voter in voters:
        yield {"election_id": election_id, "voter_code": voter["voter_id"], "name": voter["name"],
               "email": voter["email"], "password_encrypted": box.seal(voter["password"] or next(passwords)),
               "weight": voter.get("weight", 1), "created_at": now}


def import_roster(db, election_id, parsed, secret_key):
    """Add every voter of a RosterParse in one transaction; return how many.

    Raises RosterRejected (and writes nothing) when the parse has errors, a voter's email
    or voter ID is already on the roster, or voting has opened.
    """
    if parsed.errors or not parsed.voters:
        raise RosterRejected(parsed.errors or [RowError(None, None, "There are no voters to add.")])
    voters = [dict(v) for v in parsed.voters]  # generated IDs must not leak into the caller's parse
    with immediate(db):
        _check_unlocked(db, election_id)
        emails, codes = existing_voters(db, election_id)
        errors = roster_conflicts(voters, emails, codes)
        if errors:
            raise RosterRejected(errors)
        _fill_voter_ids(voters, codes)
        db["voters"].insert_all(_voter_rows(election_id, voters, secret_key), batch_size=INSERT_CHUNK)
    return len(voters)


def update_voter(db, election_id, voter_pk, values, secret_key):
    """Change one voter (blank voter_id/password keep the current ones); return changed fields.

    A new email also bumps link_version, so a ballot link sent to the old address stops working.
    """
    voter, errors = validate_voter(values)
    if errors:
        raise RosterRejected(errors)
    with immediate(db):
        _check_unlocked(db, election_id)
        current = one(db, "SELECT * FROM voters WHERE id = ? AND election_id = ?", [voter_pk, election_id])
        if current is None:
            raise RosterRejected([RowError(None, None, "That voter is not on this roster.")])
        errors = roster_conflicts([voter], *existing_voters(db, election_id, except_pk=voter_pk))
        if errors:
            raise RosterRejected(errors)
        changes = _changes(current, voter, secret_key)
        if changes:
            db["voters"].update(voter_pk, changes)
    return sorted(k.replace("_encrypted", "").replace("voter_code", "voter_id")
                  for k in changes if k != "link_version")


def _changes(current, voter, secret_key):
    changes = {}
    if voter["name"] != current["name"]:
        changes["name"] = voter["name"]
    if voter["email"] != current["email"]:
        changes.update(email=voter["email"], link_version=current["link_version"] + 1)
    if voter["voter_id"] and voter["voter_id"] != current["voter_code"]:
        changes["voter_code"] = voter["voter_id"]
    if voter["weight"] != current["weight"]:
        changes["weight"] = voter["weight"]
    if voter["password"]:
        changes["password_encrypted"] = Box(secret_key, "voter-passwords").seal(voter["password"])
    return changes


def remove_voter(db, election_id, voter_pk):
    """Remove a voter who has not voted, before voting opens; return the removed row."""
    with immediate(db):
        current = one(db, "SELECT * FROM voters WHERE id = ? AND election_id = ?", [voter_pk, election_id])
        if current is None:
            raise RosterRejected([RowError(None, None, "That voter is not on this roster.")])
        if current["has_voted"]:
            raise RosterRejected([RowError(None, None, (
                f"{current['email']} has voted, so they can never be removed from the roster."))])
        _check_unlocked(db, election_id)
        db["voters"].delete(voter_pk)
    return current
