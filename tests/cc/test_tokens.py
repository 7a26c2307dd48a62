"""CC connections: encrypted tokens, refresh before expiry, rotation saved first, revoked grants."""
import base64
import time
from pathlib import Path

import pytest
import requests
import requests_mock

from eo_cc.cc import tokens as cc_tokens
from eo_cc.cc.api import CCError, GrantRevoked
from eo_cc.db import connect
from eo_cc.migrations import migrate

ACCESS = "eyJ-access-token-" + "A" * 40
REFRESH = "refresh-token-R1-" + "B" * 20


# cc_tokens is Flask-free, so these tests need no app: a database and a config mapping.
@pytest.fixture
def config(tmp_path):
    return {
        "SECRET_KEY": "test-secret-key-not-for-production",
        "DATABASE": str(tmp_path / "eo_cc.sqlite"),
        "CC_CLIENT_ID": "test-client-id",
        "CC_CLIENT_SECRET": "test-client-secret",
        "CC_ACCESS_TOKEN_URL": "https://authz.test/oauth2/default/v1/token",
        "CC_API_BASE_URL": "https://api.test/v3",
        "CC_REQUESTS_PER_SECOND": 1000,
        "CC_TOKEN_REQUESTS_PER_SECOND": 1000,
    }


@pytest.fixture
def db(config):
    database = connect(config["DATABASE"])
    migrate(database)
    yield database
    database.close()


@pytest.fixture
def organisation_id(db):
    # Straight into the table; an id no admin has, so a mix-up with admin ids shows.
    return db["organisations"].insert({"id": 7, "name": "Ada's Club",
                                       "created_at": "2026-01-01T00:00:00+00:00"}).last_pk


@pytest.fixture
def cc():
    with requests_mock.Mocker() as mock:
        yield mock


def token(access=ACCESS, refresh=REFRESH, expires_in=86400, **extra):
    return {"access_token": access, "refresh_token": refresh, "token_type": "Bearer",
            "expires_at": int(time.time()) + expires_in, "scope": "contact_data offline_access",
            **extra}


def connect_organisation(db, config, organisation_id, **token_args):
    cc_tokens.save_token(db, config["SECRET_KEY"], organisation_id, token(**token_args))


def api(config, path):
    return config["CC_API_BASE_URL"] + path


def test_tokens_are_encrypted_in_the_database_file(db, config, organisation_id):
    connect_organisation(db, config, organisation_id)
    db.conn.execute("PRAGMA wal_checkpoint(FULL)")
    database = Path(config["DATABASE"])
    stored = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    assert ACCESS.encode() not in stored
    assert REFRESH.encode() not in stored
    assert cc_tokens.load_token(db, config["SECRET_KEY"], organisation_id)["refresh_token"] == REFRESH


def test_load_token_returns_an_authlib_token(db, config, organisation_id):
    saved = token()
    cc_tokens.save_token(db, config["SECRET_KEY"], organisation_id, saved)
    assert cc_tokens.load_token(db, config["SECRET_KEY"], organisation_id) == {
        "access_token": ACCESS, "refresh_token": REFRESH, "token_type": "Bearer",
        "expires_at": saved["expires_at"], "scope": "contact_data offline_access"}


def test_load_token_is_none_when_the_organisation_has_not_connected(db, config, organisation_id):
    assert cc_tokens.load_token(db, config["SECRET_KEY"], organisation_id) is None


def test_load_token_with_another_secret_key_is_refused(db, config, organisation_id):
    connect_organisation(db, config, organisation_id)
    with pytest.raises(ValueError):
        cc_tokens.load_token(db, "another-secret", organisation_id)


def test_save_token_turns_expires_in_into_epoch_seconds(db, config, organisation_id):
    cc_tokens.save_token(db, config["SECRET_KEY"], organisation_id,
                         {"access_token": "a", "refresh_token": "r", "expires_in": 86400})
    expires_at = cc_tokens.get_connection(db, organisation_id)["expires_at"]
    assert abs(expires_at - (time.time() + 86400)) < 5


def test_save_token_keeps_one_row_per_organisation_and_clears_needs_grant(db, config, organisation_id):
    cc_tokens.save_token(db, config["SECRET_KEY"], organisation_id, token(), account_name="Ada's Club")
    cc_tokens.mark_needs_grant(db, organisation_id, "refresh refused")
    cc_tokens.save_token(db, config["SECRET_KEY"], organisation_id, token(access="second", refresh="r2"))

    assert db["cc_connections"].count == 1
    connection = cc_tokens.get_connection(db, organisation_id)
    assert (connection["needs_grant"], connection["last_error"]) == (0, None)
    assert connection["account_name"] == "Ada's Club"
    assert cc_tokens.load_token(db, config["SECRET_KEY"], organisation_id)["access_token"] == "second"


def test_get_connection_shows_the_row_without_any_secret(db, config, organisation_id):
    connect_organisation(db, config, organisation_id)
    connection = cc_tokens.get_connection(db, organisation_id)
    assert connection["organisation_id"] == organisation_id
    assert connection["has_refresh_token"] == 1
    assert not any("encrypted" in column for column in connection)
    assert ACCESS not in repr(connection) and REFRESH not in repr(connection)


def test_mark_needs_grant_keeps_the_connection(db, config, organisation_id):
    connect_organisation(db, config, organisation_id)
    cc_tokens.mark_needs_grant(db, organisation_id, "invalid_grant: expired")
    connection = cc_tokens.get_connection(db, organisation_id)
    assert (connection["needs_grant"], connection["last_error"]) == (1, "invalid_grant: expired")
    assert cc_tokens.load_token(db, config["SECRET_KEY"], organisation_id)["access_token"] == ACCESS


def test_delete_connection_returns_the_token_for_revoking(db, config, organisation_id):
    connect_organisation(db, config, organisation_id)
    deleted = cc_tokens.delete_connection(db, config["SECRET_KEY"], organisation_id)
    assert (deleted["access_token"], deleted["refresh_token"]) == (ACCESS, REFRESH)
    assert cc_tokens.get_connection(db, organisation_id) is None


def test_delete_connection_is_none_when_there_is_nothing_to_delete(db, config, organisation_id):
    assert cc_tokens.delete_connection(db, config["SECRET_KEY"], organisation_id) is None


def test_make_client_without_a_connection_raises_grant_revoked(db, config, organisation_id):
    with pytest.raises(GrantRevoked) as raised:
        cc_tokens.make_client(db, config, organisation_id)
    assert raised.value.error_key == "not_connected"


def test_make_client_for_a_connection_that_needs_a_new_grant_raises_grant_revoked(db, config, organisation_id):
    connect_organisation(db, config, organisation_id)
    cc_tokens.mark_needs_grant(db, organisation_id, "refused")
    with pytest.raises(GrantRevoked):
        cc_tokens.make_client(db, config, organisation_id)


def test_make_client_with_undecryptable_tokens_asks_for_a_new_grant(db, config, organisation_id):
    cc_tokens.save_token(db, "an-old-secret-key", organisation_id, token())
    with pytest.raises(GrantRevoked):
        cc_tokens.make_client(db, config, organisation_id)
    assert cc_tokens.get_connection(db, organisation_id)["needs_grant"] == 1


def test_a_fresh_token_is_used_without_refreshing(cc, db, config, organisation_id):
    connect_organisation(db, config, organisation_id, expires_in=3600)
    cc.get(api(config, "/contacts"), json={"contacts": []})
    counted = []
    client = cc_tokens.make_client(db, config, organisation_id, on_request=lambda: counted.append(1))

    client.contacts_by_email("a@example.org")

    assert [r.url.split("?")[0] for r in cc.request_history] == [api(config, "/contacts")]
    assert cc.last_request.headers["Authorization"] == f"Bearer {ACCESS}"
    assert counted == [1]


@pytest.mark.parametrize("expires_in", [-60, 0, 120, 290])
def test_an_expired_or_nearly_expired_token_is_refreshed_and_saved_before_the_call(
        cc, db, config, organisation_id, expires_in):
    connect_organisation(db, config, organisation_id, expires_in=expires_in)
    stored_when_called = []

    def contacts(request, context):
        stored_when_called.append(cc_tokens.load_token(db, config["SECRET_KEY"], organisation_id))
        return {"contacts": []}

    cc.post(config["CC_ACCESS_TOKEN_URL"], json={
        "access_token": "new-access", "refresh_token": "rotated-R2", "token_type": "Bearer",
        "expires_in": 86400, "scope": "contact_data offline_access"})
    cc.get(api(config, "/contacts"), json=contacts)
    counted = []
    client = cc_tokens.make_client(db, config, organisation_id, on_request=lambda: counted.append(1))

    client.contacts_by_email("a@example.org")

    refresh, call = cc.request_history
    assert refresh.url == config["CC_ACCESS_TOKEN_URL"]
    assert refresh.headers["Authorization"] == "Basic " + base64.b64encode(
        f"{config['CC_CLIENT_ID']}:{config['CC_CLIENT_SECRET']}".encode()).decode()
    assert "grant_type=refresh_token" in refresh.text and f"refresh_token={REFRESH}" in refresh.text
    assert call.headers["Authorization"] == "Bearer new-access"
    assert stored_when_called[0]["refresh_token"] == "rotated-R2"
    assert stored_when_called[0]["access_token"] == "new-access"
    assert counted == [1]  # the token endpoint is not part of the API's daily budget


def test_a_token_valid_for_more_than_five_minutes_is_not_refreshed(cc, db, config, organisation_id):
    connect_organisation(db, config, organisation_id, expires_in=600)
    cc.get(api(config, "/contacts"), json={"contacts": []})
    cc_tokens.make_client(db, config, organisation_id).contacts_by_email("a@example.org")
    assert cc.call_count == 1


def test_a_refused_refresh_marks_the_connection_and_raises_grant_revoked(cc, db, config, organisation_id):
    connect_organisation(db, config, organisation_id, expires_in=-10)
    cc.post(config["CC_ACCESS_TOKEN_URL"], status_code=400, json={
        "error": "invalid_grant", "error_description": "The refresh token is invalid or expired."})
    cc.get(api(config, "/contacts"), json={"contacts": []})
    client = cc_tokens.make_client(db, config, organisation_id)

    with pytest.raises(GrantRevoked) as raised:
        client.contacts_by_email("a@example.org")

    assert raised.value.error_key == "invalid_grant"
    assert cc.call_count == 1  # the API itself was never called
    connection = cc_tokens.get_connection(db, organisation_id)
    assert connection["needs_grant"] == 1
    assert "invalid or expired" in connection["last_error"]


def test_a_401_forces_a_refresh_and_the_retry_uses_the_new_token(cc, db, config, organisation_id):
    connect_organisation(db, config, organisation_id)
    cc.post(config["CC_ACCESS_TOKEN_URL"], json={
        "access_token": "after-401", "refresh_token": "R2", "token_type": "Bearer", "expires_in": 86400})
    cc.get(api(config, "/contacts"), [
        {"status_code": 401, "json": [{"error_key": "unauthorized", "error_message": "Unauthorized"}]},
        {"json": {"contacts": [{"contact_id": "c1"}]}}])

    contacts = cc_tokens.make_client(db, config, organisation_id).contacts_by_email("a@example.org")

    assert contacts == [{"contact_id": "c1"}]
    assert [r.headers["Authorization"] for r in cc.request_history if "/v3/" in r.url] == [
        f"Bearer {ACCESS}", "Bearer after-401"]
    assert cc_tokens.load_token(db, config["SECRET_KEY"], organisation_id)["refresh_token"] == "R2"


def test_a_401_after_refreshing_marks_the_connection_as_needing_a_grant(cc, db, config, organisation_id):
    connect_organisation(db, config, organisation_id)
    cc.post(config["CC_ACCESS_TOKEN_URL"], json={
        "access_token": "after-401", "refresh_token": "R2", "token_type": "Bearer", "expires_in": 86400})
    cc.get(api(config, "/contacts"), status_code=401,
           json=[{"error_key": "unauthorized", "error_message": "Unauthorized"}])

    with pytest.raises(GrantRevoked):
        cc_tokens.make_client(db, config, organisation_id).contacts_by_email("a@example.org")

    assert cc_tokens.get_connection(db, organisation_id)["needs_grant"] == 1


def test_a_token_rotated_by_another_process_is_adopted_instead_of_revoking(cc, db, config, organisation_id):
    connect_organisation(db, config, organisation_id, expires_in=-10)
    client = cc_tokens.make_client(db, config, organisation_id)
    # Meanwhile the web site refreshed: R1 is spent, R2 and a new access token are stored.
    connect_organisation(db, config, organisation_id, access="site-access", refresh="R2", expires_in=86400)
    refresh = cc.post(config["CC_ACCESS_TOKEN_URL"], status_code=400, json={"error": "invalid_grant"})
    cc.get(api(config, "/contacts"), json={"contacts": []})

    client.contacts_by_email("a@example.org")

    assert cc.last_request.headers["Authorization"] == "Bearer site-access"
    assert not refresh.called  # R1 is never spent a second time
    assert cc_tokens.get_connection(db, organisation_id)["needs_grant"] == 0


def test_an_unavailable_token_endpoint_is_a_retryable_error_not_a_revoked_grant(cc, db, config, organisation_id):
    connect_organisation(db, config, organisation_id, expires_in=-10)
    cc.post(config["CC_ACCESS_TOKEN_URL"], status_code=503, text="<html>down</html>")

    with pytest.raises(CCError) as raised:
        cc_tokens.make_client(db, config, organisation_id).contacts_by_email("a@example.org")

    assert not isinstance(raised.value, GrantRevoked)
    assert (raised.value.status, raised.value.retryable) == (503, True)
    assert cc_tokens.get_connection(db, organisation_id)["needs_grant"] == 0


def test_an_expired_token_without_a_refresh_token_needs_a_new_grant(cc, db, config, organisation_id):
    connect_organisation(db, config, organisation_id, refresh=None, expires_in=-10)
    with pytest.raises(GrantRevoked):
        cc_tokens.make_client(db, config, organisation_id).contacts_by_email("a@example.org")
    assert cc.call_count == 0
    assert cc_tokens.get_connection(db, organisation_id)["needs_grant"] == 1


def test_a_token_endpoint_timeout_during_a_forced_refresh_is_retryable(cc, db, config, organisation_id):
    connect_organisation(db, config, organisation_id)
    cc.post(config["CC_ACCESS_TOKEN_URL"], exc=requests.exceptions.ReadTimeout("slow"))
    cc.get(api(config, "/contacts"), status_code=401, json=[{"error_key": "unauthorized"}])

    with pytest.raises(CCError) as raised:
        cc_tokens.make_client(db, config, organisation_id).contacts_by_email("a@example.org")

    assert (raised.value.status, raised.value.retryable) == (None, True)
    assert cc.request_history[-1].timeout == cc_tokens.TIMEOUT
    assert cc_tokens.get_connection(db, organisation_id)["needs_grant"] == 0


def test_a_misconfigured_client_is_an_error_but_not_a_revoked_grant(cc, db, config, organisation_id):
    connect_organisation(db, config, organisation_id, expires_in=-10)
    cc.post(config["CC_ACCESS_TOKEN_URL"], status_code=401,
            json={"error": "invalid_client", "error_description": "Client authentication failed"})

    with pytest.raises(CCError) as raised:
        cc_tokens.make_client(db, config, organisation_id).contacts_by_email("a@example.org")

    assert not isinstance(raised.value, GrantRevoked)
    assert (raised.value.error_key, raised.value.retryable) == ("invalid_client", False)
    assert cc_tokens.get_connection(db, organisation_id)["needs_grant"] == 0
