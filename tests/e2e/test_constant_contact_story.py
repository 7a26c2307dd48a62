"""Connecting Constant Contact and watching voters leave the list, against the live sandbox."""
import pytest
from playwright.sync_api import expect

from cc_sandbox import store as sandbox_store
from eo_cc.db import rows

from ..factories import make_election, make_voters
from .steps import cast_ballot, create_admin, grant_access, log_in, open_sandbox_list, sync_now, use_list

pytestmark = pytest.mark.browser

VOTER_LIST = sandbox_store.DEMO_VOTER_LIST
CONFIGURED = "now configured to integrate with your Constant Contact account"


@pytest.fixture
def election(cc_site, site_db):
    """An open election of a logged-out admin, with voter1..3@example.org on its roster."""
    db = site_db(cc_site)
    admin_id = create_admin(cc_site)
    election_id = make_election(db, admin_id, title="Annual Meeting 2026",
                                questions=[("Who should chair the meeting?", ["Alice", "Bob"], 1)])
    make_voters(db, election_id, count=3, secret_key=cc_site.app.config["SECRET_KEY"])
    return db["elections"].get(election_id)


def integration_settings(page, site, election):
    page.goto(f"{site.url}/elections/{election['id']}")
    page.get_by_role("link", name="Integration Settings").click()
    expect(page.get_by_role("heading", name="Constant Contact Settings")).to_be_visible()


def list_name(page):
    return page.locator("li").filter(has_text="List Name:")


def connections(site, site_db):
    return rows(site_db(site), "SELECT organisation_id, needs_grant FROM cc_connections")


def test_admin_connects_constant_contact_and_chooses_the_voter_list(page, cc_site, election, site_db):
    log_in(page, cc_site.url, "ada@example.org")
    integration_settings(page, cc_site, election)
    expect(list_name(page)).to_contain_text("None yet")

    grant_access(page)
    expect(page.get_by_text(CONFIGURED)).to_be_visible()
    assert [c["needs_grant"] for c in connections(cc_site, site_db)] == [0]

    use_list(page, VOTER_LIST)
    expect(list_name(page)).to_contain_text(VOTER_LIST)
    chosen = site_db(cc_site)["elections"].get(election["id"])
    assert chosen["cc_list_name"] == VOTER_LIST


def test_denying_access_leaves_everything_as_it_was(page, cc_site, election, site_db):
    log_in(page, cc_site.url, "ada@example.org")
    integration_settings(page, cc_site, election)

    grant_access(page, decision="Deny")

    expect(page.get_by_text("You did not grant access; nothing changed.")).to_be_visible()
    expect(page.get_by_text(CONFIGURED)).to_have_count(0)
    expect(page.get_by_role("button", name="Grant access")).to_be_visible()
    expect(list_name(page)).to_contain_text("None yet")
    assert connections(cc_site, site_db) == []


def test_disconnecting_forgets_the_connection_and_offers_grant_access_again(page, cc_site, election,
                                                                           site_db):
    log_in(page, cc_site.url, "ada@example.org")
    integration_settings(page, cc_site, election)
    grant_access(page)
    use_list(page, VOTER_LIST)

    page.get_by_role("button", name="Disconnect").click()

    expect(page.get_by_text("Disconnected from Constant Contact.")).to_be_visible()
    expect(page.get_by_role("button", name="Grant access")).to_be_visible()
    expect(page.get_by_role("button", name="Select a List")).to_have_count(0)
    assert connections(cc_site, site_db) == []


def test_sync_now_removes_a_voter_who_voted_from_the_list(page, new_page, cc_site, election):
    sandbox = cc_site.sandbox
    log_in(page, cc_site.url, "ada@example.org")
    integration_settings(page, cc_site, election)
    grant_access(page)
    use_list(page, VOTER_LIST)

    cast_ballot(new_page(), f"{cc_site.url}/vote/{election['slug']}", "V0001", "pw-1",
                {"Who should chair the meeting?": ["Alice"]})
    page.reload()
    sync_now(page)

    sandbox_list = new_page()
    open_sandbox_list(sandbox_list, sandbox.url, VOTER_LIST)
    expect(sandbox_list.get_by_text("voter2@example.org", exact=True)).to_be_visible()
    expect(sandbox_list.get_by_text("voter1@example.org", exact=True)).to_have_count(0)


def test_admin_turns_off_eo_cc_mail_when_constant_contact_sends_it(page, cc_site, election, site_db):
    log_in(page, cc_site.url, "ada@example.org")
    integration_settings(page, cc_site, election)
    grant_access(page)
    use_list(page, VOTER_LIST)
    expect(page.get_by_text("still sends")).to_be_visible()

    page.get_by_role("link", name="Turn them off in the election settings").click()
    page.get_by_label("Send the announcement email from eo_cc").uncheck()
    page.get_by_label("Send reminder emails from eo_cc").uncheck()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()

    page.get_by_role("link", name="Integration Settings").click()
    expect(page.get_by_text("still sends")).to_have_count(0)
    saved = site_db(cc_site)["elections"].get(election["id"])
    assert (saved["has_announcement_email"], saved["has_reminder_emails"]) == (0, 0)
