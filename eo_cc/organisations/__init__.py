"""Organisations: who runs which elections and shares which Constant Contact connection.

members.py (organisations, members and roles), invitations.py (the emailed links),
access.py (the one table of roles per route, and the check before every request),
views.py (the Members page, invitations, the switcher) and forms.py.
"""
