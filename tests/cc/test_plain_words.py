"""Constant Contact's errors reach pages in the admin's words, never as CC's raw text."""
import pytest

from eo_cc.cc.api import CCError
from eo_cc.cc.plain_words import in_plain_words

from ..factories import make_election
from .test_views import connected, settings_page  # noqa: F401

RAW_404 = "Constant Contact error (HTTP 404) lists.api.not_found: List not found: 8a1f-uuid"


@pytest.mark.parametrize("raw, words", [
    (RAW_404, "could not find the list or contact"),
    (str(CCError(429, "too_many_requests", "slow down")), "busy (too many requests)"),
    (str(CCError(503, "unavailable", "Service Unavailable")), "a problem on its side"),
    (str(CCError(401, "unauthorized", "token expired")), "refused eo_cc's access"),
    (str(CCError(400, "bad_request", "cursor invalid")), "did not accept eo_cc's request"),
    (str(CCError(None, "connection_error", "connection failed: reset")), "could not reach Constant Contact"),
    ("Constant Contact activity failed: contact 123 bad", "did not finish the removal (failed)"),
    ("Constant Contact import timed_out", "did not finish the import (timed out)"),
])
def test_each_kind_of_error_reads_in_plain_words(raw, words):
    said = in_plain_words(raw)
    assert words in said
    assert "HTTP" not in said and "api." not in said and "uuid" not in said and "123" not in said


def test_our_own_words_pass_through():
    text = "daily quota used up, syncing resumes after 00:00 UTC"
    assert in_plain_words(text) == text and in_plain_words(None) is None


def test_the_sync_panel_never_shows_constant_contacts_raw_error(db, client, connected, admin):
    election_id = make_election(db, admin, cc_list_id="gone", cc_list_name="Old voters")
    run_id = db["sync_runs"].insert({"started_at": "2026-12-01T10:00:00+00:00", "is_dry_run": 0,
                                     "finished_at": "2026-12-01T10:00:05+00:00", "exit_code": 1,
                                     "requests": 1, "message": RAW_404}).last_pk
    db["sync_run_elections"].insert({"run_id": run_id, "election_id": election_id, "removed": 0,
                                     "not_in_list": 0, "failed": 2, "requests": 1, "error": RAW_404})
    db["cc_removals"].insert({"election_id": election_id, "email": "voter1@example.org", "state": "queued",
                              "attempts": 1, "last_error": RAW_404, "queued_at": "2026-12-01T09:00:00+00:00",
                              "updated_at": "2026-12-01T10:00:05+00:00"})
    page = settings_page(client, election_id)
    assert "could not find the list or contact" in page
    assert "lists.api.not_found" not in page and "8a1f-uuid" not in page and "HTTP 404" not in page
