"""Ballot questions: list, add, edit, delete and reorder, until voting opens."""
from functools import wraps

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import login_required
from flask_wtf import FlaskForm

from ..db import get_db, one, rows
from ..voting.ballots import load_questions
from . import voting_window
from .forms import ABSTAIN, QuestionForm, parse_choices
from .views import load_election, record

bp = Blueprint("questions", __name__, url_prefix="/elections/<int:election_id>/questions")

LOCKED = "Voting has opened, so the ballot questions can no longer change."


def load_question(election_id, question_id):
    question = one(get_db(), "SELECT * FROM questions WHERE id = ? AND election_id = ?",
                   [question_id, election_id])
    if question is None:
        abort(404)
    return question


def to_questions(election_id):
    return redirect(url_for("questions.index", election_id=election_id))


def unlocked_ballot(view):
    """Load the admin's election; refuse with a flash once the ballot is locked."""
    @wraps(view)
    def wrapped(election_id, **kwargs):
        election = load_election(election_id)
        if voting_window.is_ballot_locked(election):
            flash(LOCKED, "error")
            return to_questions(election_id)
        return view(election, **kwargs)
    return wrapped


def save_choices(db, question_id, labels, has_abstain):
    """Replace a question's choices; Abstain, when offered, is always last."""
    db["choices"].delete_where("question_id = ?", [question_id])
    labels = labels + [ABSTAIN] if has_abstain else labels
    db["choices"].insert_all({"question_id": question_id, "position": i, "label": label,
                              "is_abstain": int(has_abstain and i == len(labels) - 1)}
                             for i, label in enumerate(labels))


def save_question(db, election_id, form, question_id=None):
    """Insert or update a question and its choices from a valid QuestionForm; return its id."""
    is_ranked = form.kind.data == "ranked"
    values = {"prompt": form.prompt.data.strip(), "kind": form.kind.data,
              "max_choices": 1 if is_ranked else form.max_choices.data,
              "seats": (form.seats.data or 1) if is_ranked else 1}
    with db.atomic():
        if question_id is None:
            position = one(db, "SELECT COALESCE(MAX(position) + 1, 0) AS p FROM questions "
                               "WHERE election_id = ?", [election_id])["p"]
            question_id = db["questions"].insert(
                {"election_id": election_id, "position": position, **values}).last_pk
        else:
            db["questions"].update(question_id, values)
        save_choices(db, question_id, parse_choices(form.choices.data), form.has_abstain.data)
    return question_id


def renumber(db, election_id, ordered_ids):
    for position, question_id in enumerate(ordered_ids):
        db["questions"].update(question_id, {"position": position})


@bp.route("")
@login_required
def index(election_id):
    election = load_election(election_id)
    return render_template("elections/questions.html", election=election, form=FlaskForm(),
                           questions=load_questions(get_db(), election_id),
                           is_locked=voting_window.is_ballot_locked(election))


@bp.route("/new", methods=["GET", "POST"])
@login_required
@unlocked_ballot
def new(election):
    form = QuestionForm()
    if form.validate_on_submit():
        save_question(get_db(), election["id"], form)
        record(election["id"], "added a question", form.prompt.data.strip())
        flash("Question added.", "success")
        return to_questions(election["id"])
    return render_template("elections/question_form.html", election=election, form=form, question=None)


def _form_data(db, question):
    choices = rows(db, "SELECT * FROM choices WHERE question_id = ? ORDER BY position", [question["id"]])
    return {"prompt": question["prompt"], "max_choices": question["max_choices"],
            "kind": question["kind"], "seats": question["seats"],
            "choices": "\n".join(c["label"] for c in choices if not c["is_abstain"]),
            "has_abstain": any(c["is_abstain"] for c in choices)}


@bp.route("/<int:question_id>/edit", methods=["GET", "POST"])
@login_required
@unlocked_ballot
def edit(election, question_id):
    question = load_question(election["id"], question_id)
    form = QuestionForm(data=_form_data(get_db(), question))
    if form.validate_on_submit():
        save_question(get_db(), election["id"], form, question_id)
        record(election["id"], "edited a question", form.prompt.data.strip())
        flash("Question saved.", "success")
        return to_questions(election["id"])
    return render_template("elections/question_form.html", election=election, form=form,
                           question=question)


@bp.route("/<int:question_id>/delete", methods=["POST"])
@login_required
@unlocked_ballot
def delete(election, question_id):
    question = load_question(election["id"], question_id)
    db = get_db()
    with db.atomic():
        db["questions"].delete(question_id)
        renumber(db, election["id"], [q["id"] for q in load_questions(db, election["id"])])
        record(election["id"], "deleted a question", question["prompt"])
    flash("Question deleted.", "success")
    return to_questions(election["id"])


@bp.route("/<int:question_id>/move/<any(up, down):direction>",
          methods=["POST"])
@login_required
@unlocked_ballot
def move(election, question_id, direction):
    load_question(election["id"], question_id)
    db = get_db()
    ids = [q["id"] for q in load_questions(db, election["id"])]
    here = ids.index(question_id)
    there = here - 1 if direction == "up" else here + 1
    if 0 <= there < len(ids):
        ids[here], ids[there] = ids[there], ids[here]
        with db.atomic():
            renumber(db, election["id"], ids)
            record(election["id"], f"moved a question {direction}", str(question_id))
    return to_questions(election["id"])
