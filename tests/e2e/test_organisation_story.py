"""An organisation's election run by three people: the chair (owner) invites a secretary (admin)
and a scrutineer (observer); each does what their role allows; the chair removes the secretary."""
import pytest
from playwright.sync_api import expect

from eo_cc.mail import outbox_path

from ..factories import invitation_link, make_election, make_voters
from .steps import create_admin, grant_access, log_in

pytestmark = pytest.mark.browser

CONFIGURED = "now configured to integrate with your Constant Contact account"
PASSWORD = "a long enough password"


def invite(page, email, role):
    page.get_by_label("Email").fill(email)
    page.get_by_label("Role", exact=True).select_option(label=role)
    page.get_by_role("button", name="Invite").click()
    expect(page.get_by_text(f"Invitation sent to {email}.")).to_be_visible()


def accept_invitation(page, link, name):
    """Follow the mailed link and create an account with the invited address."""
    page.goto(link)
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_role("button", name="Create account and join").click()
    expect(page.get_by_text("Welcome to Chair's organisation")).to_be_visible()


def open_election(page, title):
    page.get_by_role("link", name="Elections").click()
    page.get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title)).to_be_visible()


def test_an_owner_runs_an_election_with_an_admin_and_an_observer(page, new_page, cc_site, site_db):
    db = site_db(cc_site)
    chair = create_admin(cc_site, email="chair@example.org", name="Chair")
    election_id = make_election(db, chair, title="Annual Meeting 2026", state="draft", opens_in_hours=24,
                                questions=[("Who should chair the meeting?", ["Alice", "Bob"], 1)])
    make_voters(db, election_id, count=3, secret_key=cc_site.app.config["SECRET_KEY"])
    outbox = outbox_path(cc_site.app.config)
    election_url = f"{cc_site.url}/elections/{election_id}"

    # The chair invites a secretary and a scrutineer from the Members page.
    log_in(page, cc_site.url, "chair@example.org")
    page.get_by_role("link", name="Members").first.click()
    expect(page.get_by_role("heading", name="Members")).to_be_visible()
    invite(page, "secretary@example.org", "Admin")
    invite(page, "scrutineer@example.org", "Observer")

    # The secretary signs up from the mail, edits the roster and connects Constant Contact.
    secretary = new_page()
    accept_invitation(secretary, invitation_link(outbox, "secretary@example.org"), "Secretary")
    open_election(secretary, "Annual Meeting 2026")
    secretary.get_by_role("link", name="Roster").click()
    secretary.get_by_role("link", name="Edit voter1@example.org").click()
    secretary.get_by_label("Name").fill("Voter One")
    secretary.get_by_role("button", name="Save").click()
    expect(secretary.get_by_text("Voter saved.")).to_be_visible()
    secretary.get_by_role("link", name="Integration Settings").click()
    grant_access(secretary)
    expect(secretary.get_by_text(CONFIGURED)).to_be_visible()

    # The scrutineer sees turnout and the audit log, and nothing they may not touch.
    scrutineer = new_page()
    accept_invitation(scrutineer, invitation_link(outbox, "scrutineer@example.org"), "Scrutineer")
    open_election(scrutineer, "Annual Meeting 2026")
    expect(scrutineer.get_by_text("0 of 3 voted")).to_be_visible()
    expect(scrutineer.get_by_role("link", name="Roster")).to_have_count(0)
    expect(scrutineer.get_by_role("button", name="Close voting")).to_have_count(0)
    scrutineer.get_by_role("link", name="Audit log").click()
    log = scrutineer.get_by_role("table")
    expect(log.get_by_role("row").filter(has_text="granted Constant Contact access")).to_contain_text(
        "Secretary (secretary@example.org)")
    expect(log.get_by_role("row").filter(has_text="edited voter")).to_contain_text("Secretary")
    for path in ("/roster", "/roster/credentials", "/roster/add"):
        assert scrutineer.goto(election_url + path).status == 403, path
    scrutineer.goto(election_url + "/integration")
    expect(scrutineer.get_by_role("heading", name="Sync status")).to_be_visible()
    expect(scrutineer.get_by_role("button", name="Grant access")).to_have_count(0)
    expect(scrutineer.get_by_role("button", name="Select a List")).to_have_count(0)
    csrf_token = scrutineer.locator("input[name=csrf_token]").first.get_attribute("value")
    for action in ("grant", "disconnect", "sync"):
        response = scrutineer.request.post(f"{election_url}/integration/{action}",
                                           form={"csrf_token": csrf_token}, max_redirects=0)
        assert response.status == 403, action

    # The chair removes the secretary: the secretary's next page load logs them out.
    page.reload()
    page.get_by_role("button", name="Remove Secretary").click()
    expect(page.get_by_text("Secretary is no longer a member")).to_be_visible()
    secretary.reload()
    expect(secretary.get_by_text("You are no longer a member of Chair's organisation")).to_be_visible()
    expect(secretary.get_by_role("button", name="Log in")).to_be_visible()
    assert secretary.goto(election_url + "/roster").url.startswith(f"{cc_site.url}/auth/login")
