"""Placeholder: the Flask side of the Constant Contact sync (Sync now, cc-sync)."""
from flask import Blueprint

bp = Blueprint("sync", __name__)


def init_app(app):
    pass
