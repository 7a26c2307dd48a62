"""Select a List with a list another election uses: "Used by", the confirmation, both pages say so."""
import pytest

from eo_cc.db import one

from ..factories import make_election
from .test_views import connected, mock_two_pages, settings_page  # noqa: F401


@pytest.fixture
def board(db, admin):
    return make_election(db, admin, title="Board election", cc_list_id="l3", cc_list_name="Board 2026 voters")


@pytest.fixture
def bylaws(db, admin):
    return make_election(db, admin, title="Bylaw vote")


def choose(client, election_id, list_id, **extra):
    return client.post(f"/elections/{election_id}/integration/list", data={"list_id": list_id, **extra},
                       follow_redirects=True).get_data(as_text=True)


def test_the_picker_says_which_other_election_uses_a_list(client, connected, board, bylaws, requests_mock):
    mock_two_pages(requests_mock)
    page = client.get(f"/elections/{bylaws}/integration/lists").get_data(as_text=True)
    row = page[page.index("Board 2026 voters"):page.index("Zeta committee")]
    assert "Used by Board election" in row
    assert page.count("Used by") == 1


def test_a_closed_election_does_not_count_as_using_a_list(
        db, client, connected, admin, board, bylaws, requests_mock):
    db["elections"].update(board, {"state": "closed"})
    mock_two_pages(requests_mock)
    assert "Used by" not in client.get(f"/elections/{bylaws}/integration/lists").get_data(as_text=True)


def test_choosing_a_used_list_asks_first_and_changes_nothing(db, client, connected, board, bylaws,
                                                               requests_mock):
    mock_two_pages(requests_mock)
    page = choose(client, bylaws, "l3")
    assert "Share the list Board 2026 voters?" in page
    assert "one reminder too many, never one too few" in page
    assert "Use this list for both elections</button>" in page
    assert "Create a list from this roster</button>" in page
    assert db["elections"].get(bylaws)["cc_list_id"] is None


def test_use_this_list_for_both_elections_shares_it_and_both_pages_say_so(db, client, connected, board,
                                                                          bylaws, requests_mock):
    mock_two_pages(requests_mock)
    page = choose(client, bylaws, "l3", share="yes")
    assert "now uses the Constant Contact list Board 2026 voters (shared with Board election)" in page
    assert db["elections"].get(bylaws)["cc_list_id"] == "l3"
    for election_id, other in ((bylaws, "Board election"), (board, "Bylaw vote")):
        page = settings_page(client, election_id)
        notice = page[page.index('id="shared-list"'):]
        assert "This list is shared with" in notice and other in notice[:notice.index("</p>")]
    assert one(db, "SELECT detail FROM audit_log WHERE election_id = ?", [bylaws])["detail"] == \
        "Board 2026 voters (shared with Board election)"


def test_a_list_nobody_else_uses_is_chosen_at_once(db, client, connected, board, bylaws, requests_mock):
    mock_two_pages(requests_mock)
    page = choose(client, bylaws, "l4")
    assert "Share the list" not in page and db["elections"].get(bylaws)["cc_list_id"] == "l4"
    assert 'id="shared-list"' not in settings_page(client, bylaws)


def test_reading_the_lists_keeps_every_chosen_lists_name_current(db, client, connected, admin, bylaws,
                                                                 requests_mock):
    renamed = make_election(db, admin, title="Old", cc_list_id="l4", cc_list_name="Members (old name)")
    mock_two_pages(requests_mock)
    client.get(f"/elections/{bylaws}/integration/lists")
    assert db["elections"].get(renamed)["cc_list_name"] == "Members"
