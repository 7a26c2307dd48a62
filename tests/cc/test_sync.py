"""The hourly sync against a requests-mock Constant Contact: batches, look-ups, polling, failures."""
import time
from datetime import datetime, timedelta, timezone

import pytest

from eo_cc import DEFAULTS, clock
from eo_cc.cc import report as status_module
from eo_cc.cc import sync as sync_module
from eo_cc.cc.budget import sync_lock, utc_day
from eo_cc.cc.report import sync_status
from eo_cc.cc.sync import run_sync
from eo_cc.cc.tokens import load_token, save_token
from eo_cc.db import one, rows

from ..factories import SECRET_KEY, make_admin, make_election, organisation_of
from .fake_cc import LIST_ID, FakeCC, _endpoint, mocker


@pytest.fixture
def cc():
    with mocker() as m:
        yield FakeCC(m)


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def sync(app, db, sleeps, tmp_path):
    """Run the sync with a fake sleep; returns (result, printed lines)."""
    def run(**options):
        lines = []
        options.setdefault("lock_path", str(tmp_path / "cc_sync.lock"))
        result = run_sync(db, app.config, echo=lines.append, sleep=sleeps.append, **options)
        return result, lines
    return run


def connect_organisation(db, email="ada@example.org", expires_in=86400, refresh_token="refresh-1"):
    """A new admin's organisation, connected to Constant Contact; returns its id."""
    organisation_id = organisation_of(db, make_admin(db, email=email))
    save_token(db, SECRET_KEY, organisation_id, {
        "access_token": "access-1", "refresh_token": refresh_token,
        "expires_at": int(time.time()) + expires_in})
    return organisation_id


def election_with_list(db, organisation_id, list_id=LIST_ID, title="Board election"):
    return make_election(db, None, organisation_id=organisation_id, title=title, cc_list_id=list_id,
                         cc_list_name="Voters")


def queue(db, election_id, emails, queued_at=None):
    at = queued_at or clock.iso()
    db["cc_removals"].insert_all({"election_id": election_id, "email": email, "queued_at": at,
                                  "updated_at": at} for email in emails)


def states(db, election_id):
    return dict(db.execute("SELECT state, count(*) FROM cc_removals WHERE election_id = ? "
                           "GROUP BY state", [election_id]).fetchall())


def emails(n, start=1):
    return [f"voter{i}@example.org" for i in range(start, start + n)]


@pytest.fixture
def election(db):
    return election_with_list(db, connect_organisation(db))


# --- batches ---------------------------------------------------------------------------

def test_1201_voters_are_removed_in_three_batches_of_at_most_500(cc, db, sync, election):
    cc.add_list(emails=emails(1300))
    queue(db, election, emails(1201))
    result, lines = sync()
    assert [len(ids) for ids in cc.posted] == [500, 500, 201]
    assert states(db, election) == {"done": 1201}
    assert cc.members() == emails(99, start=1202)
    assert result.exit_code == 0 and result.elections[0].removed == 1201
    assert one(db, "SELECT count(*) AS n FROM cc_activities WHERE state = 'completed'")["n"] == 3
    assert any("submitted 1000 of 1201" in line for line in lines)


def test_each_removal_records_the_list_and_contact(cc, db, sync, election):
    cc.add_list(emails=emails(3))
    queue(db, election, emails(1))
    sync()
    row = one(db, "SELECT * FROM cc_removals WHERE election_id = ?", [election])
    assert (row["state"], row["list_id"], row["contact_id"]) == ("done", LIST_ID, "c-1")
    assert row["activity_id"] == "act-1"


# --- the cheaper look-up -----------------------------------------------------------------

def test_few_voters_on_a_big_list_are_looked_up_one_email_each(cc, db, sync, election):
    cc.add_list(emails=emails(5000))   # paging would cost 10 requests
    queue(db, election, emails(4))
    result, _ = sync()
    assert cc.calls("contacts_by_email") == 4
    assert cc.calls("contacts_in_list") == 0
    assert cc.calls("lists") == 1
    assert states(db, election) == {"done": 4}
    # 1 list size + 4 look-ups + 1 removal + 2 polls
    assert result.requests == 8


def test_two_voters_are_looked_up_without_asking_the_list_size(cc, db, sync, election):
    cc.add_list(emails=emails(10))
    queue(db, election, emails(2))
    sync()
    assert (cc.calls("lists"), cc.calls("contacts_by_email")) == (0, 2)


def test_many_voters_page_the_list_instead(cc, db, sync, election):
    cc.add_list(emails=emails(1200))   # 3 pages of 500
    queue(db, election, emails(40, start=1161))   # all on the last page
    result, _ = sync()
    assert cc.calls("contacts_by_email") == 0
    assert cc.calls("contacts_in_list") == 3
    assert states(db, election) == {"done": 40}
    assert result.requests == 1 + 3 + 1 + 2


def test_paging_follows_next_links_and_stops_once_every_email_is_found(cc, db, sync, election):
    cc.add_list(emails=emails(2000))
    queue(db, election, emails(30, start=501))   # found on page 2 of 4
    sync()
    assert cc.calls("contacts_in_list") == 2
    pages = [r.url for r in cc.mocker.request_history if "lists=" in r.url]
    assert "cursor=500" in pages[1] and "limit=500" in pages[0]


def test_what_paging_learns_is_cached_for_the_next_run(cc, db, sync, election):
    cc.add_list(emails=emails(1200))
    queue(db, election, emails(20, start=1181))
    sync()
    queue(db, election, emails(5, start=1))
    cc.mocker.reset_mock()
    sync()
    assert cc.calls("contacts_by_email") + cc.calls("contacts_in_list") == 0
    assert states(db, election) == {"done": 25}


def test_learnt_contact_ids_are_trusted_for_a_day_only(cc, db, sync, election):
    cc.add_list(emails=emails(1200))
    queue(db, election, emails(20, start=1181))
    sync()
    db.execute("UPDATE cc_contacts SET fetched_at = '2020-01-01T00:00:00+00:00'")
    queue(db, election, emails(5, start=1))
    cc.mocker.reset_mock()
    sync()
    assert cc.calls("contacts_by_email") + cc.calls("contacts_in_list") > 0
    assert states(db, election) == {"done": 25}


@pytest.mark.parametrize("how_many", [2, 30])
def test_voters_not_on_the_list_are_reported_not_removed(cc, db, sync, election, how_many):
    cc.add_list(emails=emails(5))
    cc.add_contact("elsewhere@example.org", ["another-list"])   # a contact, not on our list
    queue(db, election, ["elsewhere@example.org", "nobody@example.org"] + emails(how_many - 2))
    result, _ = sync()
    assert one(db, "SELECT count(*) AS n FROM cc_removals WHERE state = 'not_in_list' "
                   "AND email IN ('elsewhere@example.org', 'nobody@example.org')")["n"] == 2
    assert result.elections[0].not_in_list == 2 + max(0, how_many - 2 - 5)
    assert result.exit_code == 0
    assert "elsewhere@example.org" in sync_status(db, election, DEFAULTS)["not_in_list_emails"]


# --- polling -----------------------------------------------------------------------------

def test_polls_gently_until_the_activity_completes(app, db, sleeps, tmp_path, election):
    with mocker() as m:
        cc = FakeCC(m, activity_states=("initialized", "processing", "processing", "completed"))
        cc.add_list(emails=emails(3))
        queue(db, election, emails(3))
        result = run_sync(db, app.config, echo=lambda line: None, sleep=sleeps.append,
                          lock_path=str(tmp_path / "lock"))
    assert cc.calls("activity") == 4
    assert sleeps == [2, 4, 8]
    assert states(db, election) == {"done": 3}
    assert result.exit_code == 0


def test_activity_still_processing_at_the_end_is_left_for_the_next_run(app, db, sleeps, sync, election):
    with mocker() as m:
        cc = FakeCC(m, activity_states=("processing",))
        cc.add_list(emails=emails(3))
        queue(db, election, emails(3))
        result, _ = sync(poll_seconds=10)
    assert states(db, election) == {"submitted": 3}
    assert result.exit_code == 0 and result.elections[0].processing == 3
    with mocker() as m:
        later = FakeCC(m)
        later.contacts, later.activities = cc.contacts, cc.activities
        cc.activities["act-1"]["states"] = ["completed"]
        result, _ = sync()
    assert later.calls("remove") == 0 and later.calls("activity") == 1
    assert states(db, election) == {"done": 3}


def test_failed_activity_is_requeued_and_the_next_run_completes_it(app, db, sync, election):
    with mocker() as m:
        cc = FakeCC(m, activity_states=("processing", "failed"))
        cc.add_list(emails=emails(3))
        queue(db, election, emails(3))
        result, _ = sync()
        assert states(db, election) == {"queued": 3}
        assert result.exit_code == 1
        row = one(db, "SELECT attempts, last_error FROM cc_removals LIMIT 1")
        assert row["attempts"] == 1 and "failed" in row["last_error"]
        assert sync_status(db, election, DEFAULTS)["failures"][0]["last_error"] == row["last_error"]
        cc.activity_states = ["completed"]
        result, _ = sync()
    assert states(db, election) == {"done": 3}
    assert len(cc.posted) == 2 and result.exit_code == 0


def test_a_run_killed_after_submitting_polls_that_activity_next_time(app, db, sync, election):
    with mocker() as m:
        cc = FakeCC(m)
        cc.add_list(emails=emails(3))
        queue(db, election, emails(3))
        cc.mocker.get("https://api.test/v3/activities/act-1", exc=KeyboardInterrupt)
        with pytest.raises(KeyboardInterrupt):
            sync()
    assert states(db, election) == {"submitted": 3}
    assert one(db, "SELECT activity_id, contact_count FROM cc_activities") == {
        "activity_id": "act-1", "contact_count": 3}
    with mocker() as m:
        cc2 = FakeCC(m)
        cc.activities["act-1"]["states"] = ["completed"]
        cc2.activities = cc.activities
        cc2.contacts = cc.contacts
        result, _ = sync()
    assert cc2.calls("remove") == 0 and cc2.calls("activity") == 1
    assert states(db, election) == {"done": 3}
    assert result.elections[0].removed == 3


def test_an_activity_cc_no_longer_knows_is_requeued_and_resubmitted(cc, db, sync, election):
    cc.add_list(emails=emails(2))
    queue(db, election, emails(2))
    db.execute("UPDATE cc_removals SET state = 'submitted', activity_id = 'act-gone'")
    cc.mocker.get("https://api.test/v3/activities/act-gone", status_code=404,
                  json=[{"error_key": "not_found", "error_message": "Activity not found"}])
    sync()
    assert states(db, election) == {"done": 2}
    assert cc.posted == [["c-1", "c-2"]]


def test_choosing_another_list_during_a_run_leaves_its_voters_queued_for_the_new_list(
        cc, db, sync, election):
    cc.add_list(emails=emails(2))
    queue(db, election, emails(2))

    def change_list_then_answer(request, context):
        db.execute("UPDATE elections SET cc_list_id = 'list-new'")
        context.status_code = 201
        return {"activity_id": "act-old", "state": "initialized"}

    cc.mocker.post("https://api.test/v3/activities/remove_list_memberships",
                   json=change_list_then_answer)
    cc.activities["act-old"] = {"ids": ["c-1", "c-2"], "list_id": LIST_ID,
                                "states": ["completed"], "polls": 0}
    sync()
    assert states(db, election) == {"queued": 2}


# --- tokens ------------------------------------------------------------------------------

def test_expired_token_is_refreshed_once_and_the_rotated_refresh_token_saved(cc, db, sync):
    organisation_id = connect_organisation(db, expires_in=-60)
    election = election_with_list(db, organisation_id)
    cc.add_list(emails=emails(3))
    queue(db, election, emails(3))
    sync()
    assert cc.refresh_tokens == ["refresh-1"]
    assert load_token(db, SECRET_KEY, organisation_id)["refresh_token"] == "refresh-2"
    assert set(cc.bearers) == {"Bearer access-2"}
    assert states(db, election) == {"done": 3}


def test_token_refused_mid_run_is_refreshed_and_the_run_goes_on(cc, db, sync, election):
    cc.add_list(emails=emails(3))
    queue(db, election, emails(3))
    cc.fail("remove", 401, [{"error_key": "unauthorized", "error_message": "expired"}])
    sync()
    organisation_id = db["elections"].get(election)["organisation_id"]
    assert load_token(db, SECRET_KEY, organisation_id)["refresh_token"] == "refresh-2"
    assert cc.bearers[-1] == "Bearer access-2"
    assert states(db, election) == {"done": 3}


def test_invalid_grant_marks_the_connection_and_keeps_every_removal(cc, db, sync):
    organisation_id = connect_organisation(db, expires_in=-60)
    election = election_with_list(db, organisation_id)
    cc.add_list(emails=emails(3))
    queue(db, election, emails(3))
    cc.token_answers.append((400, {"error": "invalid_grant", "error_description": "revoked"}))
    result, lines = sync()
    assert one(db, "SELECT needs_grant FROM cc_connections")["needs_grant"] == 1
    assert states(db, election) == {"queued": 3}
    assert result.exit_code == 1 and "granted again" in result.elections[0].error
    assert cc.calls("contacts_by_email") == 0
    status = sync_status(db, election, DEFAULTS)
    assert status["needs_grant"] and "grant access again" in status["verdict"]


def test_a_revoked_organisation_does_not_stop_other_organisations_elections(cc, db, sync):
    revoked = election_with_list(db, connect_organisation(db, "old@example.org", refresh_token="bad"))
    db.execute("UPDATE cc_connections SET needs_grant = 1")
    fine = election_with_list(db, connect_organisation(db, "new@example.org"))
    cc.add_list(emails=emails(4))
    queue(db, revoked, emails(2), queued_at="2026-01-01T00:00:00+00:00")
    queue(db, fine, emails(2, start=3))
    result, _ = sync()
    assert states(db, revoked) == {"queued": 2}
    assert states(db, fine) == {"done": 2}
    assert result.exit_code == 1


# --- limits ------------------------------------------------------------------------------

def test_throttled_requests_back_off_with_jitter_then_succeed(cc, db, sync, sleeps, election):
    cc.add_list(emails=emails(1))
    queue(db, election, emails(1))
    cc.fail("contacts", 429, {"error_key": "throttled", "error_message": "Too Many Requests"}, times=2)
    result, _ = sync()
    backoffs = sleeps[:2]
    assert 0.25 <= backoffs[0] <= 0.5 and 0.5 <= backoffs[1] <= 1.0
    assert states(db, election) == {"done": 1}
    assert result.exit_code == 0


def test_a_request_failing_every_time_gives_up_after_five_attempts(cc, db, sync, sleeps, election):
    cc.add_list(emails=emails(1))
    queue(db, election, emails(1))
    cc.fail("contacts", 503, [{"error_key": "unavailable", "error_message": "down"}], times=10)
    result, _ = sync()
    assert cc.calls("contacts_by_email") == 5
    assert len(sleeps) == 4 and all(low / 2 <= delay <= low for low, delay in zip([1, 2, 4, 8], sleeps))
    assert states(db, election) == {"queued": 1}
    assert result.exit_code == 1 and "HTTP 503" in result.elections[0].error


def test_a_page_that_fails_is_retried_alone_not_the_whole_scan(cc, db, sync, election):
    cc.add_list(emails=emails(1500))
    queue(db, election, emails(20, start=1481))
    cc.fail_at("contacts", 2, 429, {"error_key": "throttled", "error_message": "Too Many Requests"})
    sync()
    pages = [r.url for r in cc.mocker.request_history if "lists=" in r.url or "cursor=" in r.url]
    assert len(pages) == 4 and pages[1] == pages[2]   # page 2 twice, page 1 once
    assert states(db, election) == {"done": 20}


def test_the_budget_stops_paging_before_the_request_that_would_exceed_it(app, cc, db, sync, election):
    app.config["CC_DAILY_REQUEST_BUDGET"] = 3
    cc.add_list(emails=emails(2000))
    queue(db, election, emails(30, start=1971))
    result, _ = sync()
    assert len(cc.mocker.request_history) == 3   # the list size and two pages
    assert one(db, "SELECT requests FROM cc_request_counts")["requests"] == 3
    assert states(db, election) == {"queued": 30} and result.exit_code == 1


def test_quota_exceeded_stops_all_work_for_the_day(cc, db, sync):
    organisation_id = connect_organisation(db)
    first = election_with_list(db, organisation_id, title="First")
    second = election_with_list(db, organisation_id, title="Second")
    cc.add_list(emails=emails(4))
    queue(db, first, emails(2), queued_at="2026-01-01T00:00:00+00:00")
    queue(db, second, emails(2, start=3))
    cc.fail("contacts", 429, {"error_key": "quota_exceeded", "error_message": "Limit Exceeded"})
    result, _ = sync()
    assert len(cc.mocker.request_history) == 1
    assert result.exit_code == 1
    assert one(db, "SELECT quota_exceeded_at FROM cc_request_counts WHERE day = ?",
               [utc_day()])["quota_exceeded_at"]
    result, lines = sync()
    assert len(cc.mocker.request_history) == 1
    assert "00:00 UTC" in lines[0] and result.exit_code == 1
    assert states(db, first) == states(db, second) == {"queued": 2}


def test_requests_are_counted_per_day_and_the_budget_is_never_exceeded(app, cc, db, sync, election):
    app.config["CC_DAILY_REQUEST_BUDGET"] = 3
    cc.add_list(emails=emails(5))
    queue(db, election, emails(2))
    result, _ = sync()
    assert one(db, "SELECT requests FROM cc_request_counts WHERE day = ?", [utc_day()])["requests"] == 3
    assert len(cc.mocker.request_history) == 3
    assert result.exit_code == 1 and "budget" in result.elections[0].error


# --- runs --------------------------------------------------------------------------------

def test_a_second_run_while_one_holds_the_lock_does_nothing(cc, db, sync, election, tmp_path):
    cc.add_list(emails=emails(2))
    queue(db, election, emails(2))
    with sync_lock(str(tmp_path / "cc_sync.lock")) as acquired:
        assert acquired
        result, lines = sync()
    assert result.exit_code == 0 and lines == ["Another sync is running; nothing done this time."]
    assert len(cc.mocker.request_history) == 0
    assert states(db, election) == {"queued": 2}


def test_dry_run_resolves_and_reports_but_posts_nothing(cc, db, sync, election):
    cc.add_list(emails=emails(3))
    queue(db, election, emails(2) + ["stranger@example.org"])
    result, lines = sync(dry_run=True)
    assert cc.calls("remove") == 0 and cc.calls("contacts_in_list") == 1
    assert states(db, election) == {"queued": 3}
    assert rows(db, "SELECT attempts, last_error FROM cc_removals WHERE attempts > 0") == []
    assert "would remove 2, 1 not in the list" in lines[0]
    assert result.exit_code == 0
    assert sync_status(db, election, DEFAULTS)["last_run"] is None


def test_run_records_what_each_election_got(cc, db, sync, election):
    cc.add_list(emails=emails(3))
    queue(db, election, emails(3) + ["stranger@example.org"])
    result, lines = sync()
    run = one(db, "SELECT * FROM sync_runs")
    assert run["exit_code"] == 0 and run["requests"] == result.requests and run["finished_at"]
    per_election = one(db, "SELECT removed, not_in_list, failed, error FROM sync_run_elections")
    assert per_election == {"removed": 3, "not_in_list": 1, "failed": 0, "error": None}
    assert lines[-1].startswith('Election 1 "Board election": 3 removed, 1 not in the list')


def test_elections_are_served_oldest_waiting_first(cc, db, sync):
    organisation_id = connect_organisation(db)
    newer = election_with_list(db, organisation_id, title="Newer")
    older = election_with_list(db, organisation_id, title="Older")
    cc.add_list(emails=emails(2))
    queue(db, newer, emails(1), queued_at="2026-02-01T00:00:00+00:00")
    queue(db, older, emails(1, start=2), queued_at="2026-01-01T00:00:00+00:00")
    result, _ = sync()
    assert [r.title for r in result.elections] == ["Older", "Newer"]
    assert cc.posted == [["c-2"], ["c-1"]]


def test_batches_are_submitted_round_robin_so_a_big_election_does_not_starve_others(cc, db, sync):
    organisation_id = connect_organisation(db)
    older = election_with_list(db, organisation_id, title="Older")
    newer = election_with_list(db, organisation_id, title="Newer")
    cc.add_list(emails=emails(1200))
    queue(db, older, emails(600), queued_at="2026-01-01T00:00:00+00:00")
    queue(db, newer, emails(600, start=601), queued_at="2026-02-01T00:00:00+00:00")
    sync()
    assert [(ids[0], len(ids)) for ids in cc.posted] == [
        ("c-1", 500), ("c-601", 500), ("c-501", 100), ("c-1101", 100)]
    assert states(db, older) == states(db, newer) == {"done": 600}


class SteppingClock:
    """time.monotonic for the sync: every look is `step` seconds after the one before."""

    def __init__(self, step):
        self.now, self.step = 0.0, step

    def monotonic(self):
        self.now += self.step
        return self.now


def test_a_first_batch_leaves_at_once_and_its_first_poll_comes_before_the_next_elections(
        cc, db, sync, monkeypatch):
    """While the next connection's token refresh waits for its turn at CC (one a second), the
    run has already sent the first batch and makes the first polls that are due."""
    monkeypatch.setattr(sync_module, "time", SteppingClock(step=sync_module.POLL_FIRST_SECONDS))
    cc.add_list(emails=emails(3))
    for n in range(3):
        queue(db, election_with_list(db, connect_organisation(db, email=f"admin{n}@example.org")),
              emails(1, start=n + 1), queued_at=f"2026-01-0{n + 1}T00:00:00+00:00")
    result, _ = sync()
    order = [_endpoint(request) for request in cc.mocker.request_history]
    assert order.index("activity") < [i for i, name in enumerate(order) if name == "remove"][1]
    assert result.exit_code == 0 and result.total("removed") == 3


@pytest.mark.parametrize("missing, done, code", [
    ("CC_CLIENT_ID", False, 2), ("CC_CLIENT_SECRET", False, 2), (None, True, 0), (None, False, 1)])
def test_exit_codes(app, cc, db, sync, election, missing, done, code):
    if missing:
        app.config[missing] = None
    cc.add_list(emails=emails(2))
    queue(db, election, emails(2))
    if not done:
        cc.fail("remove", 400, [{"error_key": "bad_request", "error_message": "nope"}])
    result, _ = sync()
    assert result.exit_code == code
    assert (states(db, election) == {"done": 2}) is (code == 0)
    if code == 1:
        assert "HTTP 400" in sync_status(db, election, DEFAULTS)["failures"][0]["last_error"]


def test_nothing_due_makes_no_request(cc, db, sync, election):
    result, lines = sync()
    assert result.exit_code == 0 and "Nothing to sync" in lines[0]
    assert len(cc.mocker.request_history) == 0


# --- the panel's data --------------------------------------------------------------------

def test_status_says_the_list_is_up_to_date_when_nothing_is_queued(db, election):
    status = sync_status(db, election, {"CC_SYNC_INTERVAL_MINUTES": 60})
    assert status["verdict"] == "Your list is up to date — safe to send a reminder now"


def test_status_counts_queued_voters_and_says_when_they_go(db, election, monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 11, 28, 18, 32, tzinfo=timezone.utc))
    queue(db, election, emails(3))
    db.execute("UPDATE cc_removals SET state = 'submitted', activity_id = 'a' WHERE id = 1")
    status = sync_status(db, election, DEFAULTS, tz="America/New_York")
    assert status["queued"] == 3 and status["submitted"] == 1
    assert status["verdict"] == ("3 voters who voted are still on the list; "
                                 "they will be removed at 14:00 America/New_York")
    assert sync_status(db, election, DEFAULTS)["verdict"].endswith("removed at 19:00 UTC")


@pytest.mark.parametrize("now, interval, after_midnight, expected", [
    ("18:32", 60, False, "19:00"), ("18:00", 60, False, "19:00"), ("23:59", 60, False, "00:00"),
    ("18:32", 15, False, "18:45"), ("18:32", 60, True, "00:00")])
def test_next_run_is_the_next_slot_after_now(now, interval, after_midnight, expected):
    hour, minute = map(int, now.split(":"))
    moment = datetime(2026, 11, 28, hour, minute, tzinfo=timezone.utc)
    assert f"{status_module.next_run_at(moment, interval, after_midnight):%H:%M}" == expected


def test_status_shows_the_last_real_run(cc, db, sync, election):
    cc.add_list(emails=emails(2))
    queue(db, election, emails(2))
    sync()
    last = sync_status(db, election, DEFAULTS)["last_run"]
    assert last["removed"] == 2 and last["at"] <= clock.iso()
    assert clock.parse(last["at"]) > clock.now() - timedelta(minutes=1)


# --- against the real sandbox ------------------------------------------------------------

SANDBOX_CLIENT = ("eo-cc-sync-test", "sync-test-secret")
REDIRECT_URI = "http://127.0.0.1:5000/callback"


def sandbox_token(sandbox_db_path, account_id):
    """A token issued by the sandbox for the seeded account, without the browser dance."""
    from cc_sandbox import tokens

    return tokens.grant_directly(sandbox_db_path, SANDBOX_CLIENT[0], account_id, REDIRECT_URI)


@pytest.mark.slow
def test_one_run_leaves_exactly_the_voters_who_did_not_vote_on_the_sandbox_list(app, db, tmp_path):
    import requests

    from cc_sandbox import server
    from eo_cc.voting.ballots import cast_ballot

    from ..factories import make_voters

    sandbox_db_path = tmp_path / "sandbox.sqlite"
    with server.start(sandbox_db_path, requests_per_second=4, activity_delay=0.5) as sandbox:
        seeded = requests.post(f"{sandbox.url}/_sandbox/seed", json={
            "account": {"email": "owner@example.org"},
            "client": {"client_id": SANDBOX_CLIENT[0], "client_secret": SANDBOX_CLIENT[1],
                       "redirect_uris": [REDIRECT_URI]},
            "lists": [{"name": "Members", "emails": emails(300)}]}).json()
        list_id = seeded["lists"][0]["list_id"]
        app.config.update(sandbox.cc_config(*SANDBOX_CLIENT), CC_REQUESTS_PER_SECOND=4)
        admin_id = make_admin(db)
        save_token(db, SECRET_KEY, organisation_of(db, admin_id),
                   sandbox_token(sandbox_db_path, seeded["account_id"]))
        election = make_election(db, admin_id, cc_list_id=list_id, cc_list_name="Members",
                                 questions=[("Chair?", ["Alice", "Bob"], 1)])
        voters = make_voters(db, election, count=300)
        choice = one(db, "SELECT id, question_id FROM choices LIMIT 1")
        for voter_id in voters[::5] + voters[1::5]:          # 120 of the 300 vote
            cast_ballot(db, voter_id, {choice["question_id"]: [choice["id"]]})

        first = run_sync(db, app.config, echo=lambda line: None,
                         lock_path=str(tmp_path / "cc_sync.lock"))
        members = requests.get(f"{sandbox.url}/_sandbox/lists/{list_id}/members.json").json()
        voted = {row["email"] for row in rows(db, "SELECT email FROM voters WHERE has_voted = 1")}
        assert len(voted) == 120
        assert sorted(members["emails"]) == sorted(set(emails(300)) - voted)
        assert first.exit_code == 0 and first.total("removed") == 120
        assert states(db, election) == {"done": 120}
        stats = requests.get(f"{sandbox.url}/_sandbox/stats").json()
        assert sum(n for endpoint, n in stats["requests"].items()
                   if "remove_list_memberships" in endpoint) == 1
        assert stats["throttled"] == 0

        requests.post(f"{sandbox.url}/_sandbox/stats/reset")
        second = run_sync(db, app.config, echo=lambda line: None,
                          lock_path=str(tmp_path / "cc_sync.lock"))
        stats = requests.get(f"{sandbox.url}/_sandbox/stats").json()
        assert second.exit_code == 0 and stats["total_requests"] == 0
        assert stats["forbidden_calls"] == []
