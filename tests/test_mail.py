import email
import os
from datetime import timedelta
from pathlib import Path

import pytest

from eo_cc import clock, mail
from eo_cc.db import one, rows

from .factories import SECRET_KEY


def outbox_files(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


@pytest.fixture
def config(app):
    return app.config


@pytest.fixture
def broken_smtp(config):
    """An SMTP server that refuses connections (nothing listens on port 1)."""
    config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=1)
    return config


class FakeSMTP:
    sent, calls = [], []

    def __init__(self, host, port, timeout):
        FakeSMTP.calls.append(("connect", host, port, timeout))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def starttls(self):
        FakeSMTP.calls.append(("starttls",))

    def login(self, user, password):
        FakeSMTP.calls.append(("login", user, password))

    def send_message(self, message):
        FakeSMTP.sent.append(message)


def test_file_backend_writes_eml_into_outbox_beside_database(app, config):
    mail.send_mail(config, "ada@example.org", "Hello", "A long link " + "x" * 120)
    folder = os.path.join(os.path.dirname(config["DATABASE"]), "outbox")
    [name] = outbox_files(folder)
    assert name.endswith(".eml")
    message = email.message_from_bytes(Path(folder, name).read_bytes())
    assert message["To"] == "ada@example.org" and message["Subject"] == "Hello"
    assert message["From"] == config["MAIL_FROM"]
    assert "x" * 120 in message.get_payload()  # long lines stay whole


def test_outbox_setting_moves_the_folder(config, tmp_path):
    config["OUTBOX"] = str(tmp_path / "elsewhere")
    mail.send_mail(config, "ada@example.org", "Hi", "Body")
    assert len(outbox_files(tmp_path / "elsewhere")) == 1


def test_smtp_backend_uses_starttls_login_and_timeout(config, monkeypatch):
    FakeSMTP.sent, FakeSMTP.calls = [], []
    monkeypatch.setattr(mail.smtplib, "SMTP", FakeSMTP)
    config.update(MAIL_BACKEND="smtp", MAIL_SERVER="smtp.example.org", MAIL_PORT=587,
                  MAIL_USE_TLS=True, MAIL_USERNAME="user", MAIL_PASSWORD="secret")
    mail.send_mail(config, "ada@example.org", "Hi", "Body")
    assert FakeSMTP.calls == [("connect", "smtp.example.org", 587, mail.SMTP_TIMEOUT),
                              ("starttls",), ("login", "user", "secret")]
    assert FakeSMTP.sent[0]["To"] == "ada@example.org"


def test_send_mail_raises_one_clean_error_when_server_is_down(broken_smtp):
    with pytest.raises(mail.MailError):
        mail.send_mail(broken_smtp, "ada@example.org", "Hi", "Body")


def test_deliver_sends_now_when_it_can(app, config, db):
    assert mail.deliver(db, config, "ada@example.org", "Hi", "Body") is True
    assert rows(db, "SELECT * FROM mail_queue") == []


@pytest.mark.parametrize("fallback, stored", [(None, "Secret body"), ("Safe body", "Safe body")])
def test_deliver_queues_on_failure_and_never_raises(broken_smtp, db, fallback, stored):
    assert mail.deliver(db, broken_smtp, "ada@example.org", "Hi", "Secret body", fallback) is False
    [queued] = rows(db, "SELECT * FROM mail_queue")
    assert mail.open_body(broken_smtp, queued["body"]) == stored and queued["attempts"] == 1
    assert "Secret body" not in queued["body"]  # waits encrypted
    assert queued["last_error"] and clock.parse(queued["next_attempt_at"]) > clock.now()


def test_deliver_with_unknown_backend_queues_instead_of_failing(config, db):
    config["MAIL_BACKEND"] = "pigeon"
    assert mail.deliver(db, config, "ada@example.org", "Hi", "Body") is False
    assert "pigeon" in one(db, "SELECT last_error FROM mail_queue")["last_error"]


def queue(db, due_in=timedelta(minutes=-1), attempts=1):
    body = mail.seal_body({"SECRET_KEY": SECRET_KEY}, "Body")
    db["mail_queue"].insert({"to_address": "ada@example.org", "subject": "Hi", "body": body,
                             "attempts": attempts, "next_attempt_at": clock.iso(clock.now() + due_in),
                             "created_at": clock.iso()})


def test_retry_sends_due_mail_and_removes_it(app, config, db):
    queue(db)
    queue(db, due_in=timedelta(hours=1))
    assert mail.retry_queued(db, config) == 1
    assert len(rows(db, "SELECT * FROM mail_queue")) == 1
    assert len(outbox_files(mail.outbox_path(config))) == 1


def test_failed_retry_backs_off(broken_smtp, db):
    queue(db, attempts=2)
    assert mail.retry_queued(db, broken_smtp) == 0
    row = one(db, "SELECT * FROM mail_queue")
    assert row["attempts"] == 3
    assert clock.parse(row["next_attempt_at"]) > clock.now() + timedelta(minutes=19)


def test_retry_gives_up_after_max_attempts(app, config, db):
    queue(db, attempts=mail.MAX_ATTEMPTS)
    assert mail.retry_queued(db, config) == 0
    assert one(db, "SELECT attempts FROM mail_queue")["attempts"] == mail.MAX_ATTEMPTS


@pytest.mark.parametrize("attempts, minutes", [(1, 5), (2, 10), (3, 20), (20, 360)])
def test_backoff_doubles_up_to_six_hours(attempts, minutes):
    assert mail.backoff(attempts) == timedelta(minutes=minutes)


def test_send_mail_command_runs_and_has_help(runner, db):
    queue(db)
    result = runner.invoke(args=["send-mail"])
    assert result.exit_code == 0, result.output
    assert "retried: 1" in result.output
    assert "cron" in runner.invoke(args=["send-mail", "--help"]).output
