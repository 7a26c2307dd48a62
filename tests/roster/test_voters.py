import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eo_cc.crypto import CODE_ALPHABET, Box
from eo_cc.roster import voters as roster_csv
from eo_cc.roster.voters import (
    MAX_ROWS,
    RosterParse,
    RosterRejected,
    RowError,
    email_problem,
    import_roster,
    parse_roster,
    remove_voter,
    update_voter,
)

from ..factories import SECRET_KEY, make_admin, make_election, make_voters


@pytest.fixture
def election_id(db):
    """A draft election that opens tomorrow: its roster is still editable."""
    return make_election(db, make_admin(db), state="draft", opens_in_hours=24)


def voters_in(db, election_id):
    return list(db.query("SELECT * FROM voters WHERE election_id = ? ORDER BY id", [election_id]))


def columns_of(errors):
    return [(e.row, e.column) for e in errors]


@pytest.mark.parametrize("data", [
    b"email,name\nzoe@example.org,Zoe\n",
    b"\xef\xbb\xbfemail,name\nzoe@example.org,Zoe\n",                # UTF-8 with BOM
    b"email;name\nzoe@example.org;Zoe\n",                            # semicolons (European Excel)
    b"email\tname\nzoe@example.org\tZoe\n",                          # tabs
    b"email,name\r\nzoe@example.org,Zoe\r\n",                        # Windows line ends
    b"EMAIL , Name\n  ZOE@Example.ORG  , Zoe \n",                    # case and spaces
    b"Name,E-mail\nZoe,zoe@example.org\n",                           # other order, alias
    b'"email","name"\n"zoe@example.org","Zoe"\n',                    # quoted
    "email,name\nzoe@example.org,Zoe\n".encode("utf-16"),          # Excel "Unicode text"
])
def test_reads_one_voter_in_every_supported_shape(data):
    parsed = parse_roster(data)
    assert parsed.errors == []
    assert [(v["email"], v["name"]) for v in parsed.voters] == [("zoe@example.org", "Zoe")]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_reads_accented_names_in_utf8_and_windows_1252(encoding, delimiter):
    text = f"email{delimiter}name\nzoe@example.org{delimiter}Zoë Brontë\n"
    parsed = parse_roster(text.encode(encoding))
    assert parsed.voters[0]["name"] == "Zoë Brontë"


@pytest.mark.parametrize("header", ["Voter ID", "voter_id", "VOTER-ID", " voter id ", "VoterID"])
def test_voter_id_header_is_found_however_it_is_written(header):
    parsed = parse_roster(f"email,{header},Password\na@example.org,A-17,s3cret\n".encode())
    assert parsed.voters[0]["voter_id"] == "A-17"
    assert parsed.voters[0]["password"] == "s3cret"


def test_delimiter_is_taken_from_the_header_outside_quotes():
    parsed = parse_roster('email;"Name, full"\nzoe@example.org;"Brontë, Zoë"\n'.encode())
    assert parsed.voters[0]["email"] == "zoe@example.org"
    assert parsed.ignored_columns == ["Name, full"]


def test_other_columns_are_ignored_and_named():
    parsed = parse_roster(b"Member No,email,Team,,name\n7,a@example.org,Red,,Ann\n")
    assert parsed.ignored_columns == ["Member No", "Team"]
    assert parsed.voters[0]["name"] == "Ann"


def test_blank_lines_are_skipped_and_rows_keep_spreadsheet_numbers():
    parsed = parse_roster(b"email\n\na@example.org\n , \n\nb@example.org\n")
    assert [(v["row"], v["email"]) for v in parsed.voters] == [(3, "a@example.org"), (6, "b@example.org")]


def test_emails_are_trimmed_and_lower_cased():
    assert parse_roster(b"email\n  Ada.Lovelace@Example.ORG \n").voters[0]["email"] == "ada.lovelace@example.org"


def test_blank_voter_id_and_password_are_left_for_import_to_generate():
    voter = parse_roster(b"email,voter_id,password\na@example.org,,\n").voters[0]
    assert voter["voter_id"] is None and voter["password"] is None


@pytest.mark.parametrize("data, expected", [
    (b"name\nAnn\n", [(1, "email")]),
    (b"email,EMAIL\na@example.org,b@example.org\n", [(1, "email")]),
    (b"email\nnot-an-address\n", [(2, "email")]),
    (b"email,name\na@example.org,Ann\n,Bob\n", [(3, "email")]),
    (b"email\na@example.org\nb@example\n", [(3, "email")]),
    (b"email\na@localhost\n", [(2, "email")]),
    (b"email\na@example.org\nA@Example.org\n", [(3, "email")]),
    (b"email,voter_id\na@example.org,X1\nb@example.org,x1\n", [(3, "voter_id")]),
    (b"email,name\na@example.org," + b"n" * 201 + b"\n", [(2, "name")]),
    (b"email,voter_id\na@example.org," + b"v" * 65 + b"\n", [(2, "voter_id")]),
    (b"email,password\na@example.org," + b"p" * 65 + b"\n", [(2, "password")]),
    (b"email\n" + b"a" * 64 + b"@" + b"b" * 190 + b".org\n", [(2, "email")]),
    (b"email,name\na@example.org,\"Ann\x07\"\n", [(2, "name")]),
])
def test_invalid_rows_are_reported_by_row_and_column(data, expected):
    parsed = parse_roster(data)
    assert columns_of(parsed.errors) == expected
    assert parsed.voters == []


def test_duplicate_email_error_names_both_rows():
    parsed = parse_roster(b"email\na@example.org\nb@example.org\nA@EXAMPLE.org\n")
    assert parsed.errors == [RowError(4, "email", "a@example.org appears twice in the file (rows 2 and 4).")]


def test_every_bad_row_is_reported_not_only_the_first():
    parsed = parse_roster(b"email\nbad1\ngood@example.org\nbad2\n")
    assert [e.row for e in parsed.errors] == [2, 4]


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"  \n\n", "empty"),
    (b"email\n", "no voters"),
    (b"email\n\n\n", "no voters"),
    (b"PK\x03\x04rest-of-a-zip", "Save As"),
    (b"email\n\x00\x01\x02", "binary"),
    (b"email\nab\x81\x8d@example.org\n", "UTF-8 or Windows-1252"),
    (b'email\n"' + b"a" * 200_000 + b'"\n', "not a readable CSV"),
])
def test_unreadable_files_get_one_clear_error(data, words):
    parsed = parse_roster(data)
    assert len(parsed.errors) == 1 and words in parsed.errors[0].message
    assert parsed.voters == []


def test_more_than_the_row_limit_is_refused(monkeypatch):
    monkeypatch.setattr(roster_csv, "MAX_ROWS", 5)
    assert parse_roster(b"email\n" + b"".join(b"v%d@example.org\n" % i for i in range(5))).errors == []
    parsed = parse_roster(b"email\n" + b"".join(b"v%d@example.org\n" % i for i in range(6)))
    assert "more than 5 voters" in parsed.errors[0].message


def test_row_limit_is_a_hundred_thousand():
    assert MAX_ROWS == 100_000


def test_row_error_reads_like_a_sentence():
    assert str(RowError(3, "email", "The email is blank.")) == "Row 3, email: The email is blank."
    assert str(RowError(None, None, "The file is empty.")) == "The file is empty."


@given(st.binary(max_size=400))
@settings(max_examples=300, deadline=None)
def test_any_bytes_give_voters_or_errors_never_an_exception(data):
    parsed = parse_roster(data)
    assert isinstance(parsed, RosterParse)
    assert bool(parsed.voters) != bool(parsed.errors)


@given(st.lists(st.sampled_from(["email", "name", "voter_id", "x", "a@example.org", "Zoë", ",", ";",
                                 "\t", "\n", "\r\n", '"', " ", "\ufeff", "b@EXAMPLE.org"]), max_size=40),
       st.sampled_from(["utf-8", "cp1252", "utf-16"]))
@settings(max_examples=300, deadline=None)
def test_any_csv_like_text_gives_voters_or_errors(parts, encoding):
    parsed = parse_roster("".join(parts).encode(encoding, errors="replace"))
    assert bool(parsed.voters) != bool(parsed.errors)
    assert all(e.row is None or e.row >= 1 for e in parsed.errors)


@given(st.emails())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fast_email_check_never_accepts_what_email_validator_rejects(email):
    try:
        validate_email(email, check_deliverability=False)
        valid = True
    except EmailNotValidError:
        valid = False
    assert (email_problem(email) is None) == valid


# --- import ----------------------------------------------------------------------------

def test_import_adds_every_voter_with_generated_codes_and_encrypted_passwords(db, election_id):
    parsed = parse_roster(b"email,name,voter_id,password\na@example.org,Ann,A-1,given-pw\nb@example.org,Bob,,\n")
    assert import_roster(db, election_id, parsed, SECRET_KEY) == 2
    ann, bob = voters_in(db, election_id)
    box = Box(SECRET_KEY, "voter-passwords")
    assert (ann["voter_code"], box.open(ann["password_encrypted"])) == ("A-1", "given-pw")
    assert "given-pw" not in ann["password_encrypted"]
    assert len(bob["voter_code"]) == 8 and set(bob["voter_code"]) <= set(CODE_ALPHABET)
    generated = box.open(bob["password_encrypted"])
    assert len(generated) == 10 and set(generated) <= set(CODE_ALPHABET)


def test_generated_voter_ids_are_unique(db, election_id):
    data = b"email\n" + b"".join(b"v%d@example.org\n" % i for i in range(2000))
    import_roster(db, election_id, parse_roster(data), SECRET_KEY)
    codes = [v["voter_code"] for v in voters_in(db, election_id)]
    assert len(set(codes)) == 2000


def test_generated_voter_ids_avoid_codes_already_taken(db, election_id, monkeypatch):
    make_voters(db, election_id, count=1)  # voter_code V0001
    batches = iter([["V0001", "FRESH001"], ["FRESH002"]])
    monkeypatch.setattr(roster_csv, "random_codes",
                        lambda count, length: next(batches) if length == 8 else ["pw"] * count)
    import_roster(db, election_id, parse_roster(b"email\na@example.org\nb@example.org\n"), SECRET_KEY)
    assert sorted(v["voter_code"] for v in voters_in(db, election_id)) == ["FRESH001", "FRESH002", "V0001"]


def test_import_does_not_change_the_parse_it_was_given(db, election_id):
    parsed = parse_roster(b"email\na@example.org\n")
    import_roster(db, election_id, parsed, SECRET_KEY)
    assert parsed.voters[0]["voter_id"] is None


@pytest.mark.parametrize("data, expected", [
    (b"email\nnew@example.org\nVOTER2@example.org\n", [(3, "email")]),
    (b"email,voter_id\nnew@example.org,v0001\n", [(2, "voter_id")]),
])
def test_import_refuses_voters_already_on_the_roster_and_adds_none(db, election_id, data, expected):
    make_voters(db, election_id, count=3)
    with pytest.raises(RosterRejected) as rejected:
        import_roster(db, election_id, parse_roster(data), SECRET_KEY)
    assert columns_of(rejected.value.errors) == expected
    assert len(voters_in(db, election_id)) == 3


def test_one_bad_row_leaves_the_roster_unchanged(db, election_id):
    make_voters(db, election_id, count=2)
    before = voters_in(db, election_id)
    parsed = parse_roster(b"email\nok1@example.org\nnot an email\nok2@example.org\n")
    assert columns_of(parsed.errors) == [(3, "email")]
    with pytest.raises(RosterRejected):
        import_roster(db, election_id, parsed, SECRET_KEY)
    assert voters_in(db, election_id) == before


@given(st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=15, unique=True),
       st.integers(min_value=0, max_value=14))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_file_with_one_bad_row_imports_nothing(db, election_id, numbers, bad_index):
    before = voters_in(db, election_id)
    lines = [f"v{n}@example.org" for n in numbers]
    lines[bad_index % len(lines)] = "broken@"
    parsed = parse_roster(("email\n" + "\n".join(lines)).encode())
    with pytest.raises(RosterRejected):
        import_roster(db, election_id, parsed, SECRET_KEY)
    assert voters_in(db, election_id) == before


def test_import_is_refused_once_voting_has_opened(db):
    election_id = make_election(db, make_admin(db), state="open")
    with pytest.raises(RosterRejected) as rejected:
        import_roster(db, election_id, parse_roster(b"email\na@example.org\n"), SECRET_KEY)
    assert "locked" in rejected.value.errors[0].message
    assert voters_in(db, election_id) == []


@pytest.mark.slow
def test_a_hundred_thousand_voters_import_in_a_few_seconds(db, election_id):
    import time
    data = ("email,name\n" + "".join(f"voter{i}@example.org,Voter {i}\n" for i in range(MAX_ROWS))).encode()
    started = time.perf_counter()
    count = import_roster(db, election_id, parse_roster(data), SECRET_KEY)
    assert count == MAX_ROWS and db["voters"].count == MAX_ROWS
    assert time.perf_counter() - started < 15


# --- single voters -----------------------------------------------------------------------

def test_update_voter_changes_fields_and_new_email_revokes_the_ballot_link(db, election_id):
    voter_pk = make_voters(db, election_id, count=2)[0]
    changed = update_voter(db, election_id, voter_pk,
                           {"email": "New@Example.org", "name": "Neo", "voter_id": "", "password": "pw2"},
                           SECRET_KEY)
    row = db["voters"].get(voter_pk)
    assert changed == ["email", "name", "password"]
    assert (row["email"], row["name"], row["voter_code"], row["link_version"]) == (
        "new@example.org", "Neo", "V0001", 2)
    assert Box(SECRET_KEY, "voter-passwords").open(row["password_encrypted"]) == "pw2"


def test_update_voter_refuses_another_voters_email(db, election_id):
    first, second = make_voters(db, election_id, count=2)
    with pytest.raises(RosterRejected) as rejected:
        update_voter(db, election_id, first, {"email": "VOTER2@example.org"}, SECRET_KEY)
    assert columns_of(rejected.value.errors) == [(None, "email")]
    assert db["voters"].get(first)["email"] == "voter1@example.org"


def test_voter_who_has_voted_can_never_be_removed(db, election_id):
    voter_pk = make_voters(db, election_id, count=1)[0]
    db["voters"].update(voter_pk, {"has_voted": 1})
    with pytest.raises(RosterRejected) as rejected:
        remove_voter(db, election_id, voter_pk)
    assert "has voted" in rejected.value.errors[0].message
    assert db["voters"].count == 1


def test_remove_voter_deletes_only_that_voter(db, election_id):
    first, second = make_voters(db, election_id, count=2)
    assert remove_voter(db, election_id, first)["email"] == "voter1@example.org"
    assert [v["id"] for v in voters_in(db, election_id)] == [second]


def test_parse_reports_roster_clashes_together_with_the_files_own_problems(db, election_id):
    make_voters(db, election_id, count=1)
    parsed = parse_roster(b"email\nbad\nVoter1@example.org\n", roster_csv.existing_voters(db, election_id))
    assert columns_of(parsed.errors) == [(2, "email"), (3, "email")]
    assert "already on the roster" in parsed.errors[1].message


def test_rows_with_several_errors_do_not_count_twice_towards_the_row_limit(monkeypatch):
    monkeypatch.setattr(roster_csv, "MAX_ROWS", 3)
    parsed = parse_roster(b"email,name\n,\x01\n,\x01\n,\x01\n")
    assert len(parsed.errors) == 6 and "more than" not in str(parsed.errors)


@pytest.mark.parametrize("name", ["Eve\u202eenoyL", "Mallory\u2066x\u2069", "Bell\x07"])
def test_names_with_a_text_direction_override_or_control_character_are_refused_by_row(name):
    parsed = roster_csv.parse_roster(f"email,name\nok@example.org,Ok\nbad@example.org,{name}\n".encode())
    assert parsed.voters == []
    [error] = parsed.errors
    assert (error.row, error.column) == (3, "name")
    assert "control character" in error.message or "text-direction override" in error.message
