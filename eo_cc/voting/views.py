"""The voters' side: sign in, cast one ballot, see the receipt, check a receipt.

The voter session (session["voter"] = {"id", "slug"}) is separate from the
admin login and only reaches the ballot of the election it was opened for.
"""
import hmac
import threading
from functools import partial

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import InputRequired, Length

from .. import clock, throttle
from ..crypto import Box, ballot_link_token
from ..db import connect, get_db, one
from ..elections import voting_window
from . import ballot_box, ballots, notices

bp = Blueprint("voting", __name__, url_prefix="/vote")

LOCKED = "Too many failed attempts. Please wait 15 minutes and try again."


class SignInForm(FlaskForm):
    voter_id = StringField("Voter ID", validators=[InputRequired(), Length(max=100)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=200)])


class BallotForm(FlaskForm):
    """Only the CSRF token: the questions differ per election and are read from request.form."""


class ForgotForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Length(max=254)],
                       description="The address the election's announcement was sent to.")


class ReceiptForm(FlaskForm):
    code = StringField("Receipt code", validators=[InputRequired(), Length(max=40)],
                       description="For example ABCD-EFGH-JKLM. Case and dashes do not matter.")


def render_voter(template, **context):
    """Render a voter page: no admin links in the header."""
    return render_template(template, voter_page=True, **context)


def load_public_election(slug):
    election = one(get_db(), "SELECT * FROM elections WHERE slug = ?", [slug])
    if election is None:
        abort(404)
    election["effective_state"] = voting_window.effective_state(election)
    election["opens"] = clock.format_local(election["opens_at"], empty=None)
    election["closes"] = clock.format_local(election["closes_at"], empty=None)
    return election


def signed_in_voter(election):
    """The voter signed in for this election, or None."""
    data = session.get("voter") or {}
    if data.get("slug") != election["slug"]:
        return None
    return one(get_db(), "SELECT * FROM voters WHERE id = ? AND election_id = ?",
               [data.get("id"), election["id"]])


def sign_in(election, voter):
    """Sign this voter in, replacing any earlier voter's session (an admin stays logged in)."""
    session["voter"] = {"id": voter["id"], "slug": election["slug"]}


def check_password(voter, typed):
    stored = Box(current_app.config["SECRET_KEY"], "voter-passwords").open(voter["password_encrypted"])
    return hmac.compare_digest(stored.encode(), typed.encode())


@bp.after_request
def no_store(response):
    # Shared computers: a ballot or receipt must not come back from the browser cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<slug>", methods=["GET", "POST"])
def election_page(slug):
    election = load_public_election(slug)
    form = SignInForm()
    if form.validate_on_submit():
        voter = _authenticate(election, form)
        if voter:
            sign_in(election, voter)
            return redirect(url_for(".ballot", slug=slug))
    return render_voter("voting/election.html", election=election, form=form,
                        signed_in=signed_in_voter(election) is not None)


def _authenticate(election, form):
    """The voter matching the form, or None after flashing why; throttled per voter id and IP."""
    db = get_db()
    code = form.voter_id.data.strip()
    voter_key = f"voter:{election['slug']}:{code.lower()}"
    address_key = f"voter-ip:{election['slug']}:{request.remote_addr}"
    if not throttle.attempt_all(db, [(voter_key, throttle.MAX_FAILURES),
                                     (address_key, throttle.MAX_FAILURES_PER_ADDRESS)]):
        flash(LOCKED, "error")
        return None
    voter = one(db, "SELECT * FROM voters WHERE election_id = ? AND voter_code = ? COLLATE NOCASE",
                [election["id"], code])
    if voter and check_password(voter, form.password.data):
        throttle.clear(db, voter_key)
        throttle.forgive(db, address_key)
        return voter
    flash("That Voter ID and password do not match. Check the announcement email and try again.",
          "error")
    return None


@bp.route("/<slug>/link/<int:voter_id>/<token>")
def ballot_link(slug, voter_id, token):
    election = load_public_election(slug)
    voter = one(get_db(), "SELECT * FROM voters WHERE id = ? AND election_id = ?",
                [voter_id, election["id"]])
    expected = voter and ballot_link_token(current_app.config["SECRET_KEY"], voter_id,
                                           voter["link_version"])
    if not expected or not hmac.compare_digest(expected.encode(), token.encode()):
        flash("This ballot link is not valid any more. Sign in with your Voter ID and password, "
              "or ask for a new link.", "error")
        return redirect(url_for(".election_page", slug=slug))
    sign_in(election, voter)
    return redirect(url_for(".ballot", slug=slug))


@bp.route("/<slug>/ballot", methods=["GET", "POST"])
def ballot(slug):
    election = load_public_election(slug)
    voter = signed_in_voter(election)
    if voter is None:
        flash("Please sign in to vote.", "info")
        return redirect(url_for(".election_page", slug=slug))
    if voter["has_voted"]:
        return _already_voted(election)
    if election["effective_state"] != "open":
        return _not_open(election)
    questions = ballots.load_questions(get_db(), election["id"])
    form, selections, errors = BallotForm(), {}, {}
    if form.validate_on_submit():
        selections = read_selections(questions)
        try:
            receipt_code = ballots.cast_ballot(get_db(), voter["id"], selections)
        except ballots.InvalidBallot as error:
            errors = error.errors
        except ballots.AlreadyVoted:
            return _already_voted(election)
        except ballots.VotingClosed:
            return _not_open(election)
        else:
            return _after_cast(election, voter, receipt_code)
    return render_voter("voting/ballot.html", election=election, voter=voter, form=form,
                        questions=questions, selections=selections, errors=errors)


def read_selections(questions):
    """{question id: [choice ids]} from the posted radios/checkboxes (field name q<id>); for a
    ranked question {choice id: rank} from its rank selects (q<id>-c<choice id>, blank: unranked)."""
    def as_id(value):
        # -1 never matches: "²".isdigit() but is no int, and int() refuses 4,300+ digits
        return int(value) if value.isdecimal() and len(value) <= 18 else -1

    def ranks(question):
        marks = {c["id"]: request.form.get(f"q{question['id']}-c{c['id']}", "").strip()
                 for c in question["choices"]}
        return {cid: as_id(mark) for cid, mark in marks.items() if mark}
    return {q["id"]: ranks(q) if q["kind"] == "ranked" else
            [as_id(v) for v in request.form.getlist(f"q{q['id']}")] for q in questions}


def _after_cast(election, voter, receipt_code):
    """The receipt page, as the answer to the cast itself.

    Shown once and never kept: not in the session cookie (readable by anyone holding it)
    and not behind a URL that could be opened again. Reloading re-sends the cast, which
    answers "You have already voted". A mail problem is queued, never fatal.
    """
    config = current_app.config
    mailed = notices.send_vote_confirmation(get_db(), config, election, voter, receipt_code)
    response = make_response(render_voter("voting/receipt.html", election=election, mailed=mailed,
                                          receipt_code=ballots.format_receipt(receipt_code)))
    if ballot_box.is_due(get_db(), config):
        response.call_on_close(partial(ballot_box.mix_in_own_connection, config["DATABASE"]))
    return response


def _already_voted(election):
    return render_voter("voting/notice.html", election=election, heading="You have already voted",
                        text="Your ballot is in the ballot box. Each voter can cast one ballot, "
                             "so there is nothing more to do. Thank you for voting.")


def _not_open(election):
    if election["effective_state"] == "closed":
        heading, text = "Voting has closed", "This election is closed; no more ballots can be cast."
    else:
        heading = "Voting is not open yet"
        text = (f"Voting opens {election['opens']}." if election["opens"]
                else "The organisers have not opened voting yet.")
    return render_voter("voting/notice.html", election=election, heading=heading, text=text)


@bp.route("/<slug>/sign-out", methods=["POST"])
def sign_out(slug):
    if FlaskForm().validate_on_submit():
        session.pop("voter", None)
        flash("You are signed out.", "info")
    return redirect(url_for(".election_page", slug=slug))


@bp.route("/<slug>/forgot", methods=["GET", "POST"])
def forgot(slug):
    election = load_public_election(slug)
    form = ForgotForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        db = get_db()
        # Every request counts, and none is forgiven: each one sends mail.
        if not throttle.attempt_all(db, [(f"forgot:{slug}:{request.remote_addr}",
                                          throttle.MAX_FAILURES_PER_ADDRESS),
                                         (f"forgot:{slug}:{email}", throttle.MAX_FAILURES)]):
            flash(LOCKED, "error")
        else:
            voter = _reissue_link(election, email)
            # The same answer either way, so the page does not reveal who is on the roster;
            # the mail goes from a thread of its own, so the answer's timing does not tell either.
            _mail_in_background(dict(current_app.config), election, voter)
            flash("If that address is on this election's roster, a new personal ballot link is on "
                  "its way. Earlier links no longer work.", "info")
            return redirect(url_for(".election_page", slug=slug))
    return render_voter("voting/forgot.html", election=election, form=form)


def _reissue_link(election, email):
    """Invalidate the voter's personal ballot link; returns the voter, or None if not on the roster."""
    db = get_db()
    voter = one(db, "SELECT * FROM voters WHERE election_id = ? AND email = ?", [election["id"], email])
    if voter is not None:
        db.execute("UPDATE voters SET link_version = link_version + 1 WHERE id = ?", [voter["id"]])
        voter["link_version"] += 1
    return voter


def _mail_in_background(config, election, voter):
    """Start the new-link mail (nothing to send when voter is None) without waiting for it.

    A thread, not response.call_on_close: a browser that drops the connection as soon as it
    has the redirect would otherwise cancel the mail with the closing of the answer.
    """
    thread = threading.Thread(target=_mail_new_link, args=(config, election, voter),
                              name="new-ballot-link-mail", daemon=True)
    thread.start()
    return thread


def _mail_new_link(config, election, voter):
    if voter is None:
        return
    # BASE_URL, never request.host_url: anyone can ask, and a forged Host would get the link's token.
    db = connect(config["DATABASE"])
    try:
        notices.send_ballot_link(db, config, election, voter)
    finally:
        db.close()


@bp.route("/<slug>/receipt", methods=["GET", "POST"])
def check_receipt(slug):
    election = load_public_election(slug)
    form, found = ReceiptForm(), None
    if form.validate_on_submit():
        found = ballots.receipt_in_ballot_box(get_db(), election["id"], form.code.data)
    return render_voter("voting/check_receipt.html", election=election, form=form, found=found,
                        code=ballots.format_receipt(ballots.normalise_receipt(form.code.data)))

