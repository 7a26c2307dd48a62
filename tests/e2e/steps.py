"""Story steps shared by the browser tests: what a person does on a page."""
import re
import time
from pathlib import Path

from playwright.sync_api import expect

from cc_sandbox import store as sandbox_store
from eo_cc.db import connect

from ..factories import ADMIN_PASSWORD, make_admin


def log_in(page, base_url, email, password=ADMIN_PASSWORD):
    """Log an admin in through the real form."""
    page.goto(f"{base_url}/auth/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def create_admin(server, email="ada@example.org", password=ADMIN_PASSWORD, name="Ada"):
    database = connect(server.app.config["DATABASE"])
    try:
        return make_admin(database, email=email, password=password, name=name)
    finally:
        database.close()


def mail_link(server, email, path_start, wait_seconds=30):
    """The path of the link to this site in the newest mail to email (the file outbox).

    Some mail goes out once the page has been answered: wait for it to arrive."""
    outbox = Path(server.app.instance_path) / "outbox"
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        for mail in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
            found = re.search(rf"https?://[^/\s]+({re.escape(path_start)}\S*)", mail.read_text())
            if f"To: {email}" in mail.read_text() and found:
                return found.group(1)
        time.sleep(0.05)
    mails = [m.read_text()[-400:] for m in outbox.glob("*.eml")] if outbox.exists() else "no outbox"
    raise AssertionError(f"no mail to {email} with {path_start} in {outbox}: {mails}")


def sign_up(page, server, name, email, password):
    """Create an admin account through the sign-up page and the link it mails."""
    page.goto(f"{server.url}/auth/signup")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Repeat password").fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    page.goto(server.url + mail_link(server, email, "/auth/signup/"))
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_text(email)).to_be_visible()


def cast_ballot(page, voters_page, voter_id, password, choices):
    """Sign in as a voter, mark {question: [choice labels]}, cast; return the receipt code."""
    page.goto(voters_page)
    page.get_by_label("Voter ID").fill(voter_id)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in to vote").click()
    for question, labels in choices.items():
        fieldset = page.get_by_role("group", name=question)
        for label in labels:
            fieldset.get_by_label(label, exact=True).check()
    page.get_by_role("button", name="Cast ballot").click()
    expect(page.get_by_role("heading", name="Your receipt code")).to_be_visible()
    return page.locator(".receipt").inner_text().strip()


def grant_access(page, decision="Accept"):
    """Grant access → sign in at the sandbox → Accept (or Deny) → back on Integration Settings."""
    page.get_by_role("button", name="Grant access").click()
    page.get_by_label("Email").fill(sandbox_store.DEMO_EMAIL)
    page.get_by_label("Password").fill(sandbox_store.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name=decision).click()
    expect(page.get_by_role("heading", name="Constant Contact Settings")).to_be_visible()


def use_list(page, name):
    page.get_by_role("button", name="Select a List").click()
    row = page.get_by_role("row").filter(has_text=name)
    row.get_by_role("button", name="Use this list").click()
    expect(page.get_by_role("heading", name="Constant Contact Settings")).to_be_visible()


def sync_now(page):
    """Press Sync now on Integration Settings: the page shows the run going on, refreshes
    itself, and then shows the verdict (the run is a separate process)."""
    page.get_by_role("button", name="Sync now").click()
    expect(page.get_by_role("status").filter(has_text="Your list is up to date")).to_be_visible(
        timeout=30_000)


def open_sandbox_list(page, sandbox_url, name):
    """The sandbox's page of one list, reached from its home page like a person would."""
    page.goto(f"{sandbox_url}/_sandbox/")
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
