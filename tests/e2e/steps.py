"""Story steps shared by the browser tests: what a person does on a page."""
from playwright.sync_api import expect

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


def sign_up(page, base_url, name, email, password):
    """Create an admin account through the sign-up page."""
    page.goto(f"{base_url}/auth/signup")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Repeat password").fill(password)
    page.get_by_role("button", name="Create account").click()
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
