"""Placeholder: filled in by its own change."""
from flask import Blueprint

bp = Blueprint("integration", __name__)


def init_app(app):
    pass
