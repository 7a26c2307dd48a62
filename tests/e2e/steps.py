"""Story steps shared by the browser tests: what a person does on a page."""
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
