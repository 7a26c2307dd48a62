import os
import re
import stat

import pytest

from eo_cc import DEFAULTS, create_app

from . import ROOT


def test_secret_key_is_generated_into_instance_with_mode_600(tmp_path, monkeypatch):
    monkeypatch.setenv("EO_CC_INSTANCE_PATH", str(tmp_path))
    first = create_app().config["SECRET_KEY"]
    second = create_app().config["SECRET_KEY"]
    path = tmp_path / "secret_key"
    assert first == second and len(first) >= 40
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_environment_overrides_instance_config(tmp_path, monkeypatch):
    monkeypatch.setenv("EO_CC_INSTANCE_PATH", str(tmp_path))
    (tmp_path / "config.py").write_text("CC_REQUESTS_PER_SECOND = 2\nMAIL_FROM = 'a@b.c'\n")
    monkeypatch.setenv("FLASK_CC_REQUESTS_PER_SECOND", "3")
    app = create_app()
    assert app.config["CC_REQUESTS_PER_SECOND"] == 3
    assert app.config["MAIL_FROM"] == "a@b.c"


def test_security_headers_on_every_page(client):
    response = client.get("/auth/login")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_unknown_page_is_a_plain_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert b"There is nothing here" in response.data


def test_init_db_is_safe_to_run_twice(runner, db):
    assert "Database ready" in runner.invoke(args=["init-db"]).output
    assert "Database ready" in runner.invoke(args=["init-db"]).output
    assert {"voters", "ballots", "cc_removals"} <= set(db.table_names())
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_every_cli_command_has_help_text(app):
    commands = {name: cmd for name, cmd in app.cli.commands.items()}
    assert {"init-db", "create-admin"} <= set(commands)
    for name, command in commands.items():
        assert (command.help or "").strip(), f"flask {name} has no help text"


def test_example_instance_config_names_only_real_settings(app):

    example = {}
    exec((ROOT / "instance" / "config.example.py").read_text(), example)
    names = {key for key in example if key.isupper()}
    assert names and names <= set(app.config) | {"PROXY_FIX"}
    assert "SECRET_KEY" not in names


def settings_read_by_the_code():
    """Every config key eo_cc's modules read, found in their source."""
    pattern = re.compile(r"""config(?:\.get\(|\[)\s*["']([A-Z][A-Z0-9_]+)["']""")
    return {key for path in (ROOT / "eo_cc").rglob("*.py") for key in pattern.findall(path.read_text())}


def test_every_setting_the_code_reads_has_a_default_and_a_line_in_the_readme():
    flasks_own = {"SECRET_KEY", "PREFERRED_URL_SCHEME", "SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"}
    read = settings_read_by_the_code()
    assert "CC_SYNC_POLL_SECONDS" in read and "OUTBOX" in read   # the scan finds what it should
    assert read - flasks_own - {"DATABASE"} <= set(DEFAULTS)
    table = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| `")]
    undocumented = {key for key in read - {"SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"}
                    if not any(f"`{key}`" in line for line in table)}
    assert undocumented == set()


def file_modes(folder):
    return {str(path.relative_to(folder)): stat.S_IMODE(path.stat().st_mode) for path in folder.rglob("*")}


def test_the_instance_folder_and_every_file_in_it_are_private(tmp_path, monkeypatch):
    """Made by the site and cron as they run: folder 700, files 600 (database, WAL, shm,
    outbox, secret, locks, pace, log)."""
    from eo_cc.cc.budget import sync_lock
    from eo_cc.cc.pace import api_pace
    from eo_cc.cc.sync import sync_lock_path
    from eo_cc.db import connect
    from eo_cc.mail import send_mail
    from eo_cc.migrations import migrate

    instance = tmp_path / "instance"
    monkeypatch.setenv("EO_CC_INSTANCE_PATH", str(instance))
    app = create_app()
    db = connect(app.config["DATABASE"])
    migrate(db)
    db["admins"].count  # the -wal and -shm exist while a connection is open
    send_mail(app.config, "voter@example.org", "A mail", "with a ballot link")
    with sync_lock(sync_lock_path(app.config)):
        api_pace(app.config).wait()
    modes = file_modes(instance)
    db.close()
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    assert {"eo_cc.sqlite", "eo_cc.sqlite-wal", "eo_cc.sqlite-shm", "secret_key", "cc_sync.lock",
            "cc_pace_v3"} <= set(modes)
    assert any(name.startswith("outbox/") and name.endswith(".eml") for name in modes)
    assert {name: mode for name, mode in modes.items() if mode != (0o700 if name == "outbox" else 0o600)} == {}


def test_an_existing_open_instance_folder_is_made_private(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    monkeypatch.setenv("EO_CC_INSTANCE_PATH", str(instance))
    create_app({"SECRET_KEY": "s"})
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700


@pytest.mark.parametrize("base_url, backend, warned", [
    ("https://vote.example.org", "file", True), ("http://127.0.0.1:5000", "file", False),
    ("https://vote.example.org", "smtp", False)])
def test_the_file_outbox_on_a_public_site_is_called_a_demo_backend(tmp_path, monkeypatch, caplog,
                                                                   base_url, backend, warned):
    monkeypatch.setenv("EO_CC_INSTANCE_PATH", str(tmp_path))
    create_app({"SECRET_KEY": "s", "BASE_URL": base_url, "MAIL_BACKEND": backend})
    assert ("demo backend" in caplog.text) is warned
