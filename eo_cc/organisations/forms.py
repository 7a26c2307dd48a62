"""The forms of the Members page, the organisation switcher and the invitation page."""
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, EqualTo, InputRequired, Length

from ..auth import TIMEZONES, strip
from .members import ADMIN, MAX_NAME_LENGTH, ROLE_NAMES

ROLE_CHOICES = [SelectChoice(role, name) for role, name in ROLE_NAMES.items()]


class InviteForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Email(), Length(max=254)],
                       filters=[strip])
    role = SelectField("Role", choices=ROLE_CHOICES, default=ADMIN)


class RoleForm(FlaskForm):
    """One per member row; built with prefix=f"member-{id}" so each select has its own label."""
    role = SelectField("Role", choices=ROLE_CHOICES)


class OrganisationForm(FlaskForm):
    name = StringField("Organisation name", filters=[strip],
                       validators=[InputRequired(), Length(max=MAX_NAME_LENGTH)])


class SwitchForm(FlaskForm):
    organisation_id = SelectField("Organisation", coerce=int)

    def __init__(self, memberships, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.organisation_id.choices = [SelectChoice(m["organisation_id"], m["organisation_name"])
                                        for m in memberships]


class InvitationSignupForm(FlaskForm):
    """Sign-up through an invitation: the email is the invited address, not a field."""
    name = StringField("Name", validators=[InputRequired(), Length(max=200)])
    password = PasswordField("Password", validators=[
        InputRequired(), Length(min=10, max=200, message="Use at least 10 characters.")],
        description="At least 10 characters.")
    confirm = PasswordField("Repeat password",
                            validators=[InputRequired(), EqualTo("password", "The passwords differ.")])
    timezone = SelectField("Your timezone", choices=TIMEZONES, default="UTC",
                           description="Voting times are shown and entered in this timezone.")
