"""Talking to a running sandbox over HTTP the way eo_cc and a person's browser do."""
import base64
import hashlib
import re
import secrets
import time
from urllib.parse import parse_qs, urlsplit

import requests

from cc_sandbox import server
from cc_sandbox.store import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_EMAIL, DEMO_PASSWORD

REDIRECT_URI = "http://127.0.0.1:5000/elections/1/integration/callback"
CLIENT = (DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
SCOPE = "contact_data offline_access"
VOTER_LIST = "Annual Meeting 2026 — Eligible Voters"


def start(tmp_path, **options):
    """A demo sandbox; unless a test asks, without CC's paces (most tests are about behaviour)."""
    options.setdefault("requests_per_second", None)
    options.setdefault("token_requests_per_second", None)
    options.setdefault("activity_delay", 0.3)
    return server.start(tmp_path / "sandbox.sqlite", demo=True, **options)


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def authorize(sandbox, browser, decision="accept", challenge=None, redirect_uri=REDIRECT_URI,
              scope=SCOPE, login=(DEMO_EMAIL, DEMO_PASSWORD)):
    """Walk the sign-in and Accept pages; return the redirect's query parameters."""
    params = {"client_id": DEMO_CLIENT_ID, "redirect_uri": redirect_uri, "response_type": "code",
              "scope": scope, "state": "state-123"}
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    page = browser.get(sandbox.authorize_url, params=params)
    if "Sign in" in page.text:
        page = browser.post(page.url, data={"email": login[0], "password": login[1]})
    assert "eo_cc requests access to your Constant Contact account" in page.text
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text).group(1)
    answer = browser.post(page.url, data={"request_id": request_id, "decision": decision},
                          allow_redirects=False)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(redirect_uri)
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def exchange(sandbox, code, verifier=None, auth=CLIENT, redirect_uri=REDIRECT_URI):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier:
        data["code_verifier"] = verifier
    return requests.post(sandbox.token_url, data=data, auth=auth)


def refresh(sandbox, refresh_token, auth=CLIENT):
    return requests.post(sandbox.token_url, auth=auth,
                         data={"grant_type": "refresh_token", "refresh_token": refresh_token})


def grant(sandbox, scope=SCOPE, login=(DEMO_EMAIL, DEMO_PASSWORD)):
    """A token dict from the full code flow with PKCE."""
    verifier, challenge = pkce_pair()
    code = authorize(sandbox, requests.Session(), challenge=challenge, scope=scope, login=login)["code"]
    response = exchange(sandbox, code, verifier)
    assert response.status_code == 200, response.text
    return response.json()


def api(sandbox, token, path, method="GET", **kwargs):
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    return requests.request(method, sandbox.url + path, headers=headers, **kwargs)


def control(sandbox, path, **json):
    """POST a JSON control to /_sandbox/<path>; returns the response."""
    return requests.post(f"{sandbox.url}/_sandbox/{path}", json=json)


def stats(sandbox):
    return requests.get(f"{sandbox.url}/_sandbox/stats").json()


def lists_by_name(sandbox, token, **params):
    body = api(sandbox, token, "/v3/contact_lists", params={"include_membership_count": "all", **params}).json()
    return {item["name"]: item for item in body["lists"]}


def members(sandbox, list_id):
    return requests.get(f"{sandbox.url}/_sandbox/lists/{list_id}/members.json").json()


def member_emails(sandbox, list_id):
    return members(sandbox, list_id)["emails"]


def seed_big_list(sandbox, count):
    emails = [f"member{n:05d}@example.org" for n in range(count)]
    response = requests.post(f"{sandbox.url}/_sandbox/seed", json={
        "account": {"email": DEMO_EMAIL}, "lists": [{"name": "Big list", "emails": emails}]})
    assert response.status_code == 201
    return response.json()["lists"][0]["list_id"], emails


def contact_ids(sandbox, token, *emails):
    return [api(sandbox, token, "/v3/contacts", params={"email": email}).json()["contacts"][0]["contact_id"]
            for email in emails]


def contact(sandbox, token, email):
    """The contact with this email, with its custom fields and list memberships, or None."""
    found = api(sandbox, token, "/v3/contacts", params={
        "email": email, "include": "custom_fields,list_memberships"}).json()["contacts"]
    return found[0] if found else None


def remove(sandbox, token, ids, list_id):
    return api(sandbox, token, "/v3/activities/remove_list_memberships", method="POST",
               json={"source": {"contact_ids": ids}, "list_ids": [list_id]})


def wait_for_activity(sandbox, token, activity_id):
    states = []
    for _ in range(100):
        body = api(sandbox, token, f"/v3/activities/{activity_id}").json()
        states.append(body["state"])
        if body["state"] not in ("initialized", "processing"):
            return states, body
        time.sleep(0.05)
    raise AssertionError(f"activity never finished: {states}")
