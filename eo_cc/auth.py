"""Admin accounts: sign up, log in, log out, and `create-admin`."""
import secrets
import sqlite3
from urllib.parse import urlsplit
from zoneinfo import available_timezones

import click
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.cli import with_appcontext
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import Email, EqualTo, InputRequired, Length, Optional

from . import clock, throttle
from .db import connect, get_db, migrate, one
from .organisations import members

bp = Blueprint("auth", __name__, url_prefix="/auth")
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to continue."
login_manager.login_message_category = "info"

# OWASP 2023: PBKDF2-HMAC-SHA256 with 600,000 iterations.
PASSWORD_METHOD = "pbkdf2:sha256:600000"
TIMEZONES = sorted(available_timezones() - {"localtime", "Factory"})


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
    row = one(get_db(), "SELECT * FROM admins WHERE session_token = ?", [session_token])
    return Admin(row) if row else None


def hash_password(password):
    return generate_password_hash(password, method=PASSWORD_METHOD)


def create_admin(db, name, email, password, timezone="UTC", has_organisation=True):
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
                "name": name.strip(), "email": email, "password_hash": hash_password(password),
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


class SignupForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired(), Length(max=200)])
    email = EmailField("Email", validators=[InputRequired(), Email(), Length(max=254)],
                       filters=[strip])
    password = PasswordField("Password", validators=[
        InputRequired(), Length(min=10, max=200, message="Use at least 10 characters.")],
        description="At least 10 characters.")
    confirm = PasswordField("Repeat password",
                            validators=[InputRequired(), EqualTo("password", "The passwords differ.")])
    timezone = SelectField("Your timezone", choices=TIMEZONES, default="UTC",
                           description="Voting times are shown and entered in this timezone.")


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
    form = SignupForm()
    if form.validate_on_submit():
        db = get_db()
        try:
            admin_id = create_admin(db, form.name.data, form.email.data, form.password.data,
                                    form.timezone.data)
        except ValueError as error:
            form.email.errors.append(str(error))
        else:
            login_user(load_admin(one(db, "SELECT session_token FROM admins WHERE id = ?",
                                      [admin_id])["session_token"]))
            flash("Welcome to eo_cc. Create your first election.", "success")
            return redirect(url_for("index"))
    return render_template("auth/signup.html", form=form)


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        db = get_db()
        email = form.email.data.strip().lower()
        key = f"admin:{email}"
        row = one(db, "SELECT * FROM admins WHERE email = ?", [email])
        if throttle.is_locked(db, key):
            flash("Too many failed attempts. Please wait 15 minutes and try again.", "error")
        elif row and check_password_hash(row["password_hash"], form.password.data):
            throttle.clear(db, key)
            login_user(Admin(row))
            target = request.args.get("next")
            return redirect(target if is_safe_next(target) else url_for("index"))
        else:
            throttle.record_failure(db, key)
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
    app.cli.add_command(create_admin_command)
