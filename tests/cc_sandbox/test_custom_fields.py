"""Custom fields: definitions per account (at most 100), values on contacts (at most 255 characters)."""
import pytest

from cc_sandbox.store import DEMO_EMAIL, SECOND_EMAIL, SECOND_PASSWORD

from .helpers import api, contact, control, grant, stats


def create(sandbox, token, label, type_="string"):
    return api(sandbox, token, "/v3/contact_custom_fields", method="POST", json={"label": label, "type": type_})


def test_create_a_custom_field_named_after_its_label(sandbox):
    token = grant(sandbox)
    response = create(sandbox, token, "Ballot link 2026")
    assert response.status_code == 201
    field = response.json()
    assert (field["label"], field["name"], field["type"]) == ("Ballot link 2026", "Ballot_link_2026", "string")
    assert set(field) == {"custom_field_id", "label", "name", "type", "created_at", "updated_at"}
    assert api(sandbox, token, f"/v3/contact_custom_fields/{field['custom_field_id']}").json() == field
    listed = api(sandbox, token, "/v3/contact_custom_fields").json()
    assert listed == {"custom_fields": [field], "_links": {}}


@pytest.mark.parametrize("label", ["Ballot link", "ballot link", "Ballot_link"])
def test_a_name_the_account_has_is_a_409(sandbox, label):
    token = grant(sandbox)
    create(sandbox, token, "Ballot link").raise_for_status()
    response = create(sandbox, token, label)
    assert response.status_code == 409
    assert response.json()[0]["error_message"]


def test_another_account_has_its_own_fields(sandbox):
    create(sandbox, grant(sandbox), "Ballot link").raise_for_status()
    theirs = grant(sandbox, login=(SECOND_EMAIL, SECOND_PASSWORD))
    assert api(sandbox, theirs, "/v3/contact_custom_fields").json()["custom_fields"] == []
    assert create(sandbox, theirs, "Ballot link").status_code == 201


@pytest.mark.parametrize("label, type_", [("", "string"), ("x" * 51, "string"), (None, "string"),
                                          ("Ballot link", "number"), ("Ballot link", None)])
def test_bad_definitions_are_a_400(sandbox, label, type_):
    response = create(sandbox, grant(sandbox), label, type_)
    assert response.status_code == 400
    assert response.json()[0]["error_key"]


def test_an_account_holds_at_most_100_custom_fields(sandbox):
    control(sandbox, "seed", account={"email": DEMO_EMAIL},
            custom_fields=[f"Field {n}" for n in range(99)]).raise_for_status()
    token = grant(sandbox)
    assert create(sandbox, token, "Field 99").status_code == 201
    response = create(sandbox, token, "Field 100")
    assert response.status_code == 400
    assert "100" in response.json()[0]["error_message"]


def test_custom_fields_page_by_cursor(sandbox):
    control(sandbox, "seed", account={"email": DEMO_EMAIL},
            custom_fields=[f"Field {n}" for n in range(5)]).raise_for_status()
    token = grant(sandbox)
    first = api(sandbox, token, "/v3/contact_custom_fields", params={"limit": 3}).json()
    second = api(sandbox, token, first["_links"]["next"]["href"]).json()
    names = [f["name"] for f in first["custom_fields"] + second["custom_fields"]]
    assert names == [f"Field_{n}" for n in range(5)] and second["_links"] == {}
    assert api(sandbox, token, "/v3/contact_custom_fields", params={"limit": 101}).status_code == 400


def seed_values(sandbox):
    control(sandbox, "seed", account={"email": DEMO_EMAIL}, contacts=[
        {"email": "voter1@example.org", "custom_fields": {"Ballot link": "https://vote.example/b/1",
                                                          "Member number": "M-1"}},
        {"email": "voter2@example.org", "custom_fields": {"Ballot link": "https://vote.example/b/2"}},
    ]).raise_for_status()


def test_contacts_carry_their_custom_field_values(sandbox):
    seed_values(sandbox)
    token = grant(sandbox)
    fields = {f["name"]: f["custom_field_id"] for f in
              api(sandbox, token, "/v3/contact_custom_fields").json()["custom_fields"]}
    assert contact(sandbox, token, "voter1@example.org")["custom_fields"] == [
        {"custom_field_id": fields["Ballot_link"], "value": "https://vote.example/b/1"},
        {"custom_field_id": fields["Member_number"], "value": "M-1"}]
    assert contact(sandbox, token, "voter3@example.org")["custom_fields"] == []
    plain = api(sandbox, token, "/v3/contacts", params={"email": "voter1@example.org"}).json()["contacts"][0]
    assert "custom_fields" not in plain


def test_deleting_a_field_removes_it_and_every_value(sandbox):
    seed_values(sandbox)
    token = grant(sandbox)
    fields = {f["name"]: f["custom_field_id"] for f in
              api(sandbox, token, "/v3/contact_custom_fields").json()["custom_fields"]}
    response = api(sandbox, token, f"/v3/contact_custom_fields/{fields['Ballot_link']}", method="DELETE")
    assert (response.status_code, response.content) == (204, b"")
    assert [v["value"] for v in contact(sandbox, token, "voter1@example.org")["custom_fields"]] == ["M-1"]
    assert contact(sandbox, token, "voter2@example.org")["custom_fields"] == []
    gone = api(sandbox, token, f"/v3/contact_custom_fields/{fields['Ballot_link']}")
    assert gone.status_code == 404 and gone.json()[0]["error_key"] == "custom_fields.api.not_found"
    assert stats(sandbox)["forbidden_calls"] == []


def test_deleting_an_unknown_or_another_accounts_field_is_404(sandbox):
    field = create(sandbox, grant(sandbox), "Ballot link").json()
    theirs = grant(sandbox, login=(SECOND_EMAIL, SECOND_PASSWORD))
    path = f"/v3/contact_custom_fields/{field['custom_field_id']}"
    assert api(sandbox, theirs, path, method="DELETE").status_code == 404
    assert api(sandbox, theirs, "/v3/contact_custom_fields/nothing", method="DELETE").status_code == 404


def test_changing_a_field_is_a_forbidden_call(sandbox):
    token = grant(sandbox)
    field = create(sandbox, token, "Ballot link").json()
    response = api(sandbox, token, f"/v3/contact_custom_fields/{field['custom_field_id']}", method="PUT",
                   json={"label": "Other"})
    assert response.status_code == 405
    assert [c["method"] for c in stats(sandbox)["forbidden_calls"]] == ["PUT"]


def test_seeded_values_longer_than_255_characters_are_refused(sandbox):
    response = control(sandbox, "seed", account={"email": DEMO_EMAIL},
                       contacts=[{"email": "a@example.org", "custom_fields": {"Ballot link": "x" * 256}}])
    assert response.status_code == 400
