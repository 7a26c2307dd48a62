"""Placeholder: filled in by its own change."""


def init_app(app):
    pass
