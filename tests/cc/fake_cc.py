"""A small stateful Constant Contact behind requests-mock, for the sync's unit tests."""
import re
from urllib.parse import parse_qs, urlsplit

import requests_mock

API = "https://api.test/v3"
TOKEN_URL = "https://authz.test/oauth2/default/v1/token"
LIST_ID = "list-voters"


class FakeCC:
    """Lists, contacts and removal activities; scripted failures per endpoint.

    `activity_states`: the states each new activity reports on successive polls (the last
    one repeats); removals take effect when it reports "completed".
    """

    def __init__(self, mocker, activity_states=("processing", "completed")):
        self.mocker = mocker
        self.lists = {}            # list_id -> name
        self.contacts = {}         # contact_id -> {"email", "lists": set()}
        self.activities = {}       # activity_id -> {"ids", "list_id", "states", "polls"}
        self.activity_states = list(activity_states)
        self.failures = {}         # endpoint name -> [(status, json body), ...] served first
        self.failures_at = {}      # (endpoint name, nth request) -> (status, json body)
        self.seen = {}             # endpoint name -> requests so far
        self.posted = []           # contact id lists, one per removal activity
        self.refresh_tokens = []   # refresh tokens presented to the token endpoint
        self.token_answers = []    # (status, json) answers for the token endpoint
        self.bearers = []
        self._register()

    # --- data ------------------------------------------------------------------------

    def add_list(self, list_id=LIST_ID, emails=(), name="Voters"):
        self.lists[list_id] = name
        for email in emails:
            self.add_contact(email, [list_id])

    def add_contact(self, email, lists=()):
        contact_id = f"c-{len(self.contacts) + 1}"
        self.contacts[contact_id] = {"email": email, "lists": set(lists)}
        return contact_id

    def members(self, list_id=LIST_ID):
        return sorted(c["email"] for c in self.contacts.values() if list_id in c["lists"])

    def calls(self, name):
        """How many requests reached one endpoint (including scripted failures)."""
        return sum(1 for request in self.mocker.request_history if _endpoint(request) == name)

    def fail(self, name, status, body, times=1):
        self.failures.setdefault(name, []).extend([(status, body)] * times)

    def fail_at(self, name, nth, status, body):
        """Answer the nth request (1-based) to an endpoint with an error, once."""
        self.failures_at[(name, nth)] = (status, body)

    # --- requests-mock wiring ----------------------------------------------------------

    def _register(self):
        m = self.mocker
        m.get(re.compile(re.escape(API) + r"/contact_lists"), json=self._guard("lists", self._lists))
        m.get(re.compile(re.escape(API) + r"/contacts"), json=self._guard("contacts", self._contacts))
        m.post(API + "/activities/remove_list_memberships",
               json=self._guard("remove", self._remove))
        m.get(re.compile(re.escape(API) + r"/activities/[^/]+$"),
              json=self._guard("activity", self._activity))
        m.post(TOKEN_URL, json=self._token)

    def _guard(self, name, handler):
        def respond(request, context):
            self.bearers.append(request.headers.get("Authorization"))
            self.seen[name] = self.seen.get(name, 0) + 1
            if (name, self.seen[name]) in self.failures_at:
                context.status_code, body = self.failures_at.pop((name, self.seen[name]))
                return body
            queued = self.failures.get(name)
            if queued:
                context.status_code, body = queued.pop(0)
                return body
            return handler(request, context)
        return respond

    def _lists(self, request, context):
        return {"lists": [{"list_id": lid, "name": name,
                           "membership_count": len(self.members(lid))}
                          for lid, name in self.lists.items()]}

    def _contacts(self, request, context):
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        if "email" in query:
            found = [cid for cid, c in self.contacts.items() if c["email"] == query["email"]]
            return {"contacts": [self._contact(cid) for cid in found]}
        members = [cid for cid, c in self.contacts.items() if query["lists"] in c["lists"]]
        start, limit = int(query.get("cursor", 0)), int(query.get("limit", 50))
        page = {"contacts": [self._contact(cid, memberships=False)
                             for cid in members[start:start + limit]]}
        if start + limit < len(members):
            page["_links"] = {"next": {"href": f"/v3/contacts?cursor={start + limit}"
                                               f"&lists={query['lists']}&limit={limit}"}}
        return page

    def _contact(self, contact_id, memberships=True):
        contact = self.contacts[contact_id]
        body = {"contact_id": contact_id, "email_address": {"address": contact["email"]}}
        if memberships:
            body["list_memberships"] = sorted(contact["lists"])
        return body

    def _remove(self, request, context):
        body = request.json()
        activity_id = f"act-{len(self.activities) + 1}"
        self.activities[activity_id] = {"ids": body["source"]["contact_ids"],
                                        "list_id": body["list_ids"][0],
                                        "states": list(self.activity_states), "polls": 0}
        self.posted.append(body["source"]["contact_ids"])
        context.status_code = 201
        return {"activity_id": activity_id, "state": "initialized"}

    def _activity(self, request, context):
        activity_id = request.path.rsplit("/", 1)[1]
        activity = self.activities[activity_id]
        states = activity["states"]
        state = states[min(activity["polls"], len(states) - 1)]
        activity["polls"] += 1
        if state == "completed":
            for contact_id in activity["ids"]:
                self.contacts[contact_id]["lists"].discard(activity["list_id"])
        errors = [{"message": "list not found"}] if state == "failed" else []
        return {"activity_id": activity_id, "state": state, "activity_errors": errors}

    def _token(self, request, context):
        form = parse_qs(request.text)
        self.refresh_tokens.append(form.get("refresh_token", [None])[0])
        if self.token_answers:
            context.status_code, body = self.token_answers.pop(0)
            return body
        n = len(self.refresh_tokens) + 1
        return {"access_token": f"access-{n}", "refresh_token": f"refresh-{n}",
                "token_type": "Bearer", "expires_in": 86400}


def _endpoint(request):
    path = urlsplit(request.url).path
    if request.method == "POST" and path.endswith("/token"):
        return "token"
    if path.endswith("/contact_lists"):
        return "lists"
    if path.endswith("/contacts"):
        query = parse_qs(urlsplit(request.url).query)
        return "contacts_by_email" if "email" in query else "contacts_in_list"
    if path.endswith("/remove_list_memberships"):
        return "remove"
    if "/activities/" in path:
        return "activity"
    return path


def mocker():
    return requests_mock.Mocker(case_sensitive=True)
