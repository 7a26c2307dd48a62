"""Admin accounts: sign up (confirmed by mail), log in, log out, sessions that end, `create-admin`.

Nothing here tells whether an email has an account: sign-up answers the same for a new
and a known address (the mail says which), and a login for an unknown address costs the
same password hashing as one for a known address.
"""
import hashlib
import secrets
import sqlite3
from datetime import timedelta
from functools import lru_cache, partial
from urllib.parse import urlsplit
from zoneinfo import available_timezones

import click
from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.cli import with_appcontext
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
    user_logged_in,
)
from flask_wtf import FlaskForm
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import Email, EqualTo, InputRequired, Length, Optional

from . import clock, throttle
from .db import connect, get_db, one
from .mail import deliver, render
from .migrations import migrate
from .organisations import members
from .text import no_unsafe_characters

bp = Blueprint("auth", __name__, url_prefix="/auth")
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to continue."
login_manager.login_message_category = "info"

# OWASP 2023: PBKDF2-HMAC-SHA256 with 600,000 iterations.
PASSWORD_METHOD = "pbkdf2:sha256:600000"
TIMEZONES = sorted(available_timezones() - {"localtime", "Factory"})
IDLE_TIMEOUT = timedelta(hours=12)       # a session unused this long ends
SIGN_IN_LIFETIME = timedelta(days=7)     # and none outlives this, however busy
SIGNUP_LINK_LIFETIME = timedelta(hours=24)
LOCKED = "Too many attempts. Please wait 15 minutes and try again."


class Admin(UserMixin):
    """The logged-in admin; get_id() is a session token, rotated on logout."""

    def __init__(self, row):
        self.row = row
        self.id = row["id"]
        self.name = row["name"]
        self.email = row["email"]
        self.timezone = row["timezone"]

    def get_id(self):
        return self.row["session_token"]


@login_manager.user_loader
def load_admin(session_token):
    """The admin of this session, or None when it has ended (idle too long, or too old)."""
    now = clock.now()
    signed_in, seen = clock.parse(session.get("signed_in_at")), clock.parse(session.get("seen_at"))
    if not signed_in or not seen or now - seen > IDLE_TIMEOUT or now - signed_in > SIGN_IN_LIFETIME:
        if signed_in:
            flash("Your session has ended. Please log in again.", "info")
        session.pop("signed_in_at", None)
        return None
    row = one(get_db(), "SELECT * FROM admins WHERE session_token = ?", [session_token])
    if row and now - seen > timedelta(minutes=1):  # a new cookie a minute at most, not every page
        session["seen_at"] = clock.iso(now)
    return Admin(row) if row else None


def stamp_new_session(sender, **extra):
    """Every login (form, sign-up link, invitation) starts the clocks its session ends by."""
    session["signed_in_at"] = session["seen_at"] = clock.iso()


def hash_password(password):
    return generate_password_hash(password, method=PASSWORD_METHOD)


@lru_cache(maxsize=4)
def _decoy_hash(method):
    return generate_password_hash(secrets.token_urlsafe(16), method=method)


def password_matches(row, password):
    """Check a password against an account row, at the same cost when there is no account."""
    if row is None:
        check_password_hash(_decoy_hash(PASSWORD_METHOD), password)
        return False
    return check_password_hash(row["password_hash"], password)


def create_admin(db, name, email, password=None, timezone="UTC", password_hash=None, has_organisation=True):
    """Create an admin account and return its id. Raises ValueError if the email is taken.

    The admin owns a new organisation of their own, unless has_organisation is False
    (someone who signs up to join an organisation they were invited to).
    """
    email = email.strip().lower()
    taken = ValueError(f"An account for {email} already exists.")
    if one(db, "SELECT id FROM admins WHERE email = ?", [email]):
        raise taken
    try:
        with db.atomic():
            admin_id = db["admins"].insert({
                "name": name.strip(), "email": email,
                "password_hash": password_hash or hash_password(password),
                "session_token": secrets.token_urlsafe(32), "timezone": timezone,
                "created_at": clock.iso(),
            }).last_pk
            if has_organisation:
                members.create_first_organisation(db, admin_id, name.strip() or email)
            return admin_id
    except sqlite3.IntegrityError:  # a parallel sign-up (a double click) took the email just now
        raise taken from None


def rotate_session_token(db, admin_id):
    """Invalidate every session of this admin (logout, password change)."""
    db["admins"].update(admin_id, {"session_token": secrets.token_urlsafe(32)})


def is_safe_next(target):
    """Only follow `next` to a path on this site."""
    if not target:
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//")


def strip(value):
    return value.strip() if isinstance(value, str) else value


class NewAccountForm(FlaskForm):
    """What a new account needs besides its email (sign-up adds the email; an invitation has it)."""
    name = StringField("Name", validators=[InputRequired(), Length(max=200), no_unsafe_characters])
    password = PasswordField("Password", validators=[
        InputRequired(), Length(min=10, max=200, message="Use at least 10 characters.")],
        description="At least 10 characters.")
    confirm = PasswordField("Repeat password",
                            validators=[InputRequired(), EqualTo("password", "The passwords differ.")])
    timezone = SelectField("Your timezone", choices=TIMEZONES, default="UTC",
                           description="Voting times are shown and entered in this timezone.")


class SignupForm(NewAccountForm):
    email = EmailField("Email", validators=[InputRequired(), Email(), Length(max=254)],
                       filters=[strip])


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Length(max=254)], filters=[strip])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=200)])


class AccountForm(FlaskForm):
    timezone = SelectField("Your timezone", choices=TIMEZONES,
                           description="Voting times are shown and entered in this timezone.")
    current_password = PasswordField("Current password", validators=[Optional(), Length(max=200)],
                                     description="Needed only to change your password.")
    new_password = PasswordField("New password", validators=[
        Optional(), Length(min=10, max=200, message="Use at least 10 characters.")])
    confirm = PasswordField("Repeat new password",
                            validators=[EqualTo("new_password", "The passwords differ.")])


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    """Ask for the account; the link that creates it goes by mail (to a known address, a note)."""
    form = SignupForm()
    if form.validate_on_submit():
        db, email = get_db(), form.email.data.strip().lower()
        if not throttle.attempt_all(db, [(f"signup:{request.remote_addr}", throttle.MAX_FAILURES_PER_ADDRESS),
                                         (f"signup:{email}", throttle.MAX_FAILURES)]):
            flash(LOCKED, "error")
            return render_template("auth/signup.html", form=form)
        mail = start_signup(db, form.name.data, email, hash_password(form.password.data), form.timezone.data)
        # Both a new and a known address get one mail of the same kind, so sending it now
        # takes the same time either way.
        mail(current_app.config)
        session["signup_email"] = email
        return redirect(url_for("auth.signup_sent"))
    return render_template("auth/signup.html", form=form)


def start_signup(db, name, email, password_hash, timezone):
    """Keep a sign-up until its link is opened; returns mail(config) that sends the right mail."""
    known = one(db, "SELECT id FROM admins WHERE email = ?", [email]) is not None
    if known:
        return partial(_send_signup_mail, email, "signup_known.txt", {"name": name})
    token, now = secrets.token_urlsafe(32), clock.now()
    db["signups"].insert({"token_hash": _digest(token), "name": name.strip(), "email": email,
                          "password_hash": password_hash, "timezone": timezone,
                          "created_at": clock.iso(now), "expires_at": clock.iso(now + SIGNUP_LINK_LIFETIME)})
    return partial(_send_signup_mail, email, "signup.txt", {"name": name, "token": token})


def _digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


def _send_signup_mail(email, template, context, config):
    """Mail a sign-up link (or, to a known address, a note); deliver queues what cannot go now."""
    deliver(get_db(), config, email, "Your eo_cc account",
            render(template, base_url=config["BASE_URL"].rstrip("/"), email=email, **context))


@bp.route("/signup/sent")
def signup_sent():
    return render_template("auth/signup_sent.html", email=session.get("signup_email"))


@bp.route("/signup/<token>", methods=["GET", "POST"])
def confirm_signup(token):
    """The link from the sign-up mail: a button creates the account (mail scanners only GET)."""
    db = get_db()
    pending = one(db, "SELECT * FROM signups WHERE token_hash = ? AND expires_at > ?",
                  [_digest(token), clock.iso()])
    if pending is None:
        flash("This sign-up link is not valid any more. Please sign up again.", "error")
        return redirect(url_for("auth.signup"))
    form = FlaskForm()
    if not form.validate_on_submit():
        return render_template("auth/signup_confirm.html", form=form, email=pending["email"])
    db.execute("DELETE FROM signups WHERE email = ?", [pending["email"]])
    try:
        admin_id = create_admin(db, pending["name"], pending["email"], timezone=pending["timezone"],
                                password_hash=pending["password_hash"])
    except ValueError:
        flash("An account for this email already exists. Please log in.", "info")
        return redirect(url_for("auth.login"))
    login_user(Admin(db["admins"].get(admin_id)))
    flash("Welcome to eo_cc. Create your first election.", "success")
    return redirect(url_for("index"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        db = get_db()
        email = form.email.data.strip().lower()
        key = f"admin:{email}"
        if not throttle.attempt(db, key):
            flash(LOCKED, "error")
            return render_template("auth/login.html", form=form)
        row = one(db, "SELECT * FROM admins WHERE email = ?", [email])
        if password_matches(row, form.password.data):
            throttle.clear(db, key)
            login_user(Admin(row))
            target = request.args.get("next")
            return redirect(target if is_safe_next(target) else url_for("index"))
        flash("That email and password do not match an account.", "error")
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    rotate_session_token(get_db(), current_user.id)
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    form = AccountForm(timezone=current_user.timezone)
    if form.validate_on_submit():
        db = get_db()
        if form.new_password.data and not check_password_hash(
                current_user.row["password_hash"], form.current_password.data or ""):
            form.current_password.errors.append("That is not your current password.")
        else:
            db["admins"].update(current_user.id, {"timezone": form.timezone.data})
            if form.new_password.data:
                change_password(db, current_user.id, form.new_password.data)
            flash("Your account is saved.", "success")
            return redirect(url_for("auth.account"))
    return render_template("auth/account.html", form=form)


def change_password(db, admin_id, password):
    """Set a new password, end every other session, and keep this one."""
    db["admins"].update(admin_id, {"password_hash": hash_password(password)})
    rotate_session_token(db, admin_id)
    login_user(Admin(db["admins"].get(admin_id)))


@click.command("create-admin")
@with_appcontext
@click.argument("email")
@click.option("--name", default="", help="The admin's name (defaults to the email).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The password (asked for when left out).")
@click.option("--timezone", default="UTC", help="IANA timezone, e.g. Europe/London.")
def create_admin_command(email, name, password, timezone):
    """Create an admin account from the shell."""
    if len(password) < 10:
        raise click.ClickException("The password must be at least 10 characters.")
    db = connect(current_app.config["DATABASE"])
    migrate(db)
    try:
        create_admin(db, name or email, email, password, timezone)
    except ValueError as error:
        raise click.ClickException(str(error))
    click.echo(f"Admin {email.strip().lower()} created.")


def init_app(app):
    login_manager.init_app(app)
    user_logged_in.connect(stamp_new_session, app)
    app.cli.add_command(create_admin_command)
