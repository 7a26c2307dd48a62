"""The walk-through `make demo` prints, on the demo's own data: a voter votes and leaves the CC list."""
import pytest
from playwright.sync_api import expect

from cc_sandbox import demo
from cc_sandbox import store as sandbox_store

from .steps import cast_ballot, grant_access, log_in, open_sandbox_list, sync_now, use_list

pytestmark = pytest.mark.browser


def test_demo_voter_who_votes_leaves_the_demo_list_after_sync_now(page, new_page, cc_site, site_db):
    secret_key = cc_site.app.config["SECRET_KEY"]
    db = site_db(cc_site)
    election = demo.seed(db, secret_key)
    (voter_id, password), _ = demo.voter_logins(db, secret_key, election["id"])

    log_in(page, cc_site.url, demo.ADMIN_EMAIL, demo.ADMIN_PASSWORD)
    page.get_by_role("link", name=demo.ELECTION_TITLE, exact=True).click()
    page.get_by_role("link", name="Integration Settings").click()
    grant_access(page)
    use_list(page, sandbox_store.DEMO_VOTER_LIST)

    choices = {prompt: labels[:1] for prompt, labels, _, _ in demo.QUESTIONS}
    cast_ballot(new_page(), f"{cc_site.url}/vote/{election['slug']}", voter_id, password, choices)
    page.reload()
    sync_now(page)

    sandbox_list = new_page()
    open_sandbox_list(sandbox_list, cc_site.sandbox.url, sandbox_store.DEMO_VOTER_LIST)
    expect(sandbox_list.locator("#member-count")).to_have_text(str(demo.VOTER_COUNT - 1))
    expect(sandbox_list.get_by_text("voter1@example.org", exact=True)).to_have_count(0)
    expect(sandbox_list.get_by_text("voter2@example.org", exact=True)).to_be_visible()
