"""Constant Contact: the API client, tokens, the shared pace and budget, the hourly sync, and
Integration Settings. Everything but views.py and commands.py is Flask-free."""
