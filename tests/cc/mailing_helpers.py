"""What the mailings' tests share: a Constant Contact with custom fields and imports, a sync run,
an election whose roster and list are given."""
import pytest

from eo_cc.db import one, rows
from eo_cc.voting.ballots import cast_ballot

from ..factories import make_voters
from .fake_cc import LIST_ID, mocker
from .fake_mailings import MailingsCC
from .test_sync import connect_organisation, election_with_list, sleeps, sync  # noqa: F401  (fixtures)


@pytest.fixture
def mcc():
    with mocker() as m:
        yield MailingsCC(m)


@pytest.fixture
def election(app, db):
    """An open election of a connected organisation, its list chosen, voter1..4 on its roster."""
    election_id = election_with_list(db, connect_organisation(db))
    make_voters(db, election_id, count=4, secret_key=app.config["SECRET_KEY"])
    return election_id


def row(db, election_id):
    return one(db, "SELECT * FROM elections WHERE id = ?", [election_id])


def voter(db, election_id, email):
    return one(db, "SELECT * FROM voters WHERE election_id = ? AND email = ?", [election_id, email])


def vote(db, election_id, email):
    """The voter casts a ballot (which queues their removal, as on the site)."""
    choices = rows(db, "SELECT min(c.id) AS id, c.question_id FROM choices c JOIN questions q "
                       "ON q.id = c.question_id WHERE q.election_id = ? GROUP BY c.question_id", [election_id])
    cast_ballot(db, voter(db, election_id, email)["id"], {c["question_id"]: [c["id"]] for c in choices})


def turn_links_on(db, election_id):
    db.execute("UPDATE elections SET has_cc_ballot_links = 1 WHERE id = ?", [election_id])


def imported_emails(mcc, n=-1):
    return sorted(item["email"] for item in mcc.imports[n]["import_data"])


def removal_states(db, election_id):
    return {r["email"]: r["state"] for r in rows(db, "SELECT email, state FROM cc_removals "
                                                     "WHERE election_id = ?", [election_id])}


__all__ = ["LIST_ID", "mcc", "sleeps", "sync", "election"]
