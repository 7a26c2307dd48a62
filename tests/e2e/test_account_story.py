"""The connection names its Constant Contact account, and a grant for the wrong account is caught."""
import pytest
import requests
from playwright.sync_api import expect

from cc_sandbox import store as sandbox_store
from eo_cc.db import rows

from ..factories import make_election, make_voters
from .steps import cast_ballot, create_admin, grant_access, log_in, open_sandbox_list, sync_now, use_list

pytestmark = pytest.mark.browser

VOTER_LIST = sandbox_store.DEMO_VOTER_LIST
SECOND_LIST = "Hillside Members"   # the second sandbox account's list; voter1..5 are on it
NOT_HERE = "is not in the Constant Contact account now connected"


def account(sandbox, email):
    return requests.get(f"{sandbox.url}/_sandbox/account.json", params={"email": email}, timeout=10).json()


def grant_access_as_the_second_account(page):
    """Grant access again, switching to another Constant Contact account at its sign-in."""
    page.get_by_role("button", name="Grant access").click()
    page.get_by_role("button", name="Use another account").click()
    page.get_by_label("Email").fill(sandbox_store.SECOND_EMAIL)
    page.get_by_label("Password").fill(sandbox_store.SECOND_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("li[data-scope=account_read]")).to_have_count(1)   # the consent page lists it
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_role("heading", name="Constant Contact Settings")).to_be_visible()


def removals(site_db, site, election_id):
    return {row["email"]: row["state"] for row in rows(
        site_db(site), "SELECT email, state FROM cc_removals WHERE election_id = ?", [election_id])}


def test_the_page_names_the_account_and_a_grant_for_another_account_holds_the_list_back(
        page, new_page, cc_site, site_db):
    sandbox, db = cc_site.sandbox, site_db(cc_site)
    election_id = make_election(db, create_admin(cc_site), title="Annual Meeting 2026",
                                questions=[("Who should chair the meeting?", ["Alice", "Bob"], 1)],
                                has_announcement_email=0, has_reminder_emails=0)
    make_voters(db, election_id, count=3, secret_key=cc_site.app.config["SECRET_KEY"])
    slug = db["elections"].get(election_id)["slug"]
    demo, second = account(sandbox, sandbox_store.DEMO_EMAIL), account(sandbox, sandbox_store.SECOND_EMAIL)

    log_in(page, cc_site.url, "ada@example.org")
    page.goto(f"{cc_site.url}/elections/{election_id}")
    page.get_by_role("link", name="Integration Settings").click()
    grant_access(page)
    named = f"Connected to {demo['organization_name']} ({demo['contact_email']})"
    expect(page.get_by_text(named).first).to_be_visible()
    use_list(page, VOTER_LIST)

    cast_ballot(new_page(), f"{cc_site.url}/vote/{slug}", "V0001", "pw-1",
                {"Who should chair the meeting?": ["Alice"]})
    page.reload()
    grant_access_as_the_second_account(page)
    expect(page.get_by_text(f"Connected to {second['organization_name']} "
                            f"({second['contact_email']})").first).to_be_visible()
    expect(page.get_by_role("alert").filter(has_text=f"The list {VOTER_LIST} {NOT_HERE}")).to_be_visible()
    expect(page.get_by_text(f"grant access to {demo['organization_name']}").first).to_be_visible()

    page.get_by_role("button", name="Sync now").click()
    expect(page.get_by_text("Nothing was synced").first).to_be_visible()
    assert removals(site_db, cc_site, election_id) == {"voter1@example.org": "queued"}

    page.get_by_role("button", name="Change list").click()
    page.get_by_role("row").filter(has_text=SECOND_LIST).get_by_role("button", name="Use this list").click()
    expect(page.get_by_text(NOT_HERE)).to_have_count(0)
    expect(page.locator("li").filter(has_text="List Name:")).to_contain_text(SECOND_LIST)
    sync_now(page)

    assert removals(site_db, cc_site, election_id) == {"voter1@example.org": "done"}
    sandbox_list = new_page()
    open_sandbox_list(sandbox_list, sandbox.url, SECOND_LIST)
    expect(sandbox_list.get_by_text("voter2@example.org", exact=True)).to_be_visible()
    expect(sandbox_list.get_by_text("voter1@example.org", exact=True)).to_have_count(0)
