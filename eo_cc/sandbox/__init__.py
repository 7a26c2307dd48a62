"""A local Constant Contact: CC's OAuth2 and /v3 paths over its own SQLite file, for the demo and tests.

`server.start(db_path)` runs it in a thread; `flask --app eo_cc cc-sandbox` runs it in the foreground.
"""
