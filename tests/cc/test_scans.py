"""List scans that resume: a run killed or stopped while paging a list goes on where it stopped."""
import re

import pytest

from eo_cc.cc.report import SCAN_RESTARTED
from eo_cc.db import one

from .fake_cc import API, FakeCC, mocker
from .test_sync import connect_organisation, election_with_list, emails, queue, states
from .test_sync import sleeps, sync  # noqa: F401  (fixtures)

OLD = "2020-01-01T00:00:00+00:00"


class Killed(BaseException):
    """The process dies (cron's timeout, a reboot, an OOM kill): nothing below catches it."""


@pytest.fixture
def cc():
    with mocker() as m:
        yield FakeCC(m)


@pytest.fixture
def election(db):
    return election_with_list(db, connect_organisation(db))


def list_pages(cc):
    """The URLs of the list pages asked for, in order."""
    return [r.url for r in cc.mocker.request_history if "lists=" in r.url]


def kill_at_page(cc, page):
    """The request for this page (1-based, counted from now) kills the run."""
    seen = {"n": 0}
    respond = cc._guard("contacts", cc._contacts)

    def maybe_kill(request, context):
        if "lists=" in request.url:
            seen["n"] += 1
            if seen["n"] == page:
                raise Killed()
        return respond(request, context)

    cc.mocker.get(re.compile(re.escape(API) + r"/contacts"), json=maybe_kill)


def run_killed(sync, cc, page):
    kill_at_page(cc, page)
    with pytest.raises(Killed):
        sync()
    cc._register()   # the next run meets a Constant Contact that answers normally
    cc.mocker.reset_mock()


def test_a_scan_killed_after_page_k_goes_on_at_page_k_plus_1(cc, db, sync, election):
    cc.add_list(emails=emails(2000))                  # 4 pages of 500
    queue(db, election, emails(30, start=1951))       # all on page 4
    run_killed(sync, cc, page=3)                      # pages 1 and 2 were read and cached
    assert one(db, "SELECT pages_done, is_complete FROM cc_list_scans") == {"pages_done": 2,
                                                                             "is_complete": 0}
    result, _ = sync()
    pages = list_pages(cc)
    assert len(pages) == 2 and "cursor=1000" in pages[0] and "cursor=1500" in pages[1]
    assert states(db, election) == {"done": 30}
    assert not result.elections[0].scan_restarted


def test_voters_on_pages_read_before_the_kill_need_no_new_request(cc, db, sync, election):
    cc.add_list(emails=emails(2000))
    queue(db, election, emails(30, start=1951))
    run_killed(sync, cc, page=3)
    queue(db, election, emails(10, start=1))          # on page 1, cached before the kill
    sync()
    assert all("cursor=" in url for url in list_pages(cc))
    assert states(db, election) == {"done": 40}


def test_an_expired_cursor_restarts_the_scan_at_page_1_and_is_reported(cc, db, sync, election):
    cc.add_list(emails=emails(2000))
    queue(db, election, emails(30, start=1951))
    run_killed(sync, cc, page=3)
    cc.fail("contacts", 400, [{"error_key": "query.param.invalid",
                               "error_message": "cursor has expired: start the listing again."}])
    result, lines = sync()
    pages = list_pages(cc)
    assert "cursor=1000" in pages[0]                  # refused
    assert "cursor=" not in pages[1]                  # page 1 again, then 2, 3, 4
    assert len(pages) == 5
    assert states(db, election) == {"done": 30}
    assert result.elections[0].scan_restarted
    assert SCAN_RESTARTED in result.message and any(SCAN_RESTARTED in line for line in lines)


def test_a_cursor_refused_with_404_also_restarts(cc, db, sync, election):
    cc.add_list(emails=emails(1500))
    queue(db, election, emails(30, start=1451))
    run_killed(sync, cc, page=2)
    cc.fail("contacts", 404, [{"error_key": "not.found", "error_message": "Not found"}])
    result, _ = sync()
    assert states(db, election) == {"done": 30} and result.elections[0].scan_restarted


def test_progress_older_than_the_cache_age_limit_is_not_resumed(cc, db, sync, election):
    cc.add_list(emails=emails(2000))
    queue(db, election, emails(30, start=1951))
    run_killed(sync, cc, page=3)
    db.execute("UPDATE cc_list_scans SET started_at = ?, updated_at = ?", [OLD, OLD])
    db.execute("UPDATE cc_contacts SET fetched_at = ?", [OLD])
    result, _ = sync()
    pages = list_pages(cc)
    assert "cursor=" not in pages[0] and len(pages) == 4
    assert states(db, election) == {"done": 30}
    assert not result.elections[0].scan_restarted     # not refused: simply too old to go on with


def test_not_on_the_list_is_never_decided_from_a_partial_pass(cc, db, sync, election):
    cc.add_list(emails=emails(2000))
    queue(db, election, ["stranger@example.org"] + emails(29, start=1951))
    run_killed(sync, cc, page=3)
    assert states(db, election) == {"queued": 30}
    assert one(db, "SELECT count(*) AS n FROM cc_contacts WHERE contact_id IS NULL")["n"] == 0
    cc.fail("contacts", 503, {"error_key": "service_unavailable"}, times=5)   # page 3 fails for good
    result, _ = sync()
    assert result.exit_code == 1 and states(db, election) == {"queued": 30}
    cc.mocker.reset_mock()
    sync()                                            # pages 3 and 4 complete the pass
    assert len(list_pages(cc)) == 2
    assert states(db, election) == {"done": 29, "not_in_list": 1}
    assert one(db, "SELECT is_complete FROM cc_list_scans")["is_complete"] == 1


def test_a_complete_scan_is_not_resumed_but_started_again(cc, db, sync, election):
    cc.add_list(emails=emails(1500))
    queue(db, election, emails(30, start=1471))
    sync()
    cc.add_contact("late@example.org", ["list-voters"])   # joined after the pass
    queue(db, election, ["late@example.org"] + emails(29, start=1))
    db.execute("UPDATE cc_contacts SET fetched_at = ?", [OLD])
    cc.mocker.reset_mock()
    sync()
    assert "cursor=" not in list_pages(cc)[0]
    assert states(db, election) == {"done": 60}
