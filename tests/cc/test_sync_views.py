"""Sync now, the not-in-the-list CSV, the panel, `flask cc-sync` and scripts/cc_sync.py."""
import importlib.util
import time

import pytest
import requests

from cc_sandbox import server, store, tokens
from eo_cc.cc.budget import sync_lock
from eo_cc.cc.commands import is_sync_running
from eo_cc.cc.sync import sync_lock_path
from eo_cc.cc.tokens import save_token

from .. import ROOT
from ..factories import SECRET_KEY, make_admin, make_election
from .fake_cc import LIST_ID, FakeCC, mocker
from .test_sync import queue, states


@pytest.fixture
def cc():
    with mocker() as m:
        yield FakeCC(m)


@pytest.fixture
def election(db, admin, organisation):
    save_token(db, SECRET_KEY, organisation, {"access_token": "access-1", "refresh_token": "refresh-1",
                                              "expires_at": int(time.time()) + 86400})
    return make_election(db, admin, cc_list_id=LIST_ID, cc_list_name="Voters")


def wait_until(condition, seconds=60):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.slow
def test_sync_now_runs_in_a_detached_process_and_the_page_shows_it_running_then_its_result(
        app, client, db, admin, organisation, tmp_path):
    """The request answers at once; the run goes on in `flask cc-sync` (its own process, with the
    site's settings) while the page says so, and the page then shows what it removed."""
    sandbox_db = str(tmp_path / "sandbox.sqlite")
    # A removal that CC takes 3 s to finish keeps the detached run going past the first page view.
    with server.start(sandbox_db, demo=True, activity_delay=3) as sandbox:
        demo = store.seed_demo(sandbox_db)
        app.config.update(sandbox.cc_config(demo["client_id"], demo["client_secret"]))
        save_token(db, SECRET_KEY, organisation, tokens.grant_directly(
            sandbox_db, demo["client_id"], demo["account_id"], "http://127.0.0.1/callback"))
        election = make_election(db, admin, cc_list_id=demo["voter_list_id"], cc_list_name="Voters")
        queue(db, election, ["voter1@example.org", "voter2@example.org"])

        response = client.post(f"/elections/{election}/integration/sync")
        assert response.status_code == 302
        assert response.headers["Location"].endswith(f"/elections/{election}/integration")
        page = client.get(f"/elections/{election}/integration").get_data(as_text=True)
        assert "Sync started" in page and "A sync is running now" in page
        assert '<meta http-equiv="refresh"' in page and ">Sync now<" not in page
        assert states(db, election) != {"done": 2}

        wait_until(lambda: not is_sync_running(app.config))
        page = " ".join(client.get(f"/elections/{election}/integration").get_data(as_text=True).split())
        members = requests.get(f"{sandbox.url}/_sandbox/lists/{demo['voter_list_id']}/members.json").json()
    assert states(db, election) == {"done": 2}
    assert "2 removed, 0 not in the list" in page
    assert "Your list is up to date — safe to send a reminder now" in page
    assert "A sync is running now" not in page
    assert not {"voter1@example.org", "voter2@example.org"} & set(members["emails"])
    assert "removed" in (tmp_path / "cc_sync.log").read_text()


def test_sync_now_while_a_run_holds_the_lock_starts_nothing_and_says_so(app, client, db, election):
    queue(db, election, ["a@example.org"])
    with sync_lock(sync_lock_path(app.config)) as acquired:
        assert acquired
        page = client.post(f"/elections/{election}/integration/sync",
                           follow_redirects=True).get_data(as_text=True)
        assert "A sync is already running" in page and "A sync is running now" in page
    assert states(db, election) == {"queued": 1}


def test_sync_now_without_a_chosen_list_asks_for_one(client, db, admin, cc):
    election = make_election(db, admin)
    response = client.post(f"/elections/{election}/integration/sync", follow_redirects=False)
    assert response.status_code == 302 and len(cc.mocker.request_history) == 0
    with client.session_transaction() as session:
        assert ("warning", "Choose a Constant Contact list first.") in session["_flashes"]


def test_sync_now_is_a_post_only(client, election, db, cc):
    queue(db, election, ["a@example.org"])
    assert client.get(f"/elections/{election}/integration/sync").status_code == 405
    assert states(db, election) == {"queued": 1}


@pytest.mark.parametrize("method, path", [
    ("post", "/elections/{id}/integration/sync"), ("get", "/elections/{id}/integration"),
    ("get", "/elections/{id}/integration/not-in-list.csv")])
def test_another_admins_election_is_not_found(client, db, admin, method, path, cc):
    other = make_election(db, make_admin(db, email="bob@example.org"), cc_list_id=LIST_ID)
    queue(db, other, ["a@example.org"])
    response = getattr(client, method)(path.format(id=other))
    assert response.status_code == 404
    assert states(db, other) == {"queued": 1} and len(cc.mocker.request_history) == 0


def test_not_in_list_emails_download_as_csv(client, db, election):
    queue(db, election, ["zed@example.org", "amy@example.org", "done@example.org"])
    db.execute("UPDATE cc_removals SET state = 'not_in_list' WHERE email != 'done@example.org'")
    response = client.get(f"/elections/{election}/integration/not-in-list.csv")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.get_data(as_text=True).splitlines() == [
        "\ufeffemail", "amy@example.org", "zed@example.org"]


def test_panel_shows_queue_failures_not_in_list_and_the_button(client, db, election):
    queue(db, election, ["a@example.org", "b@example.org", "c@example.org"])
    db.execute("UPDATE cc_removals SET state = 'not_in_list' WHERE email = 'c@example.org'")
    db.execute("UPDATE cc_removals SET attempts = 1, last_error = 'Constant Contact activity failed' "
               "WHERE email = 'b@example.org'")
    page = client.get(f"/elections/{election}/integration").get_data(as_text=True)
    assert "Sync status" in page
    assert "2 voters who voted are still on the list; they will be removed at" in page
    assert "Constant Contact did not finish the removal (failed)" in page
    assert f"/elections/{election}/integration/not-in-list.csv" in page
    assert "Sync now" in page and 'name="csrf_token"' in page


def test_panel_shows_the_verdict_in_the_admins_timezone(client, db, election):
    db.execute("UPDATE admins SET timezone = 'Asia/Kolkata'")
    queue(db, election, ["a@example.org"])
    page = client.get(f"/elections/{election}/integration").get_data(as_text=True)
    assert "1 voter who voted is still on the list; they will be removed at" in page
    assert ":30 Asia/Kolkata" in page   # India is UTC+5:30, runs are on the UTC hour


def test_integration_settings_page_includes_the_panel(client, db, election):
    queue(db, election, ["a@example.org"])
    page = client.get(f"/elections/{election}/integration").get_data(as_text=True)
    assert "Sync status" in page and "1 voter who voted is still on the list" in page


# --- the command and the cron script ---------------------------------------------------------

def test_cc_sync_command_runs_the_sync_and_exits_with_its_code(runner, cc, db, election):
    cc.add_list(emails=["a@example.org"])
    queue(db, election, ["a@example.org", "nobody@example.org"])
    result = runner.invoke(args=["cc-sync", "--election", str(election)])
    assert result.exit_code == 0, result.output
    assert "1 removed, 1 not in the list" in result.output
    assert states(db, election) == {"done": 1, "not_in_list": 1}


def test_cc_sync_command_dry_run_changes_nothing(runner, cc, db, election):
    cc.add_list(emails=["a@example.org"])
    queue(db, election, ["a@example.org"])
    result = runner.invoke(args=["cc-sync", "--dry-run", "--verbose"])
    assert result.exit_code == 0 and "would remove 1" in result.output
    assert cc.calls("remove") == 0 and states(db, election) == {"queued": 1}


def test_cc_sync_command_exits_2_without_cc_credentials(app, runner, db, election):
    app.config["CC_CLIENT_SECRET"] = None
    queue(db, election, ["a@example.org"])
    result = runner.invoke(args=["cc-sync"])
    assert result.exit_code == 2 and "CC_CLIENT_SECRET" in result.output


def test_cc_sync_command_has_help(runner):
    result = runner.invoke(args=["cc-sync", "--help"])
    assert "Constant Contact list" in result.output and "--dry-run" in result.output


def load_script():
    spec = importlib.util.spec_from_file_location("cc_sync_script", ROOT / "scripts" / "cc_sync.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("credentials, code, says", [
    (True, 0, "Nothing to sync"), (False, 2, "Configuration error")])
def test_cron_script_uses_the_instance_folder_and_exits_with_the_code(
        app, monkeypatch, capsys, tmp_path, credentials, code, says):
    assert app.instance_path == str(tmp_path)   # EO_CC_INSTANCE_PATH points here
    (tmp_path / "config.py").write_text(f"SECRET_KEY = {SECRET_KEY!r}\n")
    if credentials:
        monkeypatch.setenv("FLASK_CC_CLIENT_ID", "id")
        monkeypatch.setenv("FLASK_CC_CLIENT_SECRET", "secret")
    assert load_script().main([]) == code
    assert says in capsys.readouterr().out
    assert (tmp_path / "eo_cc.sqlite").exists()


def test_crontab_example_runs_the_sync_hourly_and_mail_every_five_minutes():
    lines = [line for line in (ROOT / "crontab.example").read_text().splitlines()
             if line and not line.startswith("#")]
    assert "EO_CC_INSTANCE_PATH=/srv/eo_cc/instance" in lines
    assert any(line.startswith("0 * * * *") and "flock -n" in line and "scripts/cc_sync.py" in line
               for line in lines)
    assert any(line.startswith("*/5 * * * *") and "flask --app eo_cc send-mail" in line
               for line in lines)
