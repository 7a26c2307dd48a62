"""Ballot secrecy tried as an attacker would, never by reading our own schema.

The attacker has a voter's mail, a copy of the instance folder (database, -wal, -shm,
outbox) taken during or after voting, an admin account with every page and download, or
a voter's browser cookie. Each test links voters to their choices through one channel and
counts the links against the truth. Before receipts were parted from ballots and the box
was mixed, every channel linked every voter (see the issue-9 closing note); the ballot ids
here are made to sort against the cast order, so that a box that was not mixed would be
read in cast order, and a mixed one gives the attacker the reverse: not one right link.
"""
import base64
import email
import json
import re
import shutil
import sqlite3
import zlib
from contextlib import closing
from pathlib import Path

import pytest

from eo_cc.db import one, rows
from eo_cc.voting import ballots

from .. import forensics
from ..factories import make_admin, make_election, make_voters

CHOICES = ["Ada", "Ben", "Cy", "Dee", "Eve", "Fay"]
QUESTION = "Who should chair the board?"


class Election:
    """One open election, voters who vote through the real pages, and the truth to score against."""

    def __init__(self, app, db, voters, **columns):
        self.app, self.db = app, db
        self.admin_id = make_admin(db)
        self.id = make_election(db, self.admin_id, questions=[(QUESTION, CHOICES, 1)], **columns)
        self.slug = one(db, "SELECT slug FROM elections WHERE id = ?", [self.id])["slug"]
        make_voters(db, self.id, count=voters)
        self.choice_ids = {r["label"]: r["id"] for r in rows(db, "SELECT id, label FROM choices")}
        self.truth = {}  # email -> choice id
        self.cookies = {}

    def vote(self, n):
        """Voter n signs in and picks CHOICES[n % 6] (so no 2 of any 5 neighbours agree)."""
        client = self.app.test_client()
        client.post(f"/vote/{self.slug}", data={"voter_id": f"V{n:04d}", "password": f"pw-{n}"})
        choice = self.choice_ids[CHOICES[n % len(CHOICES)]]
        response = client.post(f"/vote/{self.slug}/ballot", data={"q1": str(choice)})
        assert "Your receipt code" in response.get_data(as_text=True)
        response.close()  # as a WSGI server does: runs what waits for the end of the response
        self.truth[f"voter{n}@example.org"] = choice
        self.cookies[n] = client.get_cookie("session").value
        return client

    def copy_instance(self, where):
        """The instance folder as a backup tool (or a thief) copies it while the site runs."""
        folder = Path(self.app.instance_path)
        target = Path(where)
        shutil.copytree(folder, target)
        return target

    def score(self, links):
        """How many {email: choice id} links are right."""
        return sum(self.truth.get(email) == choice for email, choice in links.items())


@pytest.fixture
def ballot_ids_against_cast_order(monkeypatch):
    """Each new ballot id sorts before the last: key order is the reverse of the cast order."""
    counter = iter(range(10 ** 6, 0, -1))
    monkeypatch.setattr(ballots.secrets, "token_hex", lambda n=16: f"{next(counter):0{2 * n}x}")


@pytest.fixture
def election(app, db, ballot_ids_against_cast_order):
    def build(voters=6, **columns):
        return Election(app, db, voters, **columns)
    return build


# --- the attacker's tools ---------------------------------------------------------------------

def read(path):
    return Path(path).read_bytes() if Path(path).exists() else b""


def database_image(folder):
    """The copied database as of its last commit: the db file with the WAL's pages applied."""
    return forensics.apply_wal(read(folder / "eo_cc.sqlite"), read(folder / "eo_cc.sqlite-wal"))


def open_image(image, folder, name):
    path = forensics.write_image(bytearray(image), str(folder / name))
    return closing(sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True))


def record_columns(conn, table):
    """Column names in the order a WITHOUT ROWID table's records hold them: key first."""
    info = conn.execute(f"PRAGMA table_info({table})").fetchall()
    key = sorted((c for c in info if c[5]), key=lambda c: c[5])
    return [c[1] for c in key] + [c[1] for c in info if not c[5]]


def cast_order_of_voters(conn):
    """Emails in the order voters voted: the removal outbox's rowids say it plainly."""
    return [row[0] for row in conn.execute("SELECT email FROM cc_removals ORDER BY id")]


def link_by_page_layout(folder):
    """Read ballot_selections' cells in the order they were written (highest offset first
    within a page) and zip them with the voters' order."""
    image = database_image(folder)
    with open_image(image, folder, "layout.sqlite") as conn:
        choice_at = record_columns(conn, "ballot_selections").index("choice_id")
        voters = cast_order_of_voters(conn)
    written = [cell.record[choice_at] for cell in forensics.insertion_order(image, "ballot_selections")]
    return dict(zip(voters, written))


def link_by_wal(folder):
    """Replay the copied WAL commit by commit: a commit that flips one voter to has_voted and
    adds selections is that voter's ballot."""
    db, wal = read(folder / "eo_cc.sqlite"), read(folder / "eo_cc.sqlite-wal")
    (folder / "snapshots").mkdir()
    snapshots = forensics.wal_snapshots(db, wal, str(folder / "snapshots"))
    if not snapshots:
        return {}
    base = forensics.write_image(bytearray(db), str(folder / "base.sqlite"))
    with closing(sqlite3.connect(snapshots[-1].path)) as conn:
        voter_columns = [c[1] for c in conn.execute("PRAGMA table_info(voters)")]
        choice_at = record_columns(conn, "ballot_selections").index("choice_id")
    links = {}
    for diff in forensics.snapshot_diffs(snapshots, base):
        voted = [dict(zip(voter_columns, row)) for row in diff.get("voters", ([], []))[0]]
        voted = [v["email"] for v in voted if v["has_voted"]]
        added = diff.get("ballot_selections", ([], []))[0]
        if len(voted) == 1 and added:
            links[voted[0]] = added[0][choice_at]
    return links


def receipts_in_mail(folder):
    """{email: receipt code} from the confirmation mails in the copied outbox."""
    found = {}
    for path in (folder / "outbox").glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes())
        code = re.search(r"receipt code: ([A-Z0-9-]+)", message.get_payload(decode=True).decode())
        if code:
            found[message["To"]] = code.group(1).replace("-", "")
    return found


def link_by_mail_and_database(folder):
    """Find each mailed receipt in the database, and follow whatever its row holds to a
    single ballot's selections."""
    image = database_image(folder)
    links = {}
    with open_image(image, folder, "joined.sqlite") as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")]
        selection_columns = [c[1] for c in conn.execute("PRAGMA table_info(ballot_selections)")]
        selections = [dict(zip(selection_columns, r)) for r in conn.execute("SELECT * FROM ballot_selections")]
        for voter, receipt in receipts_in_mail(folder).items():
            matching = [s for s in selections if receipt in s.values()]
            if not matching:  # the receipt is elsewhere: follow what its rows hold
                values = {value for table in tables for row in conn.execute(f'SELECT * FROM "{table}"')
                          if receipt in row for value in row} - {receipt}
                matching = [s for s in selections if values & set(s.values())]
            ballots_found = {tuple(v for k, v in s.items() if k != "choice_id") for s in matching}
            if len(ballots_found) == 1:
                links[voter] = matching[0]["choice_id"]
    return links


def visible_results(admin, election):
    """{choice id: votes} as an admin sees them now (the results CSV)."""
    response = admin.get(f"/elections/{election.id}/results.csv")
    if response.mimetype != "text/csv":
        return {}
    lines = response.get_data(as_text=True).lstrip("\ufeff").splitlines()[1:]
    return {election.choice_ids[line.split(",")[1]]: int(line.split(",")[2]) for line in lines}


def voted_list(admin, election):
    response = admin.get(f"/elections/{election.id}/roster/download?filter=voted")
    return {line.split(",")[2] for line in response.get_data(as_text=True).splitlines()[1:]}


def link_by_diffing_results(observations):
    """From (who had voted, what the results said) seen over time: wherever the results moved,
    the voters new since they last moved made the difference; one new voter is a link."""
    links, last_voters, last_results = {}, set(), {}
    for voters, results in observations:
        if results == last_results:
            continue
        new_voters = voters - last_voters
        moved = {choice: n - last_results.get(choice, 0) for choice, n in results.items()
                 if n != last_results.get(choice, 0)}
        if len(new_voters) == 1 and len(moved) == 1:
            links[new_voters.pop()] = next(iter(moved))
        last_voters, last_results = voters, results
    return links


# --- copies taken after voting closed ---------------------------------------------------------

@pytest.fixture
def closed(app, client, election, auth, tmp_path):
    """Six voters voted, then the admin closed voting on its page; a copy is taken."""
    vote_box = election(voters=6)
    for n in range(1, 7):
        vote_box.vote(n)
    auth.login()
    assert client.post(f"/elections/{vote_box.id}/close").status_code == 302
    vote_box.copy = vote_box.copy_instance(tmp_path / "stolen")
    return vote_box


def test_page_layout_of_a_copy_after_close_links_nobody(closed):
    links = link_by_page_layout(closed.copy)
    assert len(links) == 6 and closed.score(links) == 0


def test_the_wal_of_a_copy_after_close_is_empty_and_links_nobody(closed):
    assert read(closed.copy / "eo_cc.sqlite-wal") == b""
    assert link_by_wal(closed.copy) == {}


def test_mail_and_database_together_link_nobody(closed):
    assert len(receipts_in_mail(closed.copy)) == 6   # the attacker has every confirmation mail
    assert link_by_mail_and_database(closed.copy) == {}


def test_after_close_every_ballot_table_is_in_key_order_and_no_old_bytes_remain(closed):
    image = database_image(closed.copy)
    for table in ("receipts", "ballots", "ballot_selections"):
        cells = [cell.record for cell in forensics.insertion_order(image, table)]
        assert len(cells) == 6 and cells == sorted(cells), table
    owners = forensics.page_owners(image)
    with open_image(image, closed.copy, "check.sqlite") as conn:
        keys = {"receipts": [r[0] for r in conn.execute("SELECT code FROM receipts")],
                "ballots": [r[0] for r in conn.execute("SELECT ballot_id FROM ballots")]}
    for table, values in keys.items():
        for value in values:
            places = {owners[page] for page, _ in forensics.scan_pages(image, value.encode())}
            assert places <= {table, "ballot_selections"}, (value, places)
    shm = forensics.parse_shm(read(closed.copy / "eo_cc.sqlite-shm"))
    assert shm.mx_frame == 0


# --- copies taken during voting ---------------------------------------------------------------

@pytest.fixture
def mid_voting(app, election, tmp_path):
    """The box is mixed after every 4 ballots; 6 voters have voted; a copy is taken now."""
    app.config["MIX_BALLOTS_EVERY"] = 4
    vote_box = election(voters=6)
    for n in range(1, 7):
        vote_box.vote(n)
    vote_box.copy = vote_box.copy_instance(tmp_path / "stolen")
    return vote_box


def test_a_copy_during_voting_links_only_the_ballots_since_the_last_mix(mid_voting):
    since_mix = {"voter5@example.org", "voter6@example.org"}
    for links in (link_by_page_layout(mid_voting.copy), link_by_wal(mid_voting.copy)):
        right = {email for email, choice in links.items() if mid_voting.truth[email] == choice}
        assert right == since_mix   # the window README states: what came since the last mix


def test_without_a_mix_a_copy_during_voting_would_link_everyone(app, election, tmp_path):
    """The attacks work: with mixing put off, both read every voter's choice (the window a
    copy taken between mixes exposes, which README states in numbers)."""
    app.config["MIX_BALLOTS_EVERY"] = 10 ** 6
    vote_box = election(voters=6)
    for n in range(1, 7):
        vote_box.vote(n)
    copy = vote_box.copy_instance(tmp_path / "stolen")
    assert vote_box.score(link_by_page_layout(copy)) == 6
    assert vote_box.score(link_by_wal(copy)) == 6


# --- an admin diffing pages -------------------------------------------------------------------

def test_diffing_live_results_and_the_voted_list_after_every_vote_links_nobody(app, election, auth):
    """An admin reads the results and the voted list after each of 12 votes, and again after
    closing: live results in steps of k = 5 never move by fewer than 5 voters."""
    vote_box = election(voters=12, has_live_results=1, results_step=5)
    admin = app.test_client()
    admin.post("/auth/login", data={"email": "ada@example.org", "password": "correct horse battery"})
    observations = []
    for n in range(1, 13):
        vote_box.vote(n)
        observations.append((voted_list(admin, vote_box), visible_results(admin, vote_box)))
    assert any(results for _, results in observations)   # the admin did see live results
    admin.post(f"/elections/{vote_box.id}/close")
    observations.append((voted_list(admin, vote_box), visible_results(admin, vote_box)))
    assert sum(observations[-1][1].values()) == 12
    assert link_by_diffing_results(observations) == {}


def test_results_diffing_would_link_voters_if_results_followed_every_ballot():
    """The attack itself works: results that move with each ballot give each voter away."""
    observations = [({"a"}, {1: 1}), ({"a", "b"}, {1: 1, 2: 1}), ({"a", "b", "c"}, {1: 2, 2: 1})]
    assert link_by_diffing_results(observations) == {"a": 1, "b": 2, "c": 1}


# --- a voter's cookie -------------------------------------------------------------------------

def decode_session(cookie):
    """Flask's session cookie is signed, not encrypted: anyone holding it can read it."""
    payload = cookie.split(".")[1 if cookie.startswith(".") else 0]
    data = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return json.loads(zlib.decompress(data) if cookie.startswith(".") else data)


def test_the_cookie_after_casting_holds_no_receipt_and_cannot_bring_it_back(app, election):
    vote_box = election(voters=2)
    vote_box.vote(1)
    cookie = vote_box.cookies[1]
    receipt = one(vote_box.db, "SELECT code FROM receipts")["code"]
    session = decode_session(cookie)
    assert receipt not in json.dumps(session) and ballots.format_receipt(receipt) not in json.dumps(session)
    assert "receipt" not in session
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    for path in ("/voted", "/ballot", ""):
        page = replay.get(f"/vote/{vote_box.slug}{path}", follow_redirects=True).get_data(as_text=True)
        assert ballots.format_receipt(receipt) not in page
