"""The forms of the Members page, the organisation switcher and the invitation page."""
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, InputRequired, Length

from ..auth import NewAccountForm, strip
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


class InvitationSignupForm(NewAccountForm):
    """Sign-up through an invitation: the email is the invited address, not a field."""
