"""Ballot links in Constant Contact: the field, the push, changed links, closing; against requests-mock."""
import re

import pytest
import requests

from eo_cc.cc import imports, links
from eo_cc.cc.api import MAX_IMPORT_BYTES, import_size
from eo_cc.db import one, rows
from eo_cc.voting.notices import ballot_link_url

from .fake_cc import API
from .mailing_helpers import (  # noqa: F401  (fixtures)
    LIST_ID,
    election,
    imported_emails,
    mcc,
    removal_states,
    row,
    sleeps,
    sync,
    turn_links_on,
    vote,
    voter,
)

LABEL = "Ballot link – Board election"


def link_of(app, db, election_id, email):
    return ballot_link_url(app.config, row(db, election_id), voter(db, election_id, email))


@pytest.fixture
def on_list(mcc):
    """voter1..3 on the list (voter4 is not), and someone who is not on the roster."""
    mcc.add_list(emails=["voter1@example.org", "voter2@example.org", "voter3@example.org",
                         "stranger@example.org"])
    return mcc


def test_links_go_into_a_new_field_for_each_voter_on_the_list_who_has_not_voted(app, db, on_list, sync,
                                                                                 election):
    vote(db, election, "voter2@example.org")
    turn_links_on(db, election)

    result, _ = sync()

    assert result.exit_code == 0
    assert [f["label"] for f in on_list.fields.values()] == [LABEL]
    assert imported_emails(on_list) == ["voter1@example.org", "voter3@example.org"]
    assert on_list.imports[0]["list_ids"] == [LIST_ID]
    for email in ("voter1@example.org", "voter3@example.org"):
        assert on_list.value(email, LABEL) == link_of(app, db, election, email)
        assert link_of(app, db, election, email).startswith(app.config["BASE_URL"])
    assert on_list.value("voter2@example.org", LABEL) is None     # voted: never in an import
    assert on_list.by_email("voter4@example.org") is None         # not on the list: never created
    assert on_list.value("stranger@example.org", LABEL) is None


def test_a_second_run_with_nothing_changed_sends_nothing(app, db, on_list, sync, election):
    turn_links_on(db, election)
    sync()
    before = on_list.api_requests()

    result, lines = sync()

    assert on_list.api_requests() == before
    assert result.requests == 0 and "Nothing to sync" in lines[0]


def test_a_new_link_reaches_cc_at_the_next_run_and_only_that_one(app, db, on_list, sync, election):
    turn_links_on(db, election)
    sync()
    old_link = link_of(app, db, election, "voter3@example.org")
    db.execute("UPDATE voters SET link_version = link_version + 1 WHERE email = 'voter3@example.org'")

    sync()

    assert imported_emails(on_list) == ["voter3@example.org"]
    new_link = link_of(app, db, election, "voter3@example.org")
    assert new_link != old_link and on_list.value("voter3@example.org", LABEL) == new_link


def test_a_link_left_on_an_address_no_voter_has_is_cleared(app, db, on_list, sync, election):
    turn_links_on(db, election)
    sync()
    on_list.add_contact("new3@example.org", [LIST_ID])
    db.execute("UPDATE voters SET email = 'new3@example.org', link_version = link_version + 1 "
               "WHERE email = 'voter3@example.org'")

    sync()

    assert imported_emails(on_list) == ["new3@example.org", "voter3@example.org"]
    assert on_list.value("voter3@example.org", LABEL) is None
    assert on_list.value("new3@example.org", LABEL) == link_of(app, db, election, "new3@example.org")


def test_a_voter_who_votes_while_the_import_runs_is_removed_after_it(app, db, on_list, sync, election):
    turn_links_on(db, election)
    import_polls = []

    def vote_during_the_import(request, context):
        answer = on_list._activity(request, context)
        import_polls.append(answer["state"])
        if answer["state"] == "processing":
            vote(db, election, "voter1@example.org")
        return answer
    on_list.mocker.get(re.compile(re.escape(API) + r"/activities/imp-\d+$"), json=vote_during_the_import)

    result, _ = sync()

    assert import_polls == ["processing", "completed"]
    assert "voter1@example.org" in imported_emails(on_list)
    assert "voter1@example.org" not in on_list.members()
    assert removal_states(db, election) == {"voter1@example.org": "done"}
    history = [r.url for r in on_list.mocker.request_history]
    completed_poll = max(i for i, url in enumerate(history) if "/activities/imp" in url)
    assert min(i for i, url in enumerate(history) if url.endswith("remove_list_memberships")) > completed_poll


def test_finishing_an_import_queues_again_whoever_in_it_has_voted(db, election):
    db["cc_imports"].insert({"activity_id": "i1", "election_id": election, "list_id": LIST_ID,
                             "purpose": "links", "contact_count": 2, "state": "initialized",
                             "submitted_at": "2026-01-01T00:00:00+00:00"})
    for email in ("voter1@example.org", "voter2@example.org"):
        db["cc_import_contacts"].insert({"activity_id": "i1", "email": email,
                                         "voter_id": voter(db, election, email)["id"], "link_version": 1})
    vote(db, election, "voter1@example.org")
    db.execute("UPDATE cc_removals SET state = 'done'")  # removed before the import finished

    imports.settle(db, "i1", "failed", "boom")

    assert removal_states(db, election) == {"voter1@example.org": "queued"}
    assert one(db, "SELECT count(*) AS n FROM cc_ballot_links")["n"] == 0   # a failed import holds nothing


def test_no_import_starts_while_removals_are_at_cc_and_the_next_run_sends_it(app, db, mcc, sync, election):
    mcc.activity_states = ["processing"] * 200 + ["completed"]   # the removal outlasts this run
    mcc.add_list(emails=["voter1@example.org", "voter2@example.org", "voter3@example.org"])
    vote(db, election, "voter1@example.org")
    sync(poll_seconds=0)
    assert removal_states(db, election) == {"voter1@example.org": "submitted"}
    mcc.activity_states = ["completed"]
    turn_links_on(db, election)

    result, _ = sync(poll_seconds=0)

    assert mcc.imports == [] and "wait for its removals" in result.message
    mcc.activities["act-1"]["states"] = ["completed"]
    sync()
    assert removal_states(db, election) == {"voter1@example.org": "done"}
    sync()
    assert imported_emails(mcc) == ["voter2@example.org", "voter3@example.org"]


def test_removals_wait_while_an_import_is_unfinished(app, db, mcc, sync, election):
    mcc.activity_states = ["processing"]
    mcc.add_list(emails=["voter1@example.org", "voter2@example.org"])
    turn_links_on(db, election)
    sync(poll_seconds=0)
    vote(db, election, "voter2@example.org")

    sync(poll_seconds=0)

    assert mcc.request_count("POST", "remove_list_memberships") == 0
    assert removal_states(db, election) == {"voter2@example.org": "queued"}
    mcc.activity_states = mcc.activities["imp-1"]["states"] = ["completed"]
    sync()
    assert "voter2@example.org" not in mcc.members()
    assert removal_states(db, election) == {"voter2@example.org": "done"}


def test_a_failed_import_loses_nothing_and_the_next_run_sends_it_again(app, db, on_list, sync, election):
    on_list.activity_states = ["failed"]
    turn_links_on(db, election)
    sync()
    assert "failed" in " ".join(r["action"] for r in rows(db, "SELECT action FROM cc_mailing_log"))
    assert on_list.value("voter1@example.org", LABEL) is None
    on_list.activity_states = ["completed"]

    sync()

    assert imported_emails(on_list) == ["voter1@example.org", "voter2@example.org", "voter3@example.org"]
    assert on_list.value("voter1@example.org", LABEL) == link_of(app, db, election, "voter1@example.org")


def test_a_throttled_import_is_sent_again_after_a_pause(app, db, on_list, sync, sleeps, election):
    on_list.fail("import", 429, {"error_key": "throttled", "error_message": "Too Many Requests"}, times=2)
    turn_links_on(db, election)

    result, _ = sync()

    assert result.exit_code == 0
    assert on_list.request_count("POST", "contacts_json_import") == 3 and len(on_list.imports) == 1
    assert len([s for s in sleeps if s < 2]) >= 2     # backed off before each retry
    assert on_list.value("voter2@example.org", LABEL) == link_of(app, db, election, "voter2@example.org")


def test_a_dropped_connection_after_cc_made_the_field_finds_it_by_its_409(db, on_list, sync, election):
    create, dropped = on_list._create_field, []

    def create_then_drop(request, context):
        answer = create(request, context)
        if not dropped:
            dropped.append(True)
            raise requests.exceptions.ConnectionError("dropped after CC made the field")
        return answer
    on_list.mocker.post(f"{API}/contact_custom_fields", json=create_then_drop)
    turn_links_on(db, election)

    result, _ = sync()

    assert result.exit_code == 0 and dropped
    assert [f["label"] for f in on_list.fields.values()] == [LABEL]
    assert links.field_of(db, election)["custom_field_id"] == "f-1"
    assert on_list.value("voter1@example.org", LABEL)


def test_a_label_someone_else_uses_gets_a_number_and_their_field_is_never_deleted(db, on_list, sync, election):
    theirs = on_list.add_field(LABEL)
    turn_links_on(db, election)
    sync()
    assert links.field_of(db, election)["label"] == LABEL + " (2)"
    db.execute("UPDATE elections SET state = 'closed' WHERE id = ?", [election])

    sync()

    assert list(on_list.fields) == [theirs]
    assert on_list.request_count("DELETE", theirs) == 0


def test_closing_deletes_the_field_eo_cc_made_and_every_link_in_it(app, db, on_list, sync, election):
    turn_links_on(db, election)
    sync()
    assert on_list.value("voter1@example.org", LABEL)
    db.execute("UPDATE elections SET state = 'closed' WHERE id = ?", [election])

    result, _ = sync()

    assert result.exit_code == 0 and on_list.fields == {}
    assert on_list.value("voter1@example.org", LABEL) is None
    assert links.field_of(db, election)["deleted_at"]
    assert one(db, "SELECT count(*) AS n FROM cc_ballot_links")["n"] == 0
    before = on_list.api_requests()
    sync()
    assert on_list.api_requests() == before


def test_a_field_the_admin_keeps_stays_after_closing(db, on_list, sync, election):
    turn_links_on(db, election)
    sync()
    db.execute("UPDATE elections SET state = 'closed', keeps_cc_ballot_link_field = 1 WHERE id = ?", [election])
    sync()
    assert len(on_list.fields) == 1 and on_list.request_count("DELETE", "f-1") == 0


def test_an_account_with_100_fields_is_told_in_plain_words(db, on_list, sync, election):
    for n in range(100):
        on_list.add_field(f"Field {n}")
    turn_links_on(db, election)

    result, _ = sync()

    assert result.exit_code == 1
    assert "already has 100 custom fields" in result.message
    assert on_list.imports == []


def test_voters_found_off_the_list_cost_no_look_up_every_hour(app, db, on_list, sync, election):
    turn_links_on(db, election)
    sync()
    assert links.waiting(db, election, LIST_ID) == 0     # voter4 is known to be off the list
    before = on_list.api_requests()
    sync()
    assert on_list.api_requests() == before


def test_links_longer_than_cc_keeps_are_refused_in_plain_words(app, db, on_list, sync, election):
    app.config["BASE_URL"] = "https://vote.example.org/" + "x" * 200
    turn_links_on(db, election)
    result, _ = sync()
    assert "shorten BASE_URL" in result.message and on_list.imports == []


def entry(n, size):
    return imports.Entry({"email": f"v{n}@example.org", "cf:x": "y" * size}, n, 1)


def test_imports_are_packed_into_as_few_as_fit_under_the_limit():
    entries = [entry(n, 100) for n in range(1000)]
    limit = 40_000
    chunks = imports.pack(entries, ["L1"], max_bytes=limit)

    def size(chunk):
        return import_size({"import_data": [e.payload for e in chunk], "list_ids": ["L1"]})
    assert [e for chunk in chunks for e in chunk] == entries          # all of them, in order
    assert all(size(chunk) < limit for chunk in chunks)
    assert all(size(chunk + [following[0]]) >= limit                   # none could take one more
               for chunk, following in zip(chunks, chunks[1:]))


def test_ten_thousand_links_fit_one_import_and_a_hundred_thousand_need_few():
    assert len(imports.pack([entry(n, 100) for n in range(10_000)], ["L1"])) == 1
    chunks = imports.pack([entry(n, 100) for n in range(100_000)], ["L1"])
    assert len(chunks) == 4 and all(len(c) <= 40_000 for c in chunks)
    assert MAX_IMPORT_BYTES == 4_000_000


def test_label_is_at_most_50_characters_and_numbered_when_taken():
    assert links.label_for("Board election") == LABEL
    long = links.label_for("A very long election title " * 5, 12)
    assert len(long) <= 50 and long.endswith(" (12)")


def test_an_import_whose_answer_is_lost_is_sent_again_and_recorded_once(app, db, on_list, sync, election):
    accept, dropped = on_list._import, []

    def accept_then_drop(request, context):
        answer = accept(request, context)
        if not dropped:
            dropped.append(True)
            raise requests.exceptions.ConnectionError("dropped after CC accepted the import")
        return answer
    on_list.mocker.post(f"{API}/activities/contacts_json_import", json=accept_then_drop)
    turn_links_on(db, election)

    result, _ = sync()

    assert result.exit_code == 0 and len(on_list.imports) == 2          # the same links, twice: harmless
    assert rows(db, "SELECT activity_id FROM cc_imports") == [{"activity_id": "imp-2"}]
    assert on_list.value("voter1@example.org", LABEL) == link_of(app, db, election, "voter1@example.org")
    assert links.waiting(db, election, LIST_ID) == 0


def test_an_import_cc_never_finishes_is_given_up_after_a_day_and_blocks_no_removal_for_good(
        app, db, mcc, sync, election, monkeypatch):
    mcc.activity_states = ["processing"]
    mcc.add_list(emails=["voter1@example.org", "voter2@example.org"])
    turn_links_on(db, election)
    sync(poll_seconds=0)
    vote(db, election, "voter2@example.org")
    db.execute("UPDATE cc_imports SET submitted_at = '2020-01-01T00:00:00+00:00'")
    mcc.activity_states = ["completed"]

    sync()

    assert one(db, "SELECT state FROM cc_imports WHERE activity_id = 'imp-1'")["state"] == "timed_out"
    assert removal_states(db, election) == {"voter2@example.org": "done"}
    assert imported_emails(mcc) == ["voter1@example.org"]      # sent again, and this time finished
    assert links.waiting(db, election, LIST_ID) == 0
