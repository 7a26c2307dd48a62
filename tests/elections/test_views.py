from pathlib import Path

import pytest

from eo_cc import clock
from eo_cc.elections.tally import take_snapshot_if_due
from eo_cc.voting import notices

from ..factories import make_admin, make_election, make_voters, organisation_of, put_ballot

NEW_YORK = "America/New_York"


@pytest.fixture(autouse=True)
def quick_password_hashing(monkeypatch):
    """These tests sign in many admins; password strength is tested in test_auth."""
    monkeypatch.setattr("eo_cc.auth.PASSWORD_METHOD", "pbkdf2:sha256:1000")


def set_timezone(db, admin_id, name):
    db["admins"].update(admin_id, {"timezone": name})


def draft(db, admin_id, **columns):
    """An election that has not opened: no voting window yet."""
    return make_election(db, admin_id, state="draft", **{"opens_at": None, "closes_at": None, **columns})


def election_row(db, election_id):
    return db["elections"].get(election_id)


def audit_actions(db, election_id):
    return [r["action"] for r in db.query(
        "SELECT action FROM audit_log WHERE election_id = ? ORDER BY id", [election_id])]


def election_data(**overrides):
    return {"title": "Board election 2030", "description": "Pick the board.",
            "opens_at": "2030-01-15T09:00", "closes_at": "2030-01-16T17:30", **overrides}


# Create and edit

def test_create_converts_the_admins_local_times_to_utc(client, admin, db):
    set_timezone(db, admin, NEW_YORK)
    response = client.post("/elections/new", data=election_data())
    [election] = db["elections"].rows
    assert response.headers["Location"] == f"/elections/{election['id']}"
    assert election["opens_at"] == "2030-01-15T14:00:00+00:00"
    assert election["closes_at"] == "2030-01-16T22:30:00+00:00"
    assert election["organisation_id"] == organisation_of(db, admin) and election["state"] == "draft"
    assert len(election["slug"]) == 10 and election["slug"] == election["slug"].lower()
    assert audit_actions(db, election["id"]) == ["created the election"]


def test_create_form_labels_times_with_the_admins_timezone(client, admin, db):
    set_timezone(db, admin, "Europe/London")
    page = client.get("/elections/new").get_data(as_text=True)
    assert "Voting opens (Europe/London)" in page
    assert 'type="datetime-local"' in page


@pytest.mark.parametrize("overrides, message", [
    ({"closes_at": "2030-01-15T08:00"}, "Voting must close after it opens."),
    ({"closes_at": "2030-01-15T09:00"}, "Voting must close after it opens."),
    ({"opens_at": "2020-01-15T09:00"}, "Choose a time in the future"),
    ({"title": ""}, "This field is required."),
    ({"opens_at": "next tuesday"}, "Not a valid datetime value."),
    ({"closes_at": "9999-12-31T23:59"}, "That date is out of range."),
    # 02:30 on 10 March 2030 is skipped in New York when the clocks go forward.
    ({"opens_at": "2030-03-10T02:30", "closes_at": "2030-03-11T09:00"}, "does not exist in America/New_York"),
])
def test_create_rejects_a_bad_voting_window_with_a_clear_error(client, admin, db, overrides, message):
    set_timezone(db, admin, NEW_YORK)
    response = client.post("/elections/new", data=election_data(**overrides))
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert db["elections"].count == 0


def test_create_without_times_leaves_opening_to_the_admin(client, admin, db):
    client.post("/elections/new", data=election_data(opens_at="", closes_at=""))
    [election] = db["elections"].rows
    assert election["opens_at"] is None and election["closes_at"] is None


def test_edit_shows_and_saves_times_in_the_admins_timezone(client, admin, db):
    set_timezone(db, admin, NEW_YORK)
    election_id = draft(db, admin, opens_at="2030-07-01T13:00:00+00:00", closes_at="2030-07-02T13:00:00+00:00")
    page = client.get(f"/elections/{election_id}/edit").get_data(as_text=True)
    assert 'value="2030-07-01T09:00"' in page  # summer: UTC-4
    client.post(f"/elections/{election_id}/edit", data=election_data(
        title="Renamed", opens_at="2030-07-01T10:00", closes_at="2030-07-02T09:00"))
    election = election_row(db, election_id)
    assert election["title"] == "Renamed"
    assert election["opens_at"] == "2030-07-01T14:00:00+00:00"
    [entry] = db.query("SELECT * FROM audit_log WHERE election_id = ?", [election_id])
    assert entry["action"] == "edited the election" and "Board election → Renamed" in entry["detail"]


def test_edit_keeps_the_opening_time_once_voting_is_open(client, admin, db):
    election_id = make_election(db, admin, state="open")
    before = election_row(db, election_id)
    client.post(f"/elections/{election_id}/edit", data=election_data(
        opens_at="2030-01-01T09:00", closes_at="2030-01-20T09:00"))
    after = election_row(db, election_id)
    assert after["opens_at"] == before["opens_at"]
    assert after["closes_at"] == "2030-01-20T09:00:00+00:00"


# List and dashboard

def test_list_shows_each_election_with_state_window_and_turnout(client, admin, db):
    set_timezone(db, admin, NEW_YORK)
    election_id = make_election(db, admin, title="Spring vote", state="open",
                                closes_at="2030-01-16T22:30:00+00:00")
    voters = make_voters(db, election_id, count=3)
    db["voters"].update(voters[0], {"has_voted": 1, "voted_at": clock.iso()})
    make_election(db, make_admin(db, email="bo@example.org"), title="Someone else's vote")
    page = client.get("/elections/").get_data(as_text=True)
    assert f'href="/elections/{election_id}"' in page and "Spring vote" in page
    assert "1 of 3 voted" in page
    assert "Open</span>" in page
    assert "Wed 16 Jan 2030, 17:30 America/New_York" in page
    assert "Someone else" not in page


def test_list_without_elections_invites_the_first_one(client, admin):
    page = client.get("/elections/").get_data(as_text=True)
    assert "has no elections yet. Choose “New election”" in page
    assert 'href="/elections/new"' in page


def test_dashboard_links_to_every_part_of_the_election(client, admin, db):
    election_id = draft(db, admin)
    page = client.get(f"/elections/{election_id}").get_data(as_text=True)
    for path in ("edit", "questions", "roster", "settings", "results", "audit"):
        assert f'href="/elections/{election_id}/{path}"' in page
    assert f'href="/elections/{election_id}/integration">Integration Settings</a>' in page
    assert f'action="/elections/{election_id}/open"' in page
    slug = election_row(db, election_id)["slug"]
    assert f"http://localhost/vote/{slug}" in page


@pytest.mark.parametrize("path", [
    "new", "{e}", "{e}/edit", "{e}/settings", "{e}/questions", "{e}/questions/new",
    "{e}/questions/{q}/edit", "{e}/results", "{e}/audit",
])
def test_every_post_form_carries_a_csrf_token_and_no_inline_style(app, client, admin, db, path):
    app.config["WTF_CSRF_ENABLED"] = True
    election_id = draft(db, admin, has_live_results=1)
    db["reminders"].insert({"election_id": election_id, "send_at": "2030-01-01T00:00:00+00:00"})
    question_id = next(iter(db["questions"].rows))["id"]
    page = client.get("/elections/" + path.format(e=election_id, q=question_id)).get_data(as_text=True)
    assert page.count('method="post"') == page.count('name="csrf_token"') >= 1
    assert "style=" not in page


def test_login_is_required(client):
    response = client.get("/elections/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


# Questions

def question_data(**overrides):
    return {"prompt": "Who should chair?", "choices": "Alice\n\n  Bob  \nCarol\n", "max_choices": "1",
            **overrides}


def question_rows(db, election_id):
    return [(q["prompt"], q["max_choices"], [(c["label"], c["is_abstain"]) for c in db.query(
        "SELECT * FROM choices WHERE question_id = ? ORDER BY position", [q["id"]])])
            for q in db.query("SELECT * FROM questions WHERE election_id = ? ORDER BY position",
                              [election_id])]


def test_add_question_with_choices_one_per_line_and_abstain_last(client, admin, db):
    election_id = draft(db, admin, questions=[])
    client.post(f"/elections/{election_id}/questions/new",
                data=question_data(max_choices="2", has_abstain="y"))
    assert question_rows(db, election_id) == [("Who should chair?", 2, [
        ("Alice", 0), ("Bob", 0), ("Carol", 0), ("Abstain", 1)])]
    assert audit_actions(db, election_id) == ["added a question"]


def test_add_a_ranked_question_with_seats(client, admin, db):
    election_id = draft(db, admin, questions=[])
    client.post(f"/elections/{election_id}/questions/new",
                data=question_data(kind="ranked", seats="2", max_choices="3"))
    [row] = db.query("SELECT kind, seats, max_choices FROM questions WHERE election_id = ?", [election_id])
    assert row == {"kind": "ranked", "seats": 2, "max_choices": 1}
    page = client.get(f"/elections/{election_id}/questions").get_data(as_text=True)
    assert "STV (Scottish rules) for 2 seats." in page


@pytest.mark.parametrize("overrides, message", [
    ({"max_choices": "4"}, "Voters cannot pick more than the 3 choices offered."),
    ({"max_choices": "0"}, "Number must be between 1 and 100."),
    ({"choices": "Only one"}, "Give at least two choices"),
    ({"choices": "Alice\nalice"}, "listed twice"),
    ({"choices": "Yes\nNo\nAbstain"}, "Tick “Offer an explicit Abstain choice”"),
    ({"prompt": ""}, "This field is required."),
    ({"choices": "\n".join(f"Choice {n}" for n in range(101))}, "at most 100 choices"),
    ({"kind": "ranked", "seats": "3"}, "Elect fewer than the 3 candidates"),
    ({"kind": "ranked", "has_abstain": "y"}, "A ranked question has no Abstain choice"),
    ({"kind": "ranked", "seats": "0"}, "Number must be between 1 and 99."),
    ({"kind": "approval"}, "Not a valid choice."),
])
def test_add_question_rejects_bad_input_with_a_clear_error(client, admin, db, overrides, message):
    election_id = draft(db, admin, questions=[])
    response = client.post(f"/elections/{election_id}/questions/new", data=question_data(**overrides))
    assert message in response.get_data(as_text=True)
    assert db["questions"].count == 0


def test_edit_question_replaces_its_choices(client, admin, db):
    election_id = draft(db, admin, questions=[("Approve?", ["Yes", "No", "Abstain"], 1)])
    [question_id] = [q["id"] for q in db["questions"].rows]
    page = client.get(f"/elections/{election_id}/questions/{question_id}/edit").get_data(as_text=True)
    assert "Yes\nNo</textarea>" in page and 'name="has_abstain" type="checkbox" value="y"' in page
    client.post(f"/elections/{election_id}/questions/{question_id}/edit",
                data=question_data(prompt="Approve the budget?", choices="Yes\nNo\nLater"))
    assert question_rows(db, election_id) == [("Approve the budget?", 1, [
        ("Yes", 0), ("No", 0), ("Later", 0)])]


def test_questions_move_up_and_down_and_delete_renumbers(client, admin, db):
    election_id = draft(db, admin, questions=[(p, ["A", "B"], 1) for p in ("One", "Two", "Three")])
    ids = {q["prompt"]: q["id"] for q in db["questions"].rows}
    client.post(f"/elections/{election_id}/questions/{ids['Three']}/move/up")
    assert [q[0] for q in question_rows(db, election_id)] == ["One", "Three", "Two"]
    client.post(f"/elections/{election_id}/questions/{ids['One']}/move/down")
    assert [q[0] for q in question_rows(db, election_id)] == ["Three", "One", "Two"]
    client.post(f"/elections/{election_id}/questions/{ids['Three']}/delete")
    assert [(q["prompt"], q["position"]) for q in db.query(
        "SELECT * FROM questions ORDER BY position")] == [("One", 0), ("Two", 1)]


@pytest.mark.parametrize("action, path", [
    ("add", "questions/new"), ("edit", "questions/{q}/edit"), ("delete", "questions/{q}/delete"),
    ("move", "questions/{q}/move/down"),
])
def test_ballot_questions_are_locked_once_voting_opens(client, admin, db, action, path):
    election_id = make_election(db, admin, state="open")
    before = question_rows(db, election_id)
    question_id = next(iter(db["questions"].rows))["id"]
    response = client.post(f"/elections/{election_id}/" + path.format(q=question_id),
                           data=question_data(), follow_redirects=True)
    assert "the ballot questions can no longer change" in response.get_data(as_text=True)
    assert question_rows(db, election_id) == before


# Settings

def test_settings_checkboxes_default_on_and_persist_when_unticked(client, admin, db):
    election_id = draft(db, admin)
    page = client.get(f"/elections/{election_id}/settings").get_data(as_text=True)
    assert "Send the announcement email from eo_cc" in page
    assert "Send reminder emails from eo_cc" in page
    assert page.count("checked") == 2
    client.post(f"/elections/{election_id}/settings", data={"has_live_results": "y", "results_step": "10"})
    election = election_row(db, election_id)
    assert (election["has_announcement_email"], election["has_reminder_emails"],
            election["has_live_results"]) == (0, 0, 1)
    [entry] = db.query("SELECT * FROM audit_log WHERE election_id = ?", [election_id])
    assert entry["action"] == "changed settings"
    assert "Send the announcement email from eo_cc: on → off" in entry["detail"]


def test_settings_add_a_reminder_in_the_admins_timezone_and_remove_it(client, admin, db):
    set_timezone(db, admin, NEW_YORK)
    election_id = draft(db, admin, closes_at="2030-02-01T00:00:00+00:00")
    client.post(f"/elections/{election_id}/settings",
                data={"has_announcement_email": "y", "reminder_at": "2030-01-20T08:00",
                      "results_step": "10"})
    [reminder] = db["reminders"].rows
    assert reminder["send_at"] == "2030-01-20T13:00:00+00:00"
    page = client.get(f"/elections/{election_id}/settings").get_data(as_text=True)
    assert "Sun 20 Jan 2030, 08:00 America/New_York" in page
    client.post(f"/elections/{election_id}/reminders/{reminder['id']}/delete")
    assert db["reminders"].count == 0
    assert audit_actions(db, election_id)[-1] == "removed a reminder"


@pytest.mark.parametrize("when, message", [
    ("2020-01-01T08:00", "Choose a time in the future."),
    ("2030-03-01T08:00", "Choose a time before voting closes."),
])
def test_settings_reject_a_reminder_outside_the_voting_window(client, admin, db, when, message):
    election_id = draft(db, admin, closes_at="2030-02-01T00:00:00+00:00")
    response = client.post(f"/elections/{election_id}/settings", data={"reminder_at": when,
                                                                       "results_step": "10"})
    assert message in response.get_data(as_text=True)
    assert db["reminders"].count == 0


@pytest.mark.parametrize("step, message", [
    ("4", "Choose a step of at least 5 ballots."),
    ("9" * 1000, "That number is far too large."),
    ("", "This field is required."),
])
def test_the_live_results_step_is_at_least_five_and_refuses_nonsense_clearly(client, admin, db, step, message):
    election_id = draft(db, admin)
    response = client.post(f"/elections/{election_id}/settings", data={"results_step": step})
    assert response.status_code == 200 and message in response.get_data(as_text=True)
    assert election_row(db, election_id)["results_step"] == 10


def test_the_live_results_step_is_saved_and_audited(client, admin, db):
    election_id = draft(db, admin)
    client.post(f"/elections/{election_id}/settings", data={"results_step": "25"})
    assert election_row(db, election_id)["results_step"] == 25
    assert "Live results move in steps of: 10 → 25" in db["audit_log"].get(1)["detail"]


# Open and close

@pytest.mark.parametrize("questions, voters, message", [
    ([], 3, "Add at least one ballot question"),
    (None, 0, "Upload the voter roster"),
])
def test_open_voting_is_refused_without_questions_or_voters(client, admin, db, questions, voters, message):
    election_id = draft(db, admin, questions=questions)
    make_voters(db, election_id, count=voters)
    response = client.post(f"/elections/{election_id}/open", follow_redirects=True)
    assert message in response.get_data(as_text=True)
    assert election_row(db, election_id)["state"] == "draft"
    assert "opened voting" not in audit_actions(db, election_id)


@pytest.fixture
def sent_announcements(monkeypatch):
    """Record announcements instead of mailing them, so opening can be checked without mail."""
    calls = []
    monkeypatch.setattr(notices, "send_announcement", lambda db, config, election_id, base_url=None:
                        calls.append((election_id, base_url)) or 3)
    return calls


def test_open_voting_opens_now_sends_the_announcement_and_is_audited(client, admin, db, sent_announcements):
    election_id = make_election(db, admin, state="draft", opens_in_hours=24, closes_in_hours=48)
    make_voters(db, election_id)
    before = clock.iso()
    response = client.post(f"/elections/{election_id}/open", follow_redirects=True)
    election = election_row(db, election_id)
    assert election["state"] == "open" and before <= election["opens_at"] <= clock.iso()
    assert sent_announcements == [(election_id, "http://localhost/")]
    assert "Announcement email sent to 3 voters." in response.get_data(as_text=True)
    assert audit_actions(db, election_id) == ["opened voting"]


def test_open_voting_mails_each_voter_the_announcement(app, client, admin, db):
    from eo_cc.mail import outbox_path

    election_id = draft(db, admin)
    make_voters(db, election_id, count=2)
    client.post(f"/elections/{election_id}/open")
    mails = sorted(p.read_text() for p in Path(outbox_path(app.config)).glob("*.eml"))
    assert len(mails) == 2
    assert all(f"http://localhost/vote/{election_row(db, election_id)['slug']}" in m for m in mails)


def test_open_voting_sends_no_announcement_when_cc_sends_it(client, admin, db, sent_announcements):
    election_id = draft(db, admin, has_announcement_email=0)
    make_voters(db, election_id)
    client.post(f"/elections/{election_id}/open")
    assert election_row(db, election_id)["state"] == "open"
    assert sent_announcements == []


def test_close_voting_closes_now_and_is_audited(client, admin, db):
    election_id = make_election(db, admin, state="open", closes_in_hours=48)
    client.post(f"/elections/{election_id}/close")
    election = election_row(db, election_id)
    assert election["state"] == "closed" and election["closes_at"] <= clock.iso()
    assert audit_actions(db, election_id) == ["closed voting"]


def test_closed_voting_cannot_be_opened_again(client, admin, db):
    election_id = make_election(db, admin, state="closed")
    make_voters(db, election_id)
    response = client.post(f"/elections/{election_id}/open", follow_redirects=True)
    assert "cannot be opened again" in response.get_data(as_text=True)
    assert election_row(db, election_id)["state"] == "closed"


# Results

def cast(db, election_id, label):
    choice = next(db.query("SELECT c.id FROM choices c JOIN questions q ON q.id = c.question_id "
                           "WHERE q.election_id = ? AND c.label = ?", [election_id, label]))
    put_ballot(db, election_id, [choice["id"]])


@pytest.mark.parametrize("state, live, visible", [
    ("open", 0, False), ("open", 1, True), ("closed", 0, True),
])
def test_results_show_after_close_or_live_when_chosen(client, admin, db, state, live, visible):
    election_id = make_election(db, admin, state=state, has_live_results=live)
    for _ in range(20):  # live results show the first snapshot (of 10) once 2 x k = 20 are in
        cast(db, election_id, "Alice")
        take_snapshot_if_due(db, election_row(db, election_id))
    page = client.get(f"/elections/{election_id}/results").get_data(as_text=True)
    assert ('<meter min="0" max="100" value="100.0"' in page) is visible
    assert ("results appear here once voting closes" in page) is not visible
    csv_response = client.get(f"/elections/{election_id}/results.csv")
    assert (csv_response.mimetype == "text/csv") is visible


def test_results_csv_lists_question_choice_votes_percent(client, admin, db):
    election_id = make_election(db, admin, state="closed", questions=[("Chair?", ["Alice", "=Bob"], 1)])
    for label in ("Alice", "Alice", "=Bob", "Alice"):
        cast(db, election_id, label)
    response = client.get(f"/elections/{election_id}/results.csv")
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.get_data(as_text=True).splitlines() == [
        "\ufeffquestion,choice,votes,percent", "Chair?,Alice,3,75.0", "Chair?,'=Bob,1,25.0"]


def test_results_chart_turnout_by_hour_in_svg_with_a_table(client, admin, db):
    set_timezone(db, admin, NEW_YORK)
    election_id = make_election(db, admin, state="closed")
    voters = make_voters(db, election_id, count=3)
    for voter_id, when in zip(voters, ["2030-01-15T14:10:00+00:00", "2030-01-15T14:50:00+00:00",
                                       "2030-01-15T16:05:00+00:00"]):
        db["voters"].update(voter_id, {"has_voted": 1, "voted_at": when})
    page = client.get(f"/elections/{election_id}/results").get_data(as_text=True)
    assert page.count("<rect ") == 3
    assert "<td>Tue 15 Jan 2030, 09:00</td><td>2</td>" in page
    assert "<td>Tue 15 Jan 2030, 10:00</td><td>0</td>" in page
    assert "style=" not in page


# Audit log

def test_audit_log_lists_the_elections_entries_newest_first_in_local_time(client, admin, db):
    set_timezone(db, admin, NEW_YORK)
    election_id = draft(db, admin)
    db["audit_log"].insert_all([
        {"election_id": election_id, "admin_id": admin, "action": "created the election",
         "created_at": "2030-01-15T14:00:00+00:00"},
        {"election_id": election_id, "admin_id": admin, "action": "opened voting",
         "created_at": "2030-01-15T15:00:00+00:00"}])
    page = client.get(f"/elections/{election_id}/audit").get_data(as_text=True)
    assert page.index("opened voting") < page.index("created the election")
    assert "Tue 15 Jan 2030, 09:00" in page and "America/New_York" in page


# Other admins

ADMIN_ROUTES = [
    ("get", "{e}"), ("get", "{e}/edit"), ("post", "{e}/edit"), ("post", "{e}/open"),
    ("post", "{e}/close"), ("get", "{e}/settings"), ("post", "{e}/settings"),
    ("post", "{e}/reminders/{r}/delete"), ("get", "{e}/audit"), ("get", "{e}/questions"),
    ("get", "{e}/questions/new"), ("post", "{e}/questions/new"), ("get", "{e}/questions/{q}/edit"),
    ("post", "{e}/questions/{q}/edit"), ("post", "{e}/questions/{q}/delete"),
    ("post", "{e}/questions/{q}/move/up"), ("get", "{e}/results"), ("get", "{e}/results.csv"),
]


@pytest.mark.parametrize("method, path", ADMIN_ROUTES)
def test_another_admins_election_is_not_found(client, auth, db, method, path):
    owner = make_admin(db, email="owner@example.org")
    election_id = make_election(db, owner, state="closed")
    question_id = next(iter(db["questions"].rows))["id"]
    reminder_id = db["reminders"].insert({"election_id": election_id, "send_at": clock.iso()}).last_pk
    auth.create(email="intruder@example.org")
    auth.login(email="intruder@example.org")
    url = "/elections/" + path.format(e=election_id, q=question_id, r=reminder_id)
    response = getattr(client, method)(url, data={"title": "Mine now"})
    assert response.status_code == 404
    assert election_row(db, election_id)["title"] == "Board election"
    assert db["audit_log"].count == 0


@pytest.mark.parametrize("field, value", [
    ("title", "Board\u202e noitcele"), ("title", "Board\x00"), ("description", "See \u2067here\u2069")])
def test_election_text_with_bidi_overrides_or_nul_is_refused_with_a_message(client, admin, db, field, value):
    data = {"title": "Board election", "description": "", field: value}
    page = client.post("/elections/new", data=data).get_data(as_text=True)
    assert "which eo_cc does not accept" in page
    assert db["elections"].count == 0


@pytest.mark.parametrize("field, value", [("prompt", "Chair\u202e?"), ("choices", "Alice\nBob\u2066")])
def test_question_text_with_bidi_overrides_is_refused_with_a_message(client, admin, db, field, value):
    election_id = draft(db, admin, questions=[])
    data = {"prompt": "Chair?", "choices": "Alice\nBob", "max_choices": "1", field: value}
    page = client.post(f"/elections/{election_id}/questions/new", data=data).get_data(as_text=True)
    assert "which eo_cc does not accept" in page
    assert db["questions"].count == 0


def test_a_thousand_digit_pick_up_to_is_a_clear_error_not_a_500(client, admin, db):
    election_id = draft(db, admin, questions=[])
    response = client.post(f"/elections/{election_id}/questions/new",
                           data={"prompt": "Chair?", "choices": "Alice\nBob", "max_choices": "9" * 1000})
    assert response.status_code == 200 and "That number is far too large." in response.get_data(as_text=True)
    assert db["questions"].count == 0
