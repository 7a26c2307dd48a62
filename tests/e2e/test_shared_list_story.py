"""Two open elections on one Constant Contact list, against the live sandbox: the second election's
admin is told the list is in use, shares it knowingly, and a member who votes in one election stays
on the list until they have voted in the other too."""
import pytest
from playwright.sync_api import expect

from ..factories import make_election, make_voters
from .steps import cast_ballot, create_admin, grant_access, log_in, open_sandbox_list, sync_now, use_list
from .test_constant_contact_story import VOTER_LIST, integration_settings

pytestmark = pytest.mark.browser

BOARD, BYLAWS = "Board election 2026", "Bylaw vote 2026"
BOARD_QUESTION, BYLAWS_QUESTION = "Who should chair the board?", "Adopt the new bylaws?"


@pytest.fixture
def elections(cc_site, site_db):
    """Two open elections of one organisation, both with voter1..3@example.org on the roster."""
    # This story asks Constant Contact for lists several times a second: pace eo_cc at CC's own 4/s.
    cc_site.app.config["CC_REQUESTS_PER_SECOND"] = 4
    db = site_db(cc_site)
    admin_id = create_admin(cc_site)
    made = {}
    for title, question, choices in ((BOARD, BOARD_QUESTION, ["Alice", "Bob"]),
                                     (BYLAWS, BYLAWS_QUESTION, ["Yes", "No"])):
        election_id = make_election(db, admin_id, title=title, questions=[(question, choices, 1)],
                                    has_announcement_email=0, has_reminder_emails=0)
        make_voters(db, election_id, count=3, secret_key=cc_site.app.config["SECRET_KEY"])
        made[title] = db["elections"].get(election_id)
    return made


def on_the_list(page, sandbox_url, email):
    open_sandbox_list(page, sandbox_url, VOTER_LIST)
    return page.get_by_text(email, exact=True).count() == 1


def test_a_member_leaves_a_shared_list_only_after_voting_in_both_elections(page, new_page, cc_site, elections):
    board, bylaws = elections[BOARD], elections[BYLAWS]
    log_in(page, cc_site.url, "ada@example.org")
    integration_settings(page, cc_site, board)
    grant_access(page)
    use_list(page, VOTER_LIST)

    # The bylaw vote's admin picks the same list: the picker says who uses it, and asks first.
    integration_settings(page, cc_site, bylaws)
    page.get_by_role("button", name="Select a List").click()
    row = page.get_by_role("row").filter(has_text=VOTER_LIST)
    expect(row).to_contain_text(f"Used by {BOARD}")
    row.get_by_role("button", name="Use this list").click()
    expect(page.get_by_role("heading", name=f"Share the list {VOTER_LIST}?")).to_be_visible()
    expect(page.get_by_text("one reminder too many, never one too few")).to_be_visible()
    expect(page.get_by_role("button", name="Create a list from this roster")).to_be_visible()
    page.get_by_role("button", name="Use this list for both elections").click()
    expect(page.locator("#shared-list")).to_contain_text(f"This list is shared with {BOARD}")
    integration_settings(page, cc_site, board)
    expect(page.locator("#shared-list")).to_contain_text(f"This list is shared with {BYLAWS}")

    # voter1 votes in the board election only: the sync keeps them on the list for the bylaw vote.
    cast_ballot(new_page(), f"{cc_site.url}/vote/{board['slug']}", "V0001", "pw-1",
                {BOARD_QUESTION: ["Alice"]})
    page.reload()
    sync_now(page)
    expect(page.locator("#held-on-shared-list")).to_contain_text("1 stay on the shared list")
    sandbox_page = new_page()
    assert on_the_list(sandbox_page, cc_site.sandbox.url, "voter1@example.org")

    # ... and votes in the bylaw vote too: the next sync takes them off.
    cast_ballot(new_page(), f"{cc_site.url}/vote/{bylaws['slug']}", "V0001", "pw-1",
                {BYLAWS_QUESTION: ["Yes"]})
    integration_settings(page, cc_site, bylaws)
    sync_now(page)
    assert not on_the_list(sandbox_page, cc_site.sandbox.url, "voter1@example.org")
    assert on_the_list(sandbox_page, cc_site.sandbox.url, "voter2@example.org")
