"""Browser-test fixtures: a live eo_cc site, a live Constant Contact sandbox, and chromium.

Both servers listen on 127.0.0.1 on free ports, run in daemon threads and stop
at teardown. The site runs with CSRF on, as in production, so a form without
its token fails here even though the unit tests (CSRF off) pass.
"""
import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from cc_sandbox import demo
from eo_cc import create_app
from eo_cc.db import connect
from eo_cc.migrations import migrate

CHROMIUM = os.environ.get("EO_CC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ACTION_TIMEOUT_MS = 10_000


class LiveServer:
    """A WSGI app served by werkzeug in a daemon thread."""

    def __init__(self, app):
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def chromium_missing():
    return not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK))


def pytest_collection_modifyitems(config, items):
    """Skip browser tests, with the reason, when there is no chromium to drive."""
    if not chromium_missing():
        return
    skip = pytest.mark.skip(reason=f"chromium not found at {CHROMIUM}: "
                                   "apt-get install chromium (make test does it as root)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser):
    context = browser.new_context()
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture
def new_page(browser):
    """Open a page in a fresh browser context (its own cookies), e.g. for a second voter."""
    contexts = []

    def open_page():
        context = browser.new_context()
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def sandbox(tmp_path):
    """A live Constant Contact sandbox with its demo account, lists and contacts."""
    from cc_sandbox import server

    running = server.start(str(tmp_path / "sandbox.sqlite"), port=0, demo=True, activity_delay=0.2)
    yield running
    running.stop()


def site_config(instance, sandbox_url=None):
    """Config for a live site: production-like (CSRF on), CC pointed at the sandbox."""
    config = {
        "SECRET_KEY": "e2e-secret-key-not-for-production",
        "DATABASE": str(instance / "eo_cc.sqlite"),
        "WTF_CSRF_ENABLED": True,
        "MAIL_BACKEND": "file",
        "CC_REQUESTS_PER_SECOND": 1000,
    }
    if sandbox_url:
        config.update(demo.sandbox_config(sandbox_url))
    return config


def start_site(tmp_path, monkeypatch, sandbox_url=None):
    instance = Path(tmp_path) / "instance"
    instance.mkdir()
    monkeypatch.setenv("EO_CC_INSTANCE_PATH", str(instance))
    app = create_app(site_config(instance, sandbox_url))
    database = connect(app.config["DATABASE"])
    migrate(database)
    database.close()
    return LiveServer(app)


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A live eo_cc site with no Constant Contact behind it."""
    server = start_site(tmp_path, monkeypatch)
    yield server
    server.stop()


@pytest.fixture
def cc_site(tmp_path, monkeypatch, sandbox):
    """A live eo_cc site whose CC_* settings point at the live sandbox."""
    server = start_site(tmp_path, monkeypatch, sandbox.url)
    server.sandbox = sandbox
    yield server
    server.stop()


@pytest.fixture
def site_db():
    """Open the live site's database (for setting up rows and checking outcomes)."""
    opened = []

    def open_db(server):
        database = connect(server.app.config["DATABASE"])
        opened.append(database)
        return database

    yield open_db
    for database in opened:
        database.close()
