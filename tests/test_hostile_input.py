"""Hostile input: every form of the app's own URL map posted with missing, oversize, wrong-type,
non-UTF-8, NUL and script-laden values answers without a 500, and nothing stored renders as markup.

The POST routes are read from the URL map at collection time, so a new form is covered
automatically. Field names come from the pages that show each form; a route whose form is
on no page gets a generic set of common field names.

The owner sweeps every form; an admin, an observer and a member of another organisation
sweep every form that is not public. Where the role table refuses them, every hostile post
must be refused too (and store nothing); where it lets them in, the full checks apply.
"""
import io
import os
import re
import tempfile
import time
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import quote_from_bytes, urlsplit

import pytest
from werkzeug.datastructures import MultiDict

from eo_cc import clock, create_app
from eo_cc.cc import mailing_views
from eo_cc.cc import tokens as cc_tokens
from eo_cc.cc import views as cc_views
from eo_cc.crypto import ballot_link_token
from eo_cc.organisations import invitations
from eo_cc.organisations.access import PUBLIC, ROLES

from .cc.fake_cc import LIST_ID
from .cc.fake_mailings import MailingsCC
from .factories import ADMIN_PASSWORD, make_admin, make_election, make_member, make_voters, organisation_of

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
MARKERS = ("<script>alert(1)", "<img src=x")
BIG = "A" * 100_000
GENERIC_FIELDS = {"title": "text", "description": "textarea", "name": "text", "email": "email",
                  "password": "password", "confirm": "password", "voter_id": "text", "code": "text",
                  "prompt": "textarea", "choices": "textarea", "max_choices": "number",
                  "opens_at": "datetime-local", "closes_at": "datetime-local",
                  "reminder_at": "datetime-local", "list_id": "hidden", "file": "file"}


def _post_endpoints():
    """Every endpoint that accepts POST, read from a throwaway app's URL map."""
    saved = os.environ.get("EO_CC_INSTANCE_PATH")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["EO_CC_INSTANCE_PATH"] = tmp
        try:
            app = create_app({"TESTING": True, "SECRET_KEY": "collect", "DATABASE": f"{tmp}/c.sqlite"})
        finally:
            if saved is None:
                os.environ.pop("EO_CC_INSTANCE_PATH")
            else:
                os.environ["EO_CC_INSTANCE_PATH"] = saved
        return sorted({r.endpoint for r in app.url_map.iter_rules() if "POST" in r.methods})


POST_ENDPOINTS = _post_endpoints()
OTHER_VISITORS = ("admin", "observer", "outsider")
# (who, which election the admin pages act on, endpoint): the owner everywhere, the others on
# every route that is not public (the public ones do not depend on who is signed in).
SWEEP = ([("owner", state, endpoint) for state in ("draft", "open") for endpoint in POST_ENDPOINTS]
         + [(who, "draft", endpoint) for who in OTHER_VISITORS for endpoint in POST_ENDPOINTS
            if ROLES.get(endpoint) != PUBLIC])


# --- the world: admin A's draft election (editable), an open election for voters, a CC list ---

def election_objects(db, election_id, secret_key):
    """An election's voters, a pending reminder and its first question, for URL arguments."""
    voters = make_voters(db, election_id, secret_key=secret_key)
    reminder = db["reminders"].insert({"election_id": election_id, "send_at": clock.iso(
        clock.now() + timedelta(days=2))}).last_pk
    question = db.execute("SELECT MIN(id) FROM questions WHERE election_id = ?",
                          [election_id]).fetchone()[0]
    return {"election_id": election_id, "voter_pk": voters[0], "reminder_id": reminder,
            "question_id": question, "voter_id": voters[0]}


@pytest.fixture
def world(request, app, db, admin, client, requests_mock, monkeypatch):
    """Real objects for every URL argument; CC answers from a fake whose list name is hostile.

    Admin routes act on the draft election, or on the open one when parametrized with "open";
    voter routes always use the open election. Parametrized with (who, state), the admin
    client is signed in as the owner (the `admin` fixture), a member with that role, or
    the owner of another organisation ("outsider").
    """
    who, state = getattr(request, "param", ("owner", "draft"))
    organisation_id = organisation_of(db, admin)
    # West of UTC, so the far end of the calendar overflows when converted to UTC.
    db["admins"].update(admin, {"timezone": "America/Los_Angeles"})
    fake = MailingsCC(requests_mock)   # FakeCC, plus list creation, custom fields and imports
    for views in (cc_views, mailing_views):  # a list made by a hostile post starts no real sync process
        monkeypatch.setattr(views, "start_background_sync", lambda config, election_id: True)
    fake.add_list(LIST_ID, ["voter1@example.org"], name=SCRIPT)
    requests_mock.post(app.config["CC_REVOKE_URL"], text="")
    secret_key = app.config["SECRET_KEY"]
    cc_tokens.save_token(db, secret_key, organisation_id, {
        "access_token": "stored-access", "refresh_token": "stored-refresh", "token_type": "Bearer",
        "expires_at": int(time.time()) + 86400, "scope": "contact_data offline_access"})
    draft = election_objects(db, make_election(db, admin, title="Draft election", state="draft",
                                               opens_in_hours=24, closes_in_hours=24 * 5), secret_key)
    voting = election_objects(db, make_election(db, admin, title="Open election"), secret_key)
    admin_side = voting if state == "open" else draft
    member = make_member(db, organisation_id, "observer", "member@example.org")
    invitation_id, invitation_token = invitations.invite(db, organisation_id, "invited@example.org",
                                                         "admin", admin)
    if who != "owner":
        email = f"{who}@example.org"
        if who == "outsider":
            make_admin(db, email=email)
        else:
            make_member(db, organisation_id, who, email)
        client.post("/auth/logout")
        client.post("/auth/login", data={"email": email, "password": ADMIN_PASSWORD})
    return {**admin_side, "slug": db["elections"].get(voting["election_id"])["slug"],
            "voter_id": voting["voter_id"], "token": ballot_link_token(secret_key, voting["voter_id"], 1),
            "direction": "down", "list_id": LIST_ID, "filename": "style.css", "who": who,
            "organisation_id": organisation_id, "member_id": member,
            "invitation_id": invitation_id, "invitation_token": invitation_token}


def fill(rule, values):
    """A concrete URL for a rule from the world's objects."""
    url = rule.rule
    for name in rule.arguments:
        url = re.sub(r"<(?:[^:<>]+:)?%s>" % name, str(values[name]), url)
    return url


def is_voter_route(rule):
    return rule.rule.startswith("/vote/")


def sign_in_voter(client, values):
    """The voter session as eo_cc.voting keeps it (session["voter"] = {"id", "slug"})."""
    with client.session_transaction() as session:
        session["voter"] = {"id": values["voter_id"], "slug": values["slug"]}


# --- reading forms off the pages ---

class FormParser(HTMLParser):
    """Each <form>'s action and its named fields: {name: (kind, value, options)}."""

    def __init__(self):
        super().__init__()
        self.forms, self._form = [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._form = {"action": attrs.get("action") or "", "fields": {}}
            self.forms.append(self._form)
        elif self._form is not None and tag in ("input", "textarea", "select") and attrs.get("name"):
            kind = attrs.get("type", "text") if tag == "input" else tag
            field = self._form["fields"].setdefault(attrs["name"], [kind, attrs.get("value"), []])
            if kind in ("radio", "checkbox") and attrs.get("value"):
                field[2].append(attrs["value"])
        elif self._form is not None and tag == "option" and self._form["fields"]:
            last = list(self._form["fields"].values())[-1]
            last[2].append(attrs.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


def forms_on(response, page_url):
    """{action path: fields} for every form on an HTML page."""
    if response.status_code != 200 or response.mimetype != "text/html":
        return {}
    parser = FormParser()
    parser.feed(response.get_data(as_text=True))
    return {urlsplit(form["action"]).path or page_url: {
        name: tuple(spec) for name, spec in form["fields"].items() if name != "csrf_token"}
        for form in parser.forms}


def get_pages(app, clients, values):
    """Every GET page of the URL map (filled), with the client that may see it."""
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and rule.endpoint not in ("static", "cc.callback"):
            url = fill(rule, values)
            yield url, client_for(rule, clients, values).get(url)


def discover_fields(app, clients, values, url):
    """The fields of the form that posts to url, read off whichever page shows it."""
    for page_url, response in get_pages(app, clients, values):
        fields = forms_on(response, page_url).get(url)
        if fields is not None:
            return fields
    return {name: (kind, None, []) for name, kind in GENERIC_FIELDS.items()}


# --- payloads ---

def local_time(hours):
    return (clock.now() + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")


def sensible(name, kind, value, options, serial):
    """A value the form would accept, so hostile text next to it gets stored."""
    if kind == "email":
        return f"hostile{serial}@example.org"
    if kind == "password":
        return "a long enough password"
    if kind == "number":
        return "1"
    if kind == "datetime-local":
        return local_time({"opens_at": 30, "closes_at": 60}.get(name, 40))
    if kind in ("radio", "checkbox", "select"):
        return options[0] if options else "y"
    if kind == "file":
        return csv_file(f"email,name\nhostile{serial}@example.org,New voter\n")
    if name == "choices":
        return "Alpha\nBeta"
    return value or "plain text"


def csv_file(text, filename="roster.csv"):
    return (io.BytesIO(text.encode() if isinstance(text, str) else text), filename)


def scripted(name, kind, value, options, serial, markup, emails_too=False):
    """Markup in every free-text field; other fields stay acceptable."""
    if kind == "file":
        quoted = IMG.replace('"', '""')
        return csv_file(f'email,name,voter_id\nx{serial}@example.org,{SCRIPT},"{quoted}"\n', f"{markup}.csv")
    if kind == "email" and emails_too:
        return f"{markup}@example.org"
    if name == "choices":
        return f"{markup}\n{SCRIPT if markup != SCRIPT else IMG}"
    if kind in ("text", "textarea", "hidden", "password", "search"):
        return markup
    return sensible(name, kind, value, options, serial)


def wrong_type(name, kind, value, options, serial):
    if kind == "file":
        return "text where a file belongs"
    return {"number": "twelve", "datetime-local": "next tuesday", "checkbox": "maybe",
            "radio": "not-a-choice", "select": "no-such-option", "email": "not an email"}.get(kind, "x")


def extreme(name, kind, value, options, serial):
    """Values at the edge of their type: the last minute of year 9999, 30-digit numbers."""
    if kind == "datetime-local":
        return "9999-12-31T23:59"
    if kind in ("number", "radio", "checkbox", "select", "hidden"):
        return "9" * 30
    return sensible(name, kind, value, options, serial)


def digit_like(char):
    """Number-ish fields get char: a superscript passes str.isdigit() but not int()."""
    def make(name, kind, value, options, serial):
        if kind in ("number", "radio", "checkbox", "select", "hidden", "datetime-local"):
            return char
        return sensible(name, kind, value, options, serial)
    return make


def oversize(name, kind, value, options, serial):
    return csv_file("email\n" + BIG) if kind == "file" else BIG


def with_nul(name, kind, value, options, serial):
    if kind == "file":
        return csv_file(f"email,name\nnul{serial}@example.org,Nul\x00Name\n", "../../etc/ro\x00ster.csv")
    return sensible(name, kind, value, options, serial) + "\x00tail"


def as_lists(name, kind, value, options, serial):
    first = sensible(name, kind, value, options, serial)
    if kind == "file":
        return [first, csv_file("email\nsecond@example.org\n")]
    return [first, "second value"]


PAYLOADS = {
    "blank": lambda *field: csv_file(b"") if field[1] == "file" else "",
    "oversize": oversize,
    "oversize_text": lambda *field: scripted(*field, markup=BIG),
    "wrong_type": wrong_type,
    "extreme": extreme,
    "superscript_digit": digit_like("\u00b2"),
    "full_width_digit": digit_like("\uff11"),
    "lists": as_lists,
    "nul": with_nul,
    "script": lambda *field: scripted(*field, markup=SCRIPT),
    "img": lambda *field: scripted(*field, markup=IMG),
    "script_everywhere": lambda *field: scripted(*field, markup=SCRIPT, emails_too=True),
}


def build(fields, make, serial):
    data = MultiDict()
    for name, (kind, value, options) in fields.items():
        made = make(name, kind, value, options, serial)
        for item in made if isinstance(made, list) else [made]:
            data.add(name, item)
    return data


def non_utf8_request(fields):
    """Keyword arguments for client.post: every value is bytes that are not UTF-8."""
    junk = b"caf\xe9 \xff\xfe\xc3("
    if any(kind == "file" for kind, _, _ in fields.values()):
        return {"data": {name: (io.BytesIO(b"email,name\n\xff\xfe@example.org,caf\xe9\n"), "r.csv")
                         if kind == "file" else "x" for name, (kind, _, _) in fields.items()}}
    body = "&".join(f"{name}={quote_from_bytes(junk)}" for name in fields) or quote_from_bytes(junk)
    return {"data": body.encode(), "content_type": "application/x-www-form-urlencoded"}


def requests_for(fields):
    """(label, client.post keyword arguments) for every hostile variant."""
    yield "missing", {"data": {}}
    yield "non_utf8", non_utf8_request(fields)
    yield "raw_nul_body", {"data": b"\x00\x01\x02" * 10, "content_type": "application/x-www-form-urlencoded"}
    yield "json_body", {"json": {name: [SCRIPT, {"a": 1}] for name in fields}}
    yield "broken_multipart", {"data": b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\xff",
                               "content_type": "multipart/form-data; boundary=x"}
    for serial, (label, make) in enumerate(PAYLOADS.items()):
        yield label, {"data": build(fields, make, serial)}
    for serial, name in enumerate(fields, start=len(PAYLOADS)):
        data = build(fields, sensible, serial)
        data.pop(name)
        yield f"without {name}", {"data": data}


# --- checks ---

def assert_no_markup(response, where):
    assert response.status_code < 500, f"{where} answered {response.status_code}"
    if response.mimetype == "text/html":
        body = response.get_data(as_text=True)
        for marker in MARKERS:
            assert marker not in body, f"{where} renders {marker!r} as markup"


def local_redirect(response):
    location = response.headers.get("Location", "")
    parts = urlsplit(location)
    if response.status_code in (301, 302, 303) and parts.netloc in ("", "localhost"):
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return None


@pytest.fixture
def clients(app, client):
    return {"admin": client, "voter": app.test_client(), "anonymous": app.test_client()}


def client_for(rule, clients, values):
    if is_voter_route(rule):
        sign_in_voter(clients["voter"], values)
        return clients["voter"]
    is_signed_out = rule.rule.startswith(("/auth/", "/invitations/")) and ROLES[rule.endpoint] == PUBLIC
    return clients["anonymous"] if is_signed_out else clients["admin"]


def is_refused(rule, who):
    """Whether the role table keeps `who` out of this route (in the world's organisation)."""
    allowed = ROLES[rule.endpoint]
    if not isinstance(allowed, frozenset):
        return False
    if who == "outsider":
        return bool({"election_id", "organisation_id"} & rule.arguments)
    return who not in allowed


def row_counts(db):
    return {name: db.execute(f"SELECT count(*) FROM [{name}]").fetchone()[0]
            for name in db.table_names() if name != "throttles"}


@pytest.mark.parametrize("world, endpoint", [((who, state), endpoint) for who, state, endpoint in SWEEP],
                         indirect=["world"], ids=[f"{who}-{state}-{endpoint}" for who, state, endpoint in SWEEP])
def test_hostile_values_posted_to_every_form_never_500_and_never_render_as_markup(
        app, db, clients, world, endpoint):
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint and "POST" in r.methods)
    url = fill(rule, world)
    fields = discover_fields(app, clients, world, url)
    if is_refused(rule, world["who"]):
        before = row_counts(db)
        for label, kwargs in requests_for(fields):
            response = client_for(rule, clients, world).post(url, **kwargs)
            # 400: a JSON body is refused before anything else looks at the request
            assert response.status_code in (400, 403, 404), f"POST {url} ({label}) answered {response.status_code}"
        assert row_counts(db) == before
        return
    for label, kwargs in requests_for(fields):
        client = client_for(rule, clients, world)
        response = client.post(url, **kwargs)
        assert_no_markup(response, f"POST {url} ({label})")
        if target := local_redirect(response):
            assert_no_markup(client.get(target), f"GET {target} after POST {url} ({label})")
    for page_url, response in get_pages(app, clients, world):
        assert_no_markup(response, f"GET {page_url} after hostile posts to {url}")


def test_every_post_route_is_swept():
    """The sweep reads the URL map: the forms the product is built around are all in it."""
    for endpoint in ("elections.create", "elections.edit", "questions.new", "roster.upload",
                     "roster.add_voter", "voting.ballot", "voting.election_page", "auth.login",
                     "organisations.invite", "organisations.invitation", "organisations.change_role"):
        assert endpoint in POST_ENDPOINTS
    for who in ("owner", *OTHER_VISITORS):
        assert any(swept == who for swept, _, _ in SWEEP)


# --- hostile values in the URL itself ---

@pytest.mark.parametrize("number", [2 ** 63, 10 ** 30], ids=["2**63", "10**30"])
def test_ids_too_big_for_sqlite_in_any_url_are_not_found(app, clients, world, number):
    """SQLite integers stop at 2**63 - 1; a bigger id in the URL is a page that does not exist."""
    checked = 0
    for rule in app.url_map.iter_rules():
        for name in re.findall(r"<int(?:\([^)]*\))?:(\w+)>", rule.rule):
            url = fill(rule, {**world, name: number})
            client = client_for(rule, clients, world)
            for method in sorted(rule.methods & {"GET", "POST"}):
                response = client.open(url, method=method)
                # 405 where a GET and a POST rule share the path (Werkzeug's matcher reports that)
                assert response.status_code in (404, 405), f"{method} {url} answered {response.status_code}"
                checked += 1
    assert checked >= 20


@pytest.mark.parametrize("value", [SCRIPT, "%FF%FE", "%00", "x" * 5000])
def test_hostile_query_strings_on_every_page_never_500_or_render_as_markup(app, clients, world, value):
    query = "&".join(f"{name}={value}" for name in ("page", "filter", "next", "error", "state", "code"))
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and rule.endpoint != "static":
            client = client_for(rule, clients, world)
            url = f"{fill(rule, world)}?{query}"
            assert_no_markup(client.get(url), f"GET {url}")
