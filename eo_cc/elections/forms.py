"""The forms of the admin's election pages (one per page)."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from .. import clock
from ..text import no_unsafe_characters

MINUTE_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
ABSTAIN = "Abstain"


def _utc(field, tzname):
    """The field's local time as UTC text, or a ValidationError naming the problem."""
    try:
        return clock.to_utc_iso(field.data, tzname) if field.data else None
    except ValueError as error:
        raise ValidationError(str(error))


def single_line(value):
    """Collapse whitespace, line breaks included: the title goes into mail subjects."""
    return " ".join(value.split()) if isinstance(value, str) else value


class WholeNumberField(IntegerField):
    """An IntegerField that refuses an absurdly long number with a message, not an OverflowError."""

    MAX_DIGITS = 9

    def process_formdata(self, valuelist):
        if valuelist and len(valuelist[0].strip().lstrip("+-")) > self.MAX_DIGITS:
            self.data = None
            raise ValueError("That number is far too large.")
        super().process_formdata(valuelist)


class ElectionForm(FlaskForm):
    # DataRequired, not InputRequired: a title of only spaces is no title.
    title = StringField("Title", validators=[DataRequired(), Length(max=200), no_unsafe_characters],
                        filters=[single_line])
    description = TextAreaField("Description", default="",
                                validators=[Length(max=5000), no_unsafe_characters],
                                description="Shown to voters above the ballot.")
    opens_at = DateTimeLocalField("Voting opens", format=MINUTE_FORMATS, validators=[Optional()],
                                  description="Leave empty to open voting yourself.")
    closes_at = DateTimeLocalField("Voting closes", format=MINUTE_FORMATS, validators=[Optional()],
                                   description="Leave empty to close voting yourself.")

    def __init__(self, tzname, stored=None, fixed=(), **kwargs):
        """stored: the election's current UTC times; fixed: time fields that can no longer change."""
        super().__init__(**kwargs)
        self.tzname, self.stored, self.fixed = tzname, stored or {}, set(fixed)
        self.opens_at.label.text = f"Voting opens ({tzname})"
        self.closes_at.label.text = f"Voting closes ({tzname})"
        for name in self.fixed:
            self[name].render_kw = {"disabled": True}
            self[name].description = "Voting has opened, so this can no longer change."

    def window(self):
        """{'opens_at': UTC text or None, 'closes_at': ...}, keeping fixed fields as stored."""
        return {name: self.stored.get(name) if name in self.fixed else _utc(self[name], self.tzname)
                for name in ("opens_at", "closes_at")}

    def _check_future(self, name):
        value = _utc(self[name], self.tzname)
        if value and value != self.stored.get(name) and value <= clock.iso():
            raise ValidationError("Choose a time in the future (or use Open voting / Close voting).")

    def validate_opens_at(self, field):
        if "opens_at" not in self.fixed:
            self._check_future("opens_at")

    def validate_closes_at(self, field):
        if "closes_at" in self.fixed:
            return
        self._check_future("closes_at")
        window = self.window()
        if window["opens_at"] and window["closes_at"] and window["closes_at"] <= window["opens_at"]:
            raise ValidationError("Voting must close after it opens.")


MAX_CHOICES = 100   # a ballot voters can read on a phone; also bounds a pasted 100 KB list


def parse_choices(text):
    """The non-empty lines of a choices textarea, trimmed."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


QUESTION_KINDS = [SelectChoice("plurality", "Pick one or more"), SelectChoice("ranked", "Ranked")]


class QuestionForm(FlaskForm):
    prompt = TextAreaField("Question", validators=[DataRequired(), Length(max=1000), no_unsafe_characters])
    kind = SelectField("Question type", choices=QUESTION_KINDS, default="plurality",
                       description="Ranked: voters rank the candidates; instant-runoff for one seat, "
                                   "STV (Scottish rules) for several.")
    seats = WholeNumberField("Seats to fill", default=1, validators=[Optional(), NumberRange(min=1, max=99)],
                             description="For a ranked question: how many candidates are elected.")
    choices = TextAreaField("Choices", validators=[InputRequired(), no_unsafe_characters],
                            description="One choice per line, at least two.")
    max_choices = WholeNumberField("Voters may pick up to", default=1,
                               validators=[InputRequired(), NumberRange(min=1, max=100)],
                               description="1 means a single choice.")
    has_abstain = BooleanField("Offer an explicit Abstain choice",
                               description="Adds a last choice, “Abstain”.")

    def validate_choices(self, field):
        labels = parse_choices(field.data)
        if len(labels) < 2:
            raise ValidationError("Give at least two choices, one per line.")
        if len(labels) > MAX_CHOICES:
            raise ValidationError(f"A question may have at most {MAX_CHOICES} choices.")
        seen = set()
        for label in labels:
            if len(label) > 300:
                raise ValidationError(f"“{label[:40]}…” is too long (300 characters at most).")
            if label.casefold() == ABSTAIN.casefold():
                raise ValidationError("Tick “Offer an explicit Abstain choice” instead of typing Abstain.")
            if label.casefold() in seen:
                raise ValidationError(f"“{label}” is listed twice; each choice must be different.")
            seen.add(label.casefold())

    def validate_seats(self, field):
        count = len(parse_choices(self.choices.data))
        if self.kind.data == "ranked" and field.data and count >= 2 and field.data >= count:
            raise ValidationError(f"Elect fewer than the {count} candidates, or there is nothing to count.")

    def validate_has_abstain(self, field):
        if self.kind.data == "ranked" and field.data:
            raise ValidationError("A ranked question has no Abstain choice: voters may leave "
                                  "candidates unranked instead.")

    def validate_max_choices(self, field):
        if self.kind.data == "ranked":
            return
        count = len(parse_choices(self.choices.data))
        if field.data and count >= 2 and field.data > count:
            raise ValidationError(f"Voters cannot pick more than the {count} choices offered.")


class SettingsForm(FlaskForm):
    has_announcement_email = BooleanField("Send the announcement email from eo_cc")
    has_reminder_emails = BooleanField("Send reminder emails from eo_cc")
    has_live_results = BooleanField("Show live results while voting is open")
    results_step = WholeNumberField(
        "Live results move in steps of", default=10,
        validators=[InputRequired(), NumberRange(min=5, max=100_000,
                                                 message="Choose a step of at least 5 ballots.")],
        description="ballots. A new snapshot of the live results comes once this many more ballots "
                    "are in, so no snapshot tells anything about fewer voters than that.")
    reminder_at = DateTimeLocalField("Add a reminder at", format=MINUTE_FORMATS, validators=[Optional()],
                                     description="Voters who have not voted yet get a reminder then.")

    def __init__(self, tzname, closes_at=None, **kwargs):
        super().__init__(**kwargs)
        self.tzname, self.closes_at = tzname, closes_at
        self.reminder_at.label.text = f"Add a reminder at ({tzname})"

    def reminder_utc(self):
        return _utc(self.reminder_at, self.tzname)

    def validate_reminder_at(self, field):
        value = self.reminder_utc()
        if value and value <= clock.iso():
            raise ValidationError("Choose a time in the future.")
        if value and self.closes_at and value >= self.closes_at:
            raise ValidationError("Choose a time before voting closes.")
