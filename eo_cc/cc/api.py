"""The Constant Contact v3 client: lists, contact look-ups, list-membership removals, and for the
mailings (issue 10) custom fields, JSON imports and list creation.

Flask-free, so the hourly sync and the web pages share it. The session it is given adds
the Bearer token (an Authlib OAuth2Session, see tokens.make_client); the pace it is given
(pace.SharedPace) spaces its requests. The client does not retry by itself: every failure
becomes one CCError and the caller decides on backoff. The one exception is a 401, which
gets one forced token refresh and one retry.
"""
import json
import re
from urllib.parse import quote, unquote, urljoin, urlsplit

import requests

MAX_IDS_PER_ACTIVITY = 500
MAX_PAGE_SIZE = 500
MAX_FIELDS_PAGE_SIZE = 100
# contacts_json_import: CC silently drops whatever lies beyond 4 MB, so a bigger body is never sent.
MAX_IMPORT_BYTES = 4_000_000
MAX_IMPORT_CONTACTS = 40_000
RETRYABLE_STATUSES = {429, 500, 502, 503, 504}

# Calls eo_cc must never make: they delete or overwrite contacts and lists in the
# customer's account. Checked on every request, whatever method built it.
# (methods refused, or None for every method; path pattern)
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
FORBIDDEN_CALLS = [
    (WRITES, re.compile(r"/contacts/[^/]+/?$", re.IGNORECASE)),
    (None, re.compile(r"/activities/(contact_delete|list_delete)/?$", re.IGNORECASE)),
    ({"DELETE"}, re.compile(r"/contact_lists/[^/]+/?$", re.IGNORECASE)),
    # Allowed only for the custom fields eo_cc made itself (Client.own_custom_field_ids).
    ({"DELETE"}, re.compile(r"/contact_custom_fields/(?P<own_field>[^/]+)/?$", re.IGNORECASE)),
]


class CCError(Exception):
    """Any failure talking to Constant Contact; str() is one clean line."""

    def __init__(self, status, error_key, message, retryable=False):
        self.status = status
        self.error_key = error_key
        self.message = " ".join(str(message or "").split())
        self.retryable = retryable
        super().__init__(str(self))

    def __str__(self):
        where = f"HTTP {self.status}" if self.status else "no response"
        key = f" {self.error_key}" if self.error_key else ""
        return f"Constant Contact error ({where}){key}: {self.message}"


class ListNotFound(CCError):
    """The list is not among the connected account's lists (deleted in CC, or never there)."""

    def __init__(self, list_id):
        super().__init__(404, "lists.api.not_found", f"List not found: {list_id}")


class QuotaExceeded(CCError):
    """The API key's daily request quota is used up: stop until 00:00 UTC."""


class GrantRevoked(CCError):
    """The admin's grant is gone (refresh refused, or 401 after a refresh): grant access again."""


def refuse_forbidden(method, url, own_custom_field_ids=()):
    """Raise ValueError for calls that could delete or overwrite CC data.

    A custom field may be deleted only when its id is among own_custom_field_ids: the fields
    eo_cc recorded as made by itself.
    """
    method = method.upper()
    path = unquote(urlsplit(url).path)
    for methods, path_pattern in FORBIDDEN_CALLS:
        found = path_pattern.search(path) if methods is None or method in methods else None
        if found and found.groupdict().get("own_field") not in own_custom_field_ids:
            raise ValueError(f"eo_cc never calls {method} {path}")


def error_from_response(response):
    """Turn a failed CC response (any of its error shapes) into a CCError."""
    status = response.status_code
    error_key, message = _error_details(response)
    message = message or response.reason or "no details given"
    if status == 429:
        if error_key == "quota_exceeded":
            return QuotaExceeded(status, error_key, message, retryable=False)
        return CCError(status, error_key or "throttled", message, retryable=True)
    return CCError(status, error_key, message, retryable=status in RETRYABLE_STATUSES)


def _error_details(response):
    """(error_key, message) from an array, an object, an OAuth error or a non-JSON body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, list):
        errors = [item for item in body if isinstance(item, dict)]
        if errors:
            messages = [str(item.get("error_message") or "") for item in errors]
            return errors[0].get("error_key"), "; ".join(m for m in messages if m)
    if isinstance(body, dict):
        if "error_key" in body or "error_message" in body:
            return body.get("error_key"), body.get("error_message") or ""
        if "error" in body:
            return body.get("error"), body.get("error_description") or ""
    reason = response.reason or "error"
    return None, f"{reason} (unexpected response from Constant Contact)"


class Client:
    """A small Constant Contact v3 API client over a token-adding requests session.

    pacer: anything with wait() (pace.SharedPace); refresh: callable forcing one token
    refresh (after a 401); on_request: called before
    each request is sent (the daily budget); on_grant_revoked: called with the reason when
    a 401 survives the refresh, just before GrantRevoked is raised.
    """

    def __init__(self, session, base_url, *, pacer=None, timeout=(5, 30), on_request=None,
                 refresh=None, on_grant_revoked=None):
        self.session = session
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self.pacer = pacer
        self.timeout = timeout
        self.on_request = on_request
        self.refresh = refresh
        self.on_grant_revoked = on_grant_revoked
        self.requests_made = 0
        self.own_custom_field_ids = set()   # may be deleted: see links.delete_field

    # --- the API ------------------------------------------------------------------

    def account_summary(self):
        """The connected account: encoded_account_id, organization_name, contact_email (account_read)."""
        return self._request("GET", "/account/summary")

    def contact_lists(self):
        """Every contact list in the account, with its active membership count."""
        params = {"limit": MAX_PAGE_SIZE, "include_membership_count": "active"}
        yield from self._paginate("/contact_lists", params, "lists")

    def contacts_by_email(self, email):
        """The contacts (zero or one) with this email address, with their list memberships."""
        params = {"email": email.strip().lower(), "include": "list_memberships"}
        return self._request("GET", "/contacts", params=params).get("contacts", [])

    def contacts_in_list_page(self, list_id, next_url=None, page_size=MAX_PAGE_SIZE):
        """One page of a list's contacts and the next page's URL (None on the last page).

        A caller that retries a failed page on its own resumes from next_url, instead of
        restarting the whole scan and spending the shared budget twice.
        """
        if next_url is not None:
            page = self._request("GET", next_url)
        else:
            if not 1 <= page_size <= MAX_PAGE_SIZE:
                raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
            page = self._request("GET", "/contacts", params={"lists": list_id, "limit": page_size})
        return page.get("contacts", []), self._next_link(page)

    def remove_list_memberships(self, list_id, contact_ids):
        """Start an activity removing these contacts from one list; returns the activity."""
        contact_ids = list(contact_ids)
        if not list_id:
            raise ValueError("a list id is required")
        if not contact_ids:
            raise ValueError("no contact ids to remove")
        if len(contact_ids) > MAX_IDS_PER_ACTIVITY:
            raise ValueError(f"at most {MAX_IDS_PER_ACTIVITY} contact ids per activity")
        body = {"source": {"contact_ids": contact_ids}, "list_ids": [list_id]}
        return self._request("POST", "/activities/remove_list_memberships", json=body,
                             expect=201)

    def activity(self, activity_id):
        """The status of an activity (state, percent_done, activity_errors)."""
        return self._request("GET", f"/activities/{quote(str(activity_id), safe='')}")

    def create_contact_list(self, name, description=""):
        """A new list in the account (a 409 when the name is taken); returns it."""
        return self._request("POST", "/contact_lists", json={
            "name": name, "description": description, "favorite": False}, expect=201)

    def custom_fields(self):
        """Every custom field of the account (CC allows 100)."""
        yield from self._paginate("/contact_custom_fields", {"limit": MAX_FIELDS_PAGE_SIZE},
                                  "custom_fields")

    def create_custom_field(self, label):
        """A new text field (a 409 when its name is taken); returns it with its name and id."""
        return self._request("POST", "/contact_custom_fields", json={"label": label, "type": "string"},
                             expect=201)

    def delete_custom_field(self, custom_field_id):
        """Delete a field eo_cc made, and every contact's value in it."""
        self._request("DELETE", f"/contact_custom_fields/{quote(str(custom_field_id), safe='')}",
                      expect=204)

    def import_contacts(self, import_data, list_ids):
        """Start a JSON import (creates or updates contacts by email, adds them to list_ids).

        Refuses a body CC would cut short (4 MB, 40,000 contacts) instead of sending it.
        """
        body = {"import_data": list(import_data), "list_ids": list(list_ids)}
        if not body["import_data"] or not body["list_ids"]:
            raise ValueError("an import needs contacts and at least one list")
        if len(body["import_data"]) > MAX_IMPORT_CONTACTS or import_size(body) >= MAX_IMPORT_BYTES:
            raise ValueError(f"an import takes at most {MAX_IMPORT_CONTACTS} contacts and less "
                             f"than {MAX_IMPORT_BYTES} bytes")
        return self._request("POST", "/activities/contacts_json_import", json=body, expect=201)

    # --- plumbing -----------------------------------------------------------------

    def _paginate(self, path, params, key):
        """Yield the items under key on every page, following _links.next."""
        url = self._url(path)
        while url:
            page = self._request("GET", url, params=params)
            yield from page.get(key, [])
            # The next link already carries the query (cursor, limit, ...).
            url, params = self._next_link(page), None

    def _next_link(self, page):
        """The absolute URL of the next page, or None on the last page."""
        href = ((page.get("_links") or {}).get("next") or {}).get("href")
        return self._next_url(href) if href else None

    def _url(self, path):
        return path if "://" in path else self.base_url + path

    def _next_url(self, href):
        """A next link, relative to the API host; never one pointing at another host."""
        url = urljoin(self._origin + "/", href)
        if not url.startswith(self._origin + "/"):
            raise CCError(None, "bad_next_link", f"next link leaves the API host: {href}")
        return url

    def _request(self, method, path, *, params=None, json=None, expect=200):
        """Send one call (plus one retry after a 401 and a refresh); return its JSON."""
        url = self._url(path)
        refuse_forbidden(method, url, self.own_custom_field_ids)
        response = self._send(method, url, params, json)
        if response.status_code == 401:
            response = self._retry_after_refresh(response, method, url, params, json)
        if response.status_code != expect:
            if 200 <= response.status_code < 300:
                raise CCError(response.status_code, "unexpected_status",
                              f"expected HTTP {expect} from {method} {urlsplit(url).path}")
            raise error_from_response(response)
        return None if expect == 204 else self._json(response)

    def _retry_after_refresh(self, response, method, url, params, json):
        """Refresh the token once and resend; a second 401 means the grant is gone."""
        if self.refresh is not None:
            self.refresh()
            response = self._send(method, url, params, json)
            if response.status_code != 401:
                return response
        error = error_from_response(response)
        revoked = GrantRevoked(401, error.error_key or "unauthorized",
                               error.message or "access token refused")
        if self.on_grant_revoked is not None:
            self.on_grant_revoked(str(revoked))
        raise revoked

    def _send(self, method, url, params, json):
        """One paced HTTP request; network failures become retryable CCErrors."""
        if self.pacer is not None:
            self.pacer.wait()
        if self.on_request is not None:
            self.on_request()  # may raise to veto the request (e.g. the day's budget is spent)
        self.requests_made += 1
        try:
            return self.session.request(method, url, params=params, json=json,
                                        timeout=self.timeout)
        except requests.Timeout as error:
            raise CCError(None, "timeout", f"no answer in time: {error}", retryable=True) from error
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as error:
            raise CCError(None, "connection_error", f"connection failed: {error}",
                          retryable=True) from error

    @staticmethod
    def _json(response):
        try:
            return response.json()
        except ValueError as error:
            raise CCError(response.status_code, "invalid_response",
                          "the response was not JSON", retryable=True) from error


def activity_error(activity):
    """The first error message of a finished activity, or ""."""
    errors = activity.get("activity_errors") or []
    first = errors[0] if errors else None
    if isinstance(first, dict):
        return first.get("message") or first.get("error_message") or str(first)
    return str(first) if first else ""


def import_size(body):
    """The bytes of a JSON body as requests sends it (json.dumps' default separators)."""
    return len(json.dumps(body).encode())
