"""The client's calls for the mailings (issue 10) against requests-mock: custom fields, JSON imports,
list creation, and the guard that lets eo_cc delete only the custom fields it made."""
import json

import pytest

from eo_cc.cc.api import MAX_IMPORT_BYTES, CCError, import_size, refuse_forbidden

from .test_api import BASE, cc, client, session  # noqa: F401  (fixtures)


def test_create_custom_field_posts_a_text_field_and_returns_its_name_and_id(cc, client):
    cc.post(f"{BASE}/contact_custom_fields", status_code=201,
            json={"custom_field_id": "f-1", "label": "Ballot link – Board", "name": "Ballot_link_–_Board"})
    made = client.create_custom_field("Ballot link – Board")
    assert made["custom_field_id"] == "f-1"
    assert cc.last_request.json() == {"label": "Ballot link – Board", "type": "string"}


def test_a_taken_field_name_is_a_409_cc_error(cc, client):
    cc.post(f"{BASE}/contact_custom_fields", status_code=409,
            json=[{"error_key": "custom_fields.api.conflict", "error_message": "exists"}])
    with pytest.raises(CCError) as raised:
        client.create_custom_field("Ballot link – Board")
    assert (raised.value.status, raised.value.retryable) == (409, False)


def test_custom_fields_pages_at_100(cc, client):
    cc.get(f"{BASE}/contact_custom_fields?limit=100", complete_qs=True,
           json={"custom_fields": [{"custom_field_id": "a"}],
                 "_links": {"next": {"href": "/v3/contact_custom_fields?cursor=2"}}})
    cc.get(f"{BASE}/contact_custom_fields?cursor=2", complete_qs=True,
           json={"custom_fields": [{"custom_field_id": "b"}]})
    assert [f["custom_field_id"] for f in client.custom_fields()] == ["a", "b"]


def test_a_field_eo_cc_did_not_record_as_its_own_is_never_deleted(cc, client):
    cc.delete(f"{BASE}/contact_custom_fields/f-1", status_code=204)
    with pytest.raises(ValueError, match="never calls"):
        client.delete_custom_field("f-1")
    assert cc.call_count == 0


def test_a_field_recorded_as_its_own_is_deleted_with_a_204(cc, client):
    cc.delete(f"{BASE}/contact_custom_fields/f-1", status_code=204)
    client.own_custom_field_ids.add("f-1")
    assert client.delete_custom_field("f-1") is None
    assert cc.call_count == 1


def test_the_guard_refuses_custom_field_deletes_unless_the_id_is_eo_ccs():
    with pytest.raises(ValueError):
        refuse_forbidden("DELETE", f"{BASE}/contact_custom_fields/other")
    with pytest.raises(ValueError):
        refuse_forbidden("DELETE", f"{BASE}/contact_custom_fields/other", {"mine"})
    refuse_forbidden("DELETE", f"{BASE}/contact_custom_fields/mine", {"mine"})
    refuse_forbidden("GET", f"{BASE}/contact_custom_fields/other")
    with pytest.raises(ValueError):  # the other rules still hold for "own" ids
        refuse_forbidden("DELETE", f"{BASE}/contact_lists/mine", {"mine"})


def test_import_contacts_posts_import_data_and_list_ids_and_returns_the_activity(cc, client):
    cc.post(f"{BASE}/activities/contacts_json_import", status_code=201,
            json={"activity_id": "imp-1", "state": "initialized"})
    activity = client.import_contacts([{"email": "a@example.org", "cf:Ballot_link": "https://x/1"}], ["L1"])
    assert activity["activity_id"] == "imp-1"
    assert cc.last_request.json() == {"import_data": [{"email": "a@example.org", "cf:Ballot_link": "https://x/1"}],
                                      "list_ids": ["L1"]}
    assert cc.last_request.headers["Content-Type"] == "application/json"


def test_import_size_is_the_size_of_the_body_requests_sends(cc, client):
    cc.post(f"{BASE}/activities/contacts_json_import", status_code=201, json={"activity_id": "i"})
    contacts = [{"email": f"v{n}@example.org", "first_name": "Zoë", "cf:x": "https://x/" + "y" * n}
                for n in range(50)]
    client.import_contacts(contacts, ["L1"])
    assert len(cc.last_request.body) == import_size({"import_data": contacts, "list_ids": ["L1"]})


def test_an_import_cc_would_cut_short_is_refused_before_it_is_sent(cc, client):
    big = [{"email": f"voter{n}@example.org", "cf:x": "y" * 250} for n in range(15_000)]
    assert import_size({"import_data": big, "list_ids": ["L1"]}) >= MAX_IMPORT_BYTES
    with pytest.raises(ValueError, match="at most"):
        client.import_contacts(big, ["L1"])
    with pytest.raises(ValueError):
        client.import_contacts([], ["L1"])
    assert cc.call_count == 0


def test_create_contact_list_posts_the_name_and_returns_the_new_list(cc, client):
    cc.post(f"{BASE}/contact_lists", status_code=201, json={"list_id": "new", "name": "Board 2026"})
    made = client.create_contact_list("Board 2026", "Voters of Board 2026")
    assert made["list_id"] == "new"
    assert json.loads(cc.last_request.body) == {"name": "Board 2026", "description": "Voters of Board 2026",
                                                "favorite": False}
