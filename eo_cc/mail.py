"""The one mail function: write .eml files to the outbox, or send by SMTP; and the mail texts.

`deliver` never raises: mail that cannot be sent now is queued in `mail_queue`
and retried with backoff by `flask --app eo_cc send-mail` (cron, every 5 minutes).
`render` fills a plain-text template from templates/mail/.
"""
import logging
import os
import secrets
import smtplib
from datetime import timedelta
from email.charset import QP, Charset
from email.header import Header
from email.message import EmailMessage
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from . import clock
from .crypto import Box
from .db import instance_file, rows
from .resources import TEMPLATE_FOLDER

log = logging.getLogger(__name__)

SMTP_TIMEOUT = 10
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=5)
LONGEST_RETRY = timedelta(hours=6)


_templates = Environment(loader=FileSystemLoader(str(TEMPLATE_FOLDER / "mail")),
                         autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True,
                         trim_blocks=True, lstrip_blocks=True)


def render(template, **context):
    """Render one plain-text mail template."""
    return _templates.get_template(template).render(**context)


class MailError(Exception):
    """Mail could not be handed over; str() is one clean line."""


def outbox_path(config):
    """OUTBOX if configured, else outbox/ in the instance folder."""
    return config["OUTBOX"] or instance_file(config, "outbox")


def _charset(body_encoding):
    charset = Charset("utf-8")
    charset.body_encoding = body_encoding
    return charset


# 8bit keeps long links on one line in the .eml (readable, and clickable in any client);
# a line too long for SMTP (990) needs quoted-printable.
UTF8_8BIT, UTF8_QP = _charset(None), _charset(QP)


def build_message(config, to, subject, body):
    sender = config["MAIL_FROM"]
    # One line: a line break (e.g. from an election title) would make the header unsendable.
    subject = " ".join(subject.split())
    if not (sender.isascii() and to.isascii()):
        return _build_with_header_registry(sender, to, subject, body)
    # email's compat32 classes: a quarter of the CPU of EmailMessage's header registry, which
    # parsed and refolded every header and cost a millisecond on every ballot's confirmation.
    fits = all(len(line) < 990 for line in body.splitlines())
    message = MIMEText(body, "plain", UTF8_8BIT if fits else UTF8_QP)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject if subject.isascii() else Header(subject, "utf-8")
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="eo-cc.local")
    return message


def _build_with_header_registry(sender, to, subject, body):
    """Non-ASCII addresses: EmailMessage encodes display names and addresses for us."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="eo-cc.local")
    fits = all(len(line) < 990 for line in body.splitlines())
    message.set_content(body, cte="8bit" if fits else "quoted-printable")
    return message


def send_mail(config, to, subject, body):
    """Send one plain-text message now with MAIL_BACKEND; raises MailError on failure."""
    message = build_message(config, to, subject, body)
    backend = config["MAIL_BACKEND"]
    try:
        if backend == "file":
            _write_eml(outbox_path(config), message)
        elif backend == "smtp":
            _send_smtp(config, message)
        else:
            raise MailError(f"Unknown MAIL_BACKEND {backend!r}: use 'file' or 'smtp'.")
    except (OSError, smtplib.SMTPException) as error:
        raise MailError(f"{type(error).__name__}: {error}") from error


def _write_eml(folder, message):
    os.makedirs(folder, mode=0o700, exist_ok=True)
    name = f"{clock.now():%Y%m%dT%H%M%S}-{secrets.token_hex(4)}.eml"
    # Private: a mail can hold a personal ballot link or a voter's password.
    fd = os.open(os.path.join(folder, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(message.as_bytes())


LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def warn_about_a_demo_outbox(app):
    """The file outbox is for the demo and tests: say so when the site looks public."""
    host = urlsplit(app.config["BASE_URL"]).hostname or ""
    if app.config["MAIL_BACKEND"] == "file" and host not in LOCAL_HOSTS:
        app.logger.warning(
            "MAIL_BACKEND is 'file': mail to voters is written to %s and never sent. The file outbox "
            "is a demo backend; set MAIL_BACKEND = 'smtp' for %s.", outbox_path(app.config), host)


def _send_smtp(config, message):
    with smtplib.SMTP(config["MAIL_SERVER"], int(config["MAIL_PORT"]), timeout=SMTP_TIMEOUT) as smtp:
        if config["MAIL_USE_TLS"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(message)


def deliver(db, config, to, subject, body, fallback_body=None):
    """Send now, or queue for retry (with fallback_body instead of body if given). Never raises.

    Returns True when sent now. Use fallback_body when body holds something
    that must not be stored, such as a receipt code.
    """
    try:
        send_mail(config, to, subject, body)
        return True
    except Exception as error:  # any failure: a mail problem must never break the caller
        log.warning("Mail to %s not sent now, queued: %s", to, error)
        _queue(db, config, to, subject, fallback_body if fallback_body is not None else body,
               str(error))
        return False


def seal_body(config, body):
    """Queued mail waits encrypted: it can hold a personal ballot link or a voter's password."""
    return Box(config["SECRET_KEY"], "mail-queue").seal(body)


def open_body(config, sealed):
    return Box(config["SECRET_KEY"], "mail-queue").open(sealed)


def _queue(db, config, to, subject, body, error):
    now = clock.now()
    try:
        db["mail_queue"].insert({
            "to_address": to, "subject": subject, "body": seal_body(config, body), "attempts": 1,
            "last_error": error[:500], "next_attempt_at": clock.iso(now + FIRST_RETRY),
            "created_at": clock.iso(now)})
    except Exception:  # the caller's work (e.g. a ballot) is already stored; only log
        log.exception("Could not queue mail to %s", to)


def backoff(attempts):
    """Wait before the next try: 5 min, 10, 20, ... at most 6 hours."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


def retry_queued(db, config, now=None):
    """Try queued mail that is due; returns how many were sent. Gives up after MAX_ATTEMPTS."""
    now = now or clock.now()
    sent = 0
    due = rows(db, """SELECT * FROM mail_queue WHERE attempts < ? AND next_attempt_at <= ?
                      ORDER BY id""", [MAX_ATTEMPTS, clock.iso(now)])
    for item in due:
        try:
            send_mail(config, item["to_address"], item["subject"], open_body(config, item["body"]))
        except Exception as error:  # one bad message must not stop the rest
            db["mail_queue"].update(item["id"], {
                "attempts": item["attempts"] + 1, "last_error": str(error)[:500],
                "next_attempt_at": clock.iso(now + backoff(item["attempts"] + 1))})
        else:
            db.execute("DELETE FROM mail_queue WHERE id = ?", [item["id"]])
            sent += 1
    return sent
