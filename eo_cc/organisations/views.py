"""The Members page, invitations and the organisation switcher.

Who may use each route is in access.ROLES; these views only act within the organisation
in the URL (or the admin's own memberships), so ids from another organisation are 404s.
"""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required, login_user
from flask_wtf import FlaskForm

from .. import clock
from ..auth import Admin, create_admin
from ..db import get_db, one
from ..elections import audit
from ..mail import deliver
from . import access, invitations, members
from .forms import InvitationSignupForm, InviteForm, OrganisationForm, RoleForm, SwitchForm
from .members import OWNER, ROLE_NAMES

bp = Blueprint("organisations", __name__)
ORGANISATION = "/organisations/<int:organisation_id>"


def record(organisation_id, action, detail="", admin_id=None):
    audit.record(get_db(), None, admin_id or current_user.id, action, detail,
                 organisation_id=organisation_id)


def who(person):
    return f"{person['name']} ({person['email']})"


def to_members(organisation_id):
    return redirect(url_for("organisations.members", organisation_id=organisation_id))


def to_elections():
    return redirect(url_for("elections.list_elections"))


def load_member(organisation_id, admin_id):
    """A member of this organisation with their name and email, or 404."""
    found = one(get_db(), """SELECT a.id AS admin_id, a.name, a.email, m.role
                             FROM memberships m JOIN admins a ON a.id = m.admin_id
                             WHERE m.organisation_id = ? AND m.admin_id = ?""",
                [organisation_id, admin_id])
    if found is None:
        abort(404)
    return found


# --- the Members page ----------------------------------------------------------------------

def render_members(organisation_id, invite_form=None, rename_form=None):
    db = get_db()
    organisation = members.get_organisation(db, organisation_id)
    people = members.members_of(db, organisation_id)
    role_forms = {person["admin_id"]: RoleForm(prefix=f"member-{person['admin_id']}",
                                               data={"role": person["role"]}) for person in people}
    return render_template(
        "organisations/members.html", organisation=organisation, members=people,
        role_forms=role_forms, owner_count=sum(p["role"] == OWNER for p in people),
        invitations=invitations.pending_invitations(db, organisation_id),
        entries=audit.organisation_entries(db, organisation_id), form=FlaskForm(),
        invite_form=invite_form or InviteForm(),
        rename_form=rename_form or OrganisationForm(data={"name": organisation["name"]}))


@bp.route(f"{ORGANISATION}/members", endpoint="members")
@login_required
def members_page(organisation_id):
    return render_members(organisation_id)


@bp.route(f"{ORGANISATION}/name", methods=["POST"])
@login_required
def rename(organisation_id):
    form = OrganisationForm()
    if not form.validate_on_submit():
        return render_members(organisation_id, rename_form=form)
    old = members.get_organisation(get_db(), organisation_id)["name"]
    if form.name.data != old:
        members.rename(get_db(), organisation_id, form.name.data)
        record(organisation_id, "renamed the organisation", f"{old} → {form.name.data}")
    flash("The organisation's name is saved.", "success")
    return to_members(organisation_id)


@bp.route(f"{ORGANISATION}/invitations", methods=["POST"])
@login_required
def invite(organisation_id):
    form = InviteForm()
    if not form.validate_on_submit():
        return render_members(organisation_id, invite_form=form)
    db = get_db()
    email, role = form.email.data.lower(), form.role.data
    try:
        _, token = invitations.invite(db, organisation_id, email, role, current_user.id)
    except invitations.InvitationError as error:
        form.email.errors = [*form.email.errors, str(error)]
        return render_members(organisation_id, invite_form=form)
    record(organisation_id, "invited a member", f"{email} as {ROLE_NAMES[role]}")
    sent = send_invitation(db, organisation_id, email, role, token)
    flash(f"Invitation sent to {email}." if sent else
          f"The invitation to {email} could not be mailed just now; eo_cc will keep trying.",
          "success" if sent else "warning")
    return to_members(organisation_id)


def send_invitation(db, organisation_id, email, role, token):
    """Mail the invitation link; True when it went out now (else it is queued and retried)."""
    organisation = members.get_organisation(db, organisation_id)
    body = render_template(
        "mail/invitation.txt", organisation=organisation, role=ROLE_NAMES[role], inviter=current_user,
        link=url_for("organisations.invitation", invitation_token=token, _external=True),
        expires=clock.format_local(clock.now() + invitations.VALID_FOR, current_user.timezone))
    return deliver(db, current_app.config, email,
                   f"Join {organisation['name']} on eo_cc", body)


@bp.route(f"{ORGANISATION}/invitations/<int:invitation_id>/revoke", methods=["POST"])
@login_required
def revoke_invitation(organisation_id, invitation_id):
    revoked = invitations.revoke(get_db(), organisation_id, invitation_id)
    if revoked is None:
        abort(404)
    record(organisation_id, "revoked an invitation",
           f"{revoked['email']} as {ROLE_NAMES[revoked['role']]}")
    flash(f"The invitation to {revoked['email']} is revoked; its link no longer works.", "success")
    return to_members(organisation_id)


@bp.route(f"{ORGANISATION}/members/<int:member_id>/role", methods=["POST"])
@login_required
def change_role(organisation_id, member_id):
    member = load_member(organisation_id, member_id)
    form = RoleForm(prefix=f"member-{member_id}")
    if not form.validate_on_submit():
        flash("Choose one of the roles: Owner, Admin or Observer.", "error")
        return to_members(organisation_id)
    try:
        old = members.change_role(get_db(), organisation_id, member_id, form.role.data)
    except members.MembershipError as error:
        flash(str(error), "error")
        return to_members(organisation_id)
    if old != form.role.data:
        record(organisation_id, "changed a member's role",
               f"{who(member)}: {ROLE_NAMES[old]} → {ROLE_NAMES[form.role.data]}")
        if member_id == current_user.id:  # one's own change does not end one's own session
            access.remember(members.membership(get_db(), organisation_id, member_id))
    flash(f"{member['name']} is now {ROLE_NAMES[form.role.data]}.", "success")
    if member_id == current_user.id and form.role.data != OWNER:
        return to_elections()
    return to_members(organisation_id)


@bp.route(f"{ORGANISATION}/members/<int:member_id>/remove", methods=["POST"])
@login_required
def remove_member(organisation_id, member_id):
    member = load_member(organisation_id, member_id)
    is_leaving = member_id == current_user.id
    try:
        members.remove_member(get_db(), organisation_id, member_id, is_leaving=is_leaving)
    except members.MembershipError as error:
        flash(str(error), "error")
        return to_members(organisation_id)
    if is_leaving:
        return left(organisation_id)
    record(organisation_id, "removed a member", f"{who(member)}, {ROLE_NAMES[member['role']]}")
    flash(f"{member['name']} is no longer a member. Their next page load logs them out.", "success")
    return to_members(organisation_id)


@bp.route(f"{ORGANISATION}/leave", methods=["POST"])
@login_required
def leave(organisation_id):
    try:
        members.remove_member(get_db(), organisation_id, current_user.id, is_leaving=True)
    except members.MembershipError as error:
        flash(str(error), "error")
        return to_elections()
    return left(organisation_id)


def left(organisation_id):
    """After leaving: record it, and let the session move on to another organisation."""
    record(organisation_id, "left the organisation")
    session.pop(access.SESSION_KEY, None)
    name = members.get_organisation(get_db(), organisation_id)["name"]
    flash(f"You have left {name}.", "success")
    return to_elections()


# --- the admin's organisations ---------------------------------------------------------------

@bp.route("/organisations/switch", methods=["POST"])
@login_required
def switch():
    form = SwitchForm(members.memberships_of(get_db(), current_user.id))
    if form.validate_on_submit():
        access.remember(members.membership(get_db(), form.organisation_id.data, current_user.id))
    else:
        flash("Choose one of your organisations.", "error")
    return to_elections()


@bp.route("/organisations/new", methods=["POST"])
@login_required
def create():
    form = OrganisationForm()
    if not form.validate_on_submit():
        flash("Give the new organisation a name (at most 200 characters).", "error")
        return to_elections()
    organisation_id = members.create_organisation(get_db(), form.name.data, current_user.id)
    record(organisation_id, "created the organisation", form.name.data)
    access.remember(members.membership(get_db(), organisation_id, current_user.id))
    flash(f"{form.name.data} is created, with you as its owner.", "success")
    return to_elections()


# --- following an invitation link ------------------------------------------------------------

@bp.route("/invitations/<invitation_token>", methods=["GET", "POST"])
def invitation(invitation_token):
    """Sign up with the invited address, or (signed in as it) join; see accept()."""
    db = get_db()
    found = invitations.find_pending(db, invitation_token)
    if found is None:
        return render_template("organisations/invitation_gone.html"), 404
    has_account = bool(one(db, "SELECT 1 AS x FROM admins WHERE email = ?", [found["email"]]))
    form = InvitationSignupForm()
    if not current_user.is_authenticated and not has_account and form.validate_on_submit():
        try:
            with db.atomic():
                admin_id = create_admin(db, form.name.data, found["email"], form.password.data,
                                        form.timezone.data, has_organisation=False)
                joined = invitations.accept(db, found, admin_id)
        except ValueError as error:  # taken meanwhile, or the invitation was used meanwhile
            flash(str(error), "error")
        else:
            login_user(Admin(db["admins"].get(admin_id)))
            return welcome(joined)
    return render_template("organisations/invitation.html", invitation=found, form=form,
                           token=invitation_token, join_form=FlaskForm(), has_account=has_account,
                           role=ROLE_NAMES[found["role"]])


@bp.route("/invitations/<invitation_token>/accept", methods=["POST"])
@login_required
def accept(invitation_token):
    """Join with the signed-in account, if it is the invited address."""
    db = get_db()
    found = invitations.find_pending(db, invitation_token)
    if found is None:
        flash("This invitation has already been used, was revoked or has expired.", "error")
        return to_elections()
    if found["email"].lower() != current_user.email.lower():
        abort(403)
    if members.membership(db, found["organisation_id"], current_user.id):
        flash(f"You are already a member of {found['organisation_name']}.", "info")
        return to_elections()
    try:
        joined = invitations.accept(db, found, current_user.id)
    except invitations.InvitationError as error:
        flash(str(error), "error")
        return to_elections()
    return welcome(joined)


def welcome(joined):
    record(joined["organisation_id"], "joined the organisation", ROLE_NAMES[joined["role"]],
           admin_id=joined["admin_id"])
    access.remember(joined)
    flash(f"Welcome to {joined['organisation_name']}: you are a member as "
          f"{ROLE_NAMES[joined['role']]}.", "success")
    return to_elections()
