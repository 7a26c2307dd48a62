"""A local Constant Contact for the demo and end-to-end tests: no CC account, no network.

It serves CC's paths (`/oauth2/default/v1/authorize|token|revoke`, `/v3/account/summary`,
`/v3/contact_lists`, `/v3/contacts`, `/v3/contact_custom_fields`, `/v3/activities/...`) over its own SQLite
file, with CC's limits (4 requests/s and a daily quota per client_id, about one token-endpoint request a
second), seeded fault injection and `/_sandbox/` pages and controls. Any other `/v3` call is refused
with 405 and recorded, so tests can show eo_cc never deletes or overwrites anything.

Modules: `schema` (migrations "cc_sandbox"), `ids` (public ids and timestamps), `store` (accounts, lists,
contacts, seeding), `custom_fields` (definitions and values), `tokens` (codes, rotating refresh tokens),
`activities` (the asynchronous queue) and `imports` (what a JSON import checks and does), `limits`
(rate limits, quota, faults, stats), `oauth` / `api` (a package, one blueprint per kind of resource) /
`control` (blueprints), `app` (the Flask app), `server` (`start()` in a thread), `cli`
(`flask --app eo_cc cc-sandbox`, a `flask.commands` entry point), `demo` (the eo_cc side of `make demo`:
an organisation with an owner and an observer, and an election matching the demo list).

eo_cc never imports this package; the sandbox imports eo_cc's database helper and clock.
"""
