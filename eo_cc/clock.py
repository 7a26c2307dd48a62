"""Time in one place: UTC, ISO-8601 text in the database."""
from datetime import datetime, timezone


def now():
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def iso(moment=None):
    """A UTC moment as the ISO-8601 text we store (seconds precision)."""
    moment = moment or now()
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat()


def parse(text):
    """Stored ISO-8601 text back to an aware datetime (None stays None)."""
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
