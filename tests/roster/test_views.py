import csv
import io

import pytest

from eo_cc import crypto
from eo_cc.crypto import Box

from ..factories import SECRET_KEY, make_admin, make_election, make_voters


@pytest.fixture
def election_id(db, admin):
    """The logged-in admin's draft election, opening tomorrow."""
    return make_election(db, admin, state="draft", opens_in_hours=24)


def upload(client, election_id, data, filename="roster.csv"):
    return client.post(f"/elections/{election_id}/roster/upload", follow_redirects=True,
                       data={"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data")


def read_csv(response):
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def voters_in(db, election_id):
    return list(db.query("SELECT * FROM voters WHERE election_id = ? ORDER BY id", [election_id]))


def audit_actions(db, election_id):
    return [(r["action"], r["detail"]) for r in db.query(
        "SELECT action, detail FROM audit_log WHERE election_id = ? ORDER BY id", [election_id])]


def test_roster_page_shows_counts_and_voters(client, db, election_id):
    voter_pks = make_voters(db, election_id, count=3)
    db["voters"].update(voter_pks[0], {"has_voted": 1})
    page = client.get(f"/elections/{election_id}/roster").get_data(as_text=True)
    assert "<dt>On the roster</dt><dd>3</dd>" in page
    assert "<dt>Voted</dt><dd>1</dd>" in page and "<dt>Not voted yet</dt><dd>2</dd>" in page
    assert "voter3@example.org" in page and "V0002" in page


def test_roster_page_lists_200_voters_per_page(client, db, election_id):
    make_voters(db, election_id, count=201)
    first = client.get(f"/elections/{election_id}/roster").get_data(as_text=True)
    second = client.get(f"/elections/{election_id}/roster?page=2").get_data(as_text=True)
    assert "voter200@example.org" in first and "voter201@example.org" not in first
    assert "voter201@example.org" in second and "Page 2 of 2" in second


def test_upload_adds_voters_and_names_ignored_columns(client, db, election_id):
    response = upload(client, election_id, b"Email;Name;Team\nann@example.org;Ann;Red\nbob@example.org;Bob;Blue\n")
    page = response.get_data(as_text=True)
    assert "2 voters added." in page and "These columns were ignored: Team." in page
    assert [v["email"] for v in voters_in(db, election_id)] == ["ann@example.org", "bob@example.org"]
    assert audit_actions(db, election_id) == [("imported roster", "2 voters from roster.csv")]


def test_upload_with_a_bad_row_lists_errors_and_imports_nothing(client, db, election_id):
    make_voters(db, election_id, count=1)
    response = upload(client, election_id, b"email\nnew@example.org\nnot-an-email\nVOTER1@example.org\n")
    page = response.get_data(as_text=True)
    assert "Nothing was imported" in page
    assert "<td>3</td><td>email</td>" in page and "not a valid email address" in page
    assert "<td>4</td><td>email</td>" in page and "already on the roster" in page
    assert len(voters_in(db, election_id)) == 1
    assert audit_actions(db, election_id) == []


def test_upload_shows_the_first_100_errors_and_counts_the_rest(client, db, election_id):
    data = b"email\n" + b"bad\n" * 150
    page = upload(client, election_id, data).get_data(as_text=True)
    assert page.count("not a valid email address") == 100
    assert "and 50 more" in page


@pytest.mark.parametrize("filename, data, words", [
    ("roster.xlsx", b"email\na@example.org\n", "Upload a .csv or .txt file"),
    ("roster.csv", b"name\nAnn\n", "no email column"),
    ("roster.csv", b"", "The file is empty"),
])
def test_unusable_uploads_get_a_clear_message(client, db, election_id, filename, data, words):
    page = upload(client, election_id, data, filename).get_data(as_text=True)
    assert words in page
    assert voters_in(db, election_id) == []


def test_upload_without_a_file_asks_for_one(client, election_id):
    response = client.post(f"/elections/{election_id}/roster/upload", data={},
                           content_type="multipart/form-data")
    assert "Choose a CSV file to upload." in response.get_data(as_text=True)


@pytest.mark.parametrize("filter_, expected", [
    ("all", ["V0001", "V0002", "V0003"]),
    ("voted", ["V0002"]),
    ("not_voted", ["V0001", "V0003"]),
])
def test_download_filters_voters_by_whether_they_voted(client, db, election_id, filter_, expected):
    voter_pks = make_voters(db, election_id, count=3)
    db["voters"].update(voter_pks[1], {"has_voted": 1})
    records = read_csv(client.get(f"/elections/{election_id}/roster/download?filter={filter_}"))
    assert [r["voter_id"] for r in records] == expected
    assert list(records[0]) == ["voter_id", "name", "email", "has_voted"]
    assert {r["has_voted"] for r in records} == ({"yes"} if filter_ == "voted" else
                                                 {"no"} if filter_ == "not_voted" else {"yes", "no"})


def test_download_refuses_an_unknown_filter(client, election_id):
    assert client.get(f"/elections/{election_id}/roster/download?filter=everyone").status_code == 400


def test_downloads_neutralise_spreadsheet_formulas(client, db, election_id):
    upload(client, election_id, b'email,name,voter_id\na@example.org,"=HYPERLINK(""x"")",+1\nb@example.org,@SUM,-2\n')
    records = read_csv(client.get(f"/elections/{election_id}/roster/download"))
    assert [(r["name"], r["voter_id"]) for r in records] == [("'=HYPERLINK(\"x\")", "'+1"), ("'@SUM", "'-2")]


def test_credentials_have_passwords_and_ballot_links_that_verify(app, client, db, election_id):
    upload(client, election_id, b"email,name,password\nann@example.org,Ann,given-pw\nbob@example.org,Bob,\n")
    records = read_csv(client.get(f"/elections/{election_id}/roster/credentials"))
    election = db["elections"].get(election_id)
    box = Box(SECRET_KEY, "voter-passwords")
    for record, voter in zip(records, voters_in(db, election_id), strict=True):
        assert record["password"] == box.open(voter["password_encrypted"])
        token = crypto.ballot_link_token(SECRET_KEY, voter["id"], voter["link_version"])
        assert record["ballot_link"] == f"http://localhost/vote/{election['slug']}/link/{voter['id']}/{token}"
        endpoint, args = app.url_map.bind("localhost").match(record["ballot_link"].removeprefix("http://localhost"))
        assert (endpoint, args) == ("voting.ballot_link",
                                    {"slug": election["slug"], "voter_id": voter["id"], "token": token})
    assert records[0]["password"] == "given-pw" and len(records[1]["password"]) == 10
    assert audit_actions(db, election_id)[-1] == ("downloaded voter credentials", "2 voters")
    assert "given-pw" not in str(audit_actions(db, election_id))


def test_add_voter_generates_voter_id_and_password(client, db, election_id):
    response = client.post(f"/elections/{election_id}/roster/add", follow_redirects=True,
                           data={"email": " Cy@Example.org ", "name": "Cy", "voter_id": "", "password": ""})
    assert "cy@example.org added to the roster." in response.get_data(as_text=True)
    voter = voters_in(db, election_id)[0]
    assert voter["email"] == "cy@example.org" and len(voter["voter_code"]) == 8
    assert audit_actions(db, election_id) == [("added voter", "cy@example.org")]


@pytest.mark.parametrize("form, words", [
    ({"email": "voter1@example.org"}, "already on the roster"),
    ({"email": "new@example.org", "voter_id": "v0001"}, "Voter ID v0001 is already on the roster"),
    ({"email": "nobody"}, "not a valid email address"),
    ({"email": "new@example.org", "name": "n" * 201}, "longer than 200 characters"),
])
def test_add_voter_uses_the_same_rules_as_the_csv(client, db, election_id, form, words):
    make_voters(db, election_id, count=1)
    response = client.post(f"/elections/{election_id}/roster/add", data=form)
    assert words in response.get_data(as_text=True)
    assert len(voters_in(db, election_id)) == 1


def test_edit_voter_saves_changes_and_audits_without_the_password(client, db, election_id):
    voter_pk = make_voters(db, election_id, count=1)[0]
    client.post(f"/elections/{election_id}/roster/{voter_pk}/edit",
                data={"email": "voter1@example.org", "name": "Renamed", "voter_id": "V0001", "password": "new-secret"})
    voter = db["voters"].get(voter_pk)
    assert voter["name"] == "Renamed"
    assert Box(SECRET_KEY, "voter-passwords").open(voter["password_encrypted"]) == "new-secret"
    assert audit_actions(db, election_id) == [("edited voter", "V0001: name, password changed")]


def test_remove_voter_takes_them_off_the_roster(client, db, election_id):
    first, second = make_voters(db, election_id, count=2)
    response = client.post(f"/elections/{election_id}/roster/{first}/remove", follow_redirects=True)
    assert "voter1@example.org removed from the roster." in response.get_data(as_text=True)
    assert [v["id"] for v in voters_in(db, election_id)] == [second]
    assert audit_actions(db, election_id) == [("removed voter", "V0001 voter1@example.org")]


def test_voter_who_has_voted_cannot_be_removed(client, db, election_id):
    voter_pk = make_voters(db, election_id, count=1)[0]
    db["voters"].update(voter_pk, {"has_voted": 1})
    response = client.post(f"/elections/{election_id}/roster/{voter_pk}/remove", follow_redirects=True)
    assert "has voted, so they can never be removed" in response.get_data(as_text=True)
    assert len(voters_in(db, election_id)) == 1


@pytest.mark.parametrize("method, path, data", [
    ("post", "upload", {"file": (io.BytesIO(b"email\nlate@example.org\n"), "r.csv")}),
    ("post", "add", {"email": "late@example.org"}),
    ("post", "{voter}/edit", {"email": "late@example.org"}),
    ("post", "{voter}/remove", {}),
    ("get", "add", None),
])
def test_roster_is_locked_once_voting_opens(client, db, admin, method, path, data):
    election_id = make_election(db, admin, state="open")
    voter_pk = make_voters(db, election_id, count=1)[0]
    url = f"/elections/{election_id}/roster/" + path.format(voter=voter_pk)
    response = getattr(client, method)(url, data=data, follow_redirects=True)
    assert "The roster is locked" in response.get_data(as_text=True)
    assert [v["email"] for v in voters_in(db, election_id)] == ["voter1@example.org"]


def test_locked_roster_page_has_no_upload_form(client, db, admin):
    election_id = make_election(db, admin, state="open")
    page = client.get(f"/elections/{election_id}/roster").get_data(as_text=True)
    assert "The roster is locked" in page and "Upload roster" not in page


ROSTER_URLS = [
    ("get", ""), ("post", "/upload"), ("get", "/download"), ("get", "/credentials"),
    ("get", "/add"), ("post", "/add"), ("get", "/{voter}/edit"), ("post", "/{voter}/edit"),
    ("post", "/{voter}/remove"),
]


@pytest.mark.parametrize("method, path", ROSTER_URLS)
def test_another_admins_roster_is_not_found(client, db, admin, method, path):
    other_election = make_election(db, make_admin(db, email="eve@example.org"), state="draft", opens_in_hours=24)
    voter_pk = make_voters(db, other_election, count=1)[0]
    url = f"/elections/{other_election}/roster" + path.format(voter=voter_pk)
    assert getattr(client, method)(url).status_code == 404
    assert [v["email"] for v in voters_in(db, other_election)] == ["voter1@example.org"]


@pytest.mark.parametrize("path", ["/{voter}/edit", "/{voter}/remove"])
def test_a_voter_from_another_election_is_not_found(client, db, admin, election_id, path):
    other = make_election(db, admin, title="Other", state="draft", opens_in_hours=24)
    voter_pk = make_voters(db, other, count=1)[0]
    assert client.post(f"/elections/{election_id}/roster" + path.format(voter=voter_pk)).status_code == 404
    assert len(voters_in(db, other)) == 1


@pytest.mark.parametrize("path", ["", "/download", "/credentials", "/add"])
def test_roster_pages_need_a_logged_in_admin(client, db, auth, path):
    election_id = make_election(db, auth.create(), state="draft")
    response = client.get(f"/elections/{election_id}/roster{path}")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_credentials_sealed_under_another_key_give_a_clear_message(client, db, election_id):
    make_voters(db, election_id, count=1, secret_key="an-older-secret-key")
    response = client.get(f"/elections/{election_id}/roster/credentials", follow_redirects=True)
    assert "cannot be decrypted" in response.get_data(as_text=True)
    assert response.mimetype == "text/html"


def test_upload_and_remove_work_with_csrf_protection_on(app, client, db, election_id):
    import re
    app.config["WTF_CSRF_ENABLED"] = True
    voter_pk = make_voters(db, election_id, count=1)[0]
    page = client.get(f"/elections/{election_id}/roster").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(f"/elections/{election_id}/roster/upload", content_type="multipart/form-data",
                           data={"csrf_token": token, "file": (io.BytesIO(b"email\nz@example.org\n"), "r.csv")},
                           follow_redirects=True)
    assert "1 voter added." in response.get_data(as_text=True)
    assert client.post(f"/elections/{election_id}/roster/{voter_pk}/remove").status_code == 400
    client.post(f"/elections/{election_id}/roster/{voter_pk}/remove", data={"csrf_token": token})
    assert [v["email"] for v in voters_in(db, election_id)] == ["z@example.org"]
