"""Constant Contact mailings that let voters vote, against the live sandbox: the roster and the list
made to match, ballot links put into CC, a link asked for again, a vote during an import, closing."""
import time

import pytest
import requests
from playwright.sync_api import expect

from eo_cc.db import one, rows
from eo_cc.voting.notices import ballot_link_url

from ..factories import make_election, make_voters
from .steps import create_admin, grant_access, log_in, mail_link, open_sandbox_list, use_list

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LIST = "Spring Vote 2026 — Voters"
TITLE = "Spring Vote 2026"
FIELD = f"Ballot link – {TITLE}"
QUESTION = "Should we build the new hall?"
DOMAIN = "members.example.org"
RUN_SECONDS = 60_000   # ms a background run may take to show its result


def email(n):
    return f"voter{n}@{DOMAIN}"


def sandbox_api(sandbox, method, path, **kwargs):
    response = requests.request(method, f"{sandbox.url}/_sandbox{path}", timeout=10, **kwargs)
    response.raise_for_status()
    return response.json()


@pytest.fixture
def story(cc_site, site_db):
    """Roster of 6; the CC list holds 5 of them (voter5 unsubscribed) and 2 strangers."""
    cc_site.app.config["BASE_URL"] = cc_site.url     # links in CC must lead to this site
    sandbox_api(cc_site.sandbox, "POST", "/seed", json={
        "account": {"email": "demo@cc-sandbox.test"},
        "lists": [{"name": LIST, "contacts": [
            *({"email": email(n)} for n in (1, 2, 3, 4)), {"email": email(5), "status": "unsubscribed"},
            {"email": "stranger1@example.net"}, {"email": "stranger2@example.net"}]}]})
    db = site_db(cc_site)
    election_id = make_election(db, create_admin(cc_site), title=TITLE, questions=[(QUESTION, ["Yes", "No"], 1)],
                                has_announcement_email=0, has_reminder_emails=0)
    make_voters(db, election_id, count=6, secret_key=cc_site.app.config["SECRET_KEY"], domain=DOMAIN)
    return db, db["elections"].get(election_id)


def members(cc_site, list_id):
    return {m["email"]: m for m in sandbox_api(cc_site.sandbox, "GET", f"/lists/{list_id}/members.json")["members"]}


def press(page, name, flash="This page shows the result when Constant Contact has finished."):
    """Press a button of Integration Settings and wait for its answer; while the detached run goes
    on, the page refreshes itself, and its last refresh shows the result."""
    page.get_by_role("button", name=name).click()
    expect(page.get_by_text(flash).first).to_be_visible()


def shows(locator, text):
    expect(locator).to_contain_text(text, timeout=RUN_SECONDS)


def vote_with_link(page, link):
    page.goto(link)
    page.get_by_role("group", name=QUESTION).get_by_label("Yes", exact=True).check()
    page.get_by_role("button", name="Cast ballot").click()
    expect(page.get_by_role("heading", name="Your receipt code")).to_be_visible()


def new_link_by_mail(page, server, slug, address):
    """A voter asks for a new ballot link on the voter page; returns the link mailed to them."""
    page.goto(f"{server.url}/vote/{slug}")
    page.get_by_role("link", name="Get a new ballot link").click()
    page.get_by_label("Email").fill(address)
    page.get_by_role("button", name="Email me a new link").click()
    expect(page.get_by_text("a new personal ballot link is on its way")).to_be_visible()
    return server.url + mail_link(server, address, f"/vote/{slug}/link/")


def test_roster_and_list_made_to_match_ballot_links_in_cc_and_closing_removes_them(page, new_page, cc_site, story):
    db, election = story
    sandbox = cc_site.sandbox
    log_in(page, cc_site.url, "ada@example.org")
    page.goto(f"{cc_site.url}/elections/{election['id']}/integration")
    grant_access(page)
    use_list(page, LIST)
    list_id = db["elections"].get(election["id"])["cc_list_id"]

    # The check: 1 missing, 2 strangers, 1 unsubscribed
    expect(page.get_by_role("heading", name="Roster and list")).to_be_visible()
    press(page, "Check the list now")
    shows(page.locator("#check-on-list"), "4 voters")
    expect(page.locator("#check-missing")).to_contain_text("1 voter on the roster not on the list")
    expect(page.locator("#check-stranger")).to_contain_text("2 people on the list not on the roster")
    expect(page.locator("#check-unsubscribed")).to_contain_text("1 voter on the roster whose contact is unsubscribed")

    # The fixes
    press(page, "Add them to the list")
    shows(page.locator("#check-missing"), "1 added to the list")
    press(page, "Remove them from the list")
    shows(page.locator("#check-stranger"), "2 taken off the list")
    press(page, "Send them their ballot link from eo_cc", flash="eo_cc mailed 1 voter(s) their ballot link.")
    on_list = members(cc_site, list_id)
    assert sorted(on_list) == [email(n) for n in range(1, 7)]
    assert sandbox_api(sandbox, "GET", "/contacts.json", params={"email": "stranger1@example.net"})["contacts"]
    assert "/link/" in mail_link(cc_site, email(5), f"/vote/{election['slug']}/link/")

    # Ballot links into Constant Contact
    press(page, "Put ballot links into Constant Contact")
    shows(page.get_by_role("listitem").filter(has_text="Links in Constant Contact:"),
          "every voter on the list who has not voted has their current link")
    voters = rows(db, "SELECT * FROM voters WHERE election_id = ? ORDER BY id", [election["id"]])
    on_list = members(cc_site, list_id)
    for voter in voters:
        assert on_list[voter["email"]]["custom_fields"] == {
            "_".join(FIELD.split()): ballot_link_url(cc_site.app.config, election, voter)}
    cc_page = new_page()
    open_sandbox_list(cc_page, sandbox.url, LIST)
    expect(cc_page.get_by_role("columnheader", name=FIELD)).to_be_visible()
    voter1_link = cc_page.get_by_role("row").filter(has_text=email(1)).get_by_role("link")
    voter1 = new_page()
    voter1.goto(voter1_link.get_attribute("href"))
    expect(voter1.get_by_role("button", name="Cast ballot")).to_be_visible()   # the link signed voter1 in

    # voter3 asks for a new link; voter2 too, and votes with it while the import runs
    voter2, voter3 = new_page(), new_page()
    new_link3 = new_link_by_mail(voter3, cc_site, election["slug"], email(3))
    new_link2 = new_link_by_mail(voter2, cc_site, election["slug"], email(2))
    sandbox_api(sandbox, "POST", "/limits", json={"activity_delay": 8})
    press(page, "Sync now", flash="This page shows its result when it has finished.")
    deadline = time.monotonic() + 30
    while not one(db, "SELECT 1 AS x FROM cc_imports WHERE finished_at IS NULL AND contact_count = 2"):
        assert time.monotonic() < deadline, "the run did not start the import"
        time.sleep(0.1)
    vote_with_link(voter2, new_link2)
    assert one(db, "SELECT 1 AS x FROM cc_imports WHERE finished_at IS NULL AND contact_count = 2"), \
        "the import had finished before voter2 voted"
    shows(page.get_by_role("listitem").filter(has_text="Links in Constant Contact:"),
          "every voter on the list who has not voted has their current link")
    shows(page.get_by_role("status").filter(has_text="safe to send"), "Your list is up to date")
    on_list = members(cc_site, list_id)
    assert email(2) not in on_list                                       # voted during the import: removed
    assert on_list[email(3)]["custom_fields"] == {"_".join(FIELD.split()): new_link3}   # the new link is in CC

    # Closing deletes the field, and every link with it
    sandbox_api(sandbox, "POST", "/limits", json={"activity_delay": 0.2})
    page.goto(f"{cc_site.url}/elections/{election['id']}")
    page.get_by_role("button", name="Close voting").click()
    expect(page.get_by_text("Voting is closed.")).to_be_visible()
    page.goto(f"{cc_site.url}/elections/{election['id']}/integration")  # closing started the run
    shows(page.locator("#ballot-links + p"), f"eo_cc deleted the custom field {FIELD}")
    assert all(m["custom_fields"] == {} for m in members(cc_site, list_id).values())
    cc_page.reload()
    expect(cc_page.get_by_role("columnheader", name=FIELD)).to_have_count(0)
