"""The roster's optional weight column and the warning about weights few voters share."""
import io

import pytest

from eo_cc.roster import weights
from eo_cc.roster.voters import RosterRejected, import_roster, parse_roster

from ..factories import SECRET_KEY, make_admin, make_election


@pytest.fixture
def election_id(db):
    return make_election(db, make_admin(db), state="draft", opens_in_hours=24)


def test_weights_are_read_with_decimals_and_a_blank_or_missing_weight_is_one(db, election_id):
    parsed = parse_roster(b"email,Weight\na@example.org,3\nb@example.org,\nc@example.org,0.25\nd@example.org,1.5\n")
    assert parsed.errors == []
    assert [v["weight"] for v in parsed.voters] == [3, 1, 0.25, 1.5]
    import_roster(db, election_id, parsed, SECRET_KEY)
    assert [r[0] for r in db.execute("SELECT weight FROM voters ORDER BY id")] == [3, 1, 0.25, 1.5]
    assert parse_roster(b"email\na@example.org\n").voters[0]["weight"] == 1


@pytest.mark.parametrize("weight, words", [
    ("0", "positive number"), ("-2", "positive number"), ("many", "is not a number"),
    ("nan", "positive number"), ("inf", "positive number"), ("1e12", "too large"),
    ("0.123456", "more than 5 decimal places"), ("1,5", "is not a number"),
])
def test_a_bad_weight_is_a_row_error_and_nothing_is_imported(db, election_id, weight, words):
    parsed = parse_roster(f'email;weight\na@example.org;2\nb@example.org;{weight}\n'.encode())
    assert [(e.row, e.column) for e in parsed.errors] == [(3, "weight")]
    assert words in parsed.errors[0].message
    with pytest.raises(RosterRejected):
        import_roster(db, election_id, parsed, SECRET_KEY)
    assert db.execute("SELECT COUNT(*) FROM voters").fetchone()[0] == 0


def test_weights_fewer_than_five_voters_share_are_named_and_voters_are_not():
    classes = weights.small_classes([1] * 6 + [2.5] * 4 + [10])
    assert classes == [("2.5", 4), ("10", 1)]
    message = weights.warning(classes)
    assert "2.5 (4 voters), 10 (1 voter)" in message and "Fewer than 5 voters" in message


def test_one_weight_for_everyone_singles_no_ballot_out():
    assert weights.small_classes([1, 1, 1]) == [] and weights.small_classes([4, 4]) == []
    assert weights.warning([]) is None


def test_the_upload_warns_about_a_small_weight_class(client, auth, db, election_id):
    auth.login()
    rows = "".join(f"v{n}@example.org,{2 if n < 3 else 1}\n" for n in range(8))
    page = client.post(f"/elections/{election_id}/roster/upload", follow_redirects=True,
                       data={"file": (io.BytesIO(f"email,weight\n{rows}".encode()), "r.csv")},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert "8 voters added." in page
    assert "Fewer than 5 voters share the weight 2 (3 voters)." in page
    assert "v0@example.org" not in page.split("Fewer than 5")[1].split("</")[0]


def test_a_weighted_roster_shows_and_downloads_its_weights(client, auth, db, election_id):
    auth.login()
    client.post(f"/elections/{election_id}/roster/upload", data={"file": (io.BytesIO(
        b"email,weight\na@example.org,2.5\nb@example.org,\n"), "r.csv")}, content_type="multipart/form-data")
    page = client.get(f"/elections/{election_id}/roster").get_data(as_text=True)
    assert "<th scope=\"col\">Weight</th>" in page and "<td>2.5</td>" in page
    download = client.get(f"/elections/{election_id}/roster/download").get_data(as_text=True)
    assert download.lstrip("\ufeff").splitlines()[0] == "voter_id,name,email,has_voted,weight"
    assert download.splitlines()[1].endswith(",no,2.5")


def test_an_unweighted_roster_has_no_weight_column(client, auth, db, election_id):
    auth.login()
    client.post(f"/elections/{election_id}/roster/upload", data={"file": (io.BytesIO(
        b"email\na@example.org\n"), "r.csv")}, content_type="multipart/form-data")
    assert "Weight</th>" not in client.get(f"/elections/{election_id}/roster").get_data(as_text=True)
    download = client.get(f"/elections/{election_id}/roster/download").get_data(as_text=True)
    assert download.lstrip("\ufeff").splitlines()[0] == "voter_id,name,email,has_voted"


def test_an_admin_sets_and_changes_one_voters_weight(client, auth, db, election_id):
    auth.login()
    client.post(f"/elections/{election_id}/roster/add", data={"email": "a@example.org", "weight": "4"})
    [voter] = db.query("SELECT id, weight FROM voters")
    assert voter["weight"] == 4
    edit = client.get(f"/elections/{election_id}/roster/{voter['id']}/edit").get_data(as_text=True)
    assert 'value="4"' in edit
    refused = client.post(f"/elections/{election_id}/roster/{voter['id']}/edit",
                          data={"email": "a@example.org", "weight": "-1"}).get_data(as_text=True)
    assert "The weight must be a positive number" in refused
    client.post(f"/elections/{election_id}/roster/{voter['id']}/edit", data={"email": "a@example.org", "weight": "1.5"})
    assert db.execute("SELECT weight FROM voters").fetchone()[0] == 1.5
