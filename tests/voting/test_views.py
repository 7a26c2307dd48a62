import os
import re
import threading
from pathlib import Path

import pytest

from eo_cc import throttle
from eo_cc.crypto import ballot_link_token
from eo_cc.db import one, rows
from eo_cc.voting import ballots, notices

from ..factories import SECRET_KEY, make_admin, make_election, make_voters, wait_for_background_mail

QUESTIONS = [
    ("Who should chair the board?", ["Alice", "Bob", "Abstain"], 1),
    ("Which projects should we fund?", ["Library", "Garden", "Choir"], 2),
]


@pytest.fixture
def election(db):
    election_id = make_election(db, make_admin(db), questions=QUESTIONS)
    make_voters(db, election_id, count=3)
    return one(db, "SELECT * FROM elections WHERE id = ?", [election_id])


def url(election, page=""):
    return f"/vote/{election['slug']}{page}"


def sign_in(client, election, voter_id="V0001", password="pw-1"):
    return client.post(url(election), data={"voter_id": voter_id, "password": password})


def choices(db, election):
    """{label: (question field name, choice id)}."""
    return {c["label"]: (f"q{q['id']}", str(c["id"]))
            for q in ballots.load_questions(db, election["id"]) for c in q["choices"]}


def ballot_form(db, election, *labels):
    form = {}
    for label in labels:
        name, value = choices(db, election)[label]
        form.setdefault(name, []).append(value)
    return form


def cast(client, db, election, *labels):
    return client.post(url(election, "/ballot"), data=ballot_form(db, election, *labels))


def outbox(app):
    """The text of every .eml the file mail backend wrote, oldest first."""
    folder = os.path.join(app.instance_path, "outbox")
    return [Path(folder, f).read_text() for f in sorted(os.listdir(folder))] \
        if os.path.isdir(folder) else []


def test_election_page_shows_window_and_sign_in_form(client, election):
    page = client.get(url(election)).get_data(as_text=True)
    assert election["title"] in page and "Choose our next board." in page
    assert "UTC" in page
    for words in ('<label for="voter_id">Voter ID</label>', '<label for="password">Password</label>',
                  "Sign in to vote", "Forgot your voting credentials?", "Check a receipt code"):
        assert words in page
    assert "Log in" not in page  # voter pages hide the admin links


def test_unknown_election_is_404(client):
    assert client.get("/vote/nosuchslug").status_code == 404


def test_sign_in_leads_to_ballot_with_fieldset_per_question(client, election):
    response = sign_in(client, election, voter_id=" v0001 ")
    assert response.headers["Location"].endswith(url(election, "/ballot"))
    page = client.get(url(election, "/ballot")).get_data(as_text=True)
    assert page.count("<fieldset") == 2
    assert "<legend>Who should chair the board?</legend>" in page
    assert page.count('type="radio"') == 3 and page.count('type="checkbox"') == 3
    assert "Pick up to 2." in page and "Cast ballot" in page


def test_election_page_offers_the_ballot_to_a_signed_in_voter(client, election):
    assert "Go to your ballot" not in client.get(url(election)).get_data(as_text=True)
    sign_in(client, election)
    assert "Go to your ballot" in client.get(url(election)).get_data(as_text=True)


def test_wrong_password_is_refused(client, election):
    page = sign_in(client, election, password="wrong").get_data(as_text=True)
    assert "do not match" in page
    assert client.get(url(election, "/ballot")).headers["Location"].endswith(url(election))


def test_repeated_failures_lock_the_voter_id(client, db, election):
    for _ in range(throttle.MAX_FAILURES):
        sign_in(client, election, password="wrong")
    page = sign_in(client, election).get_data(as_text=True)  # right password, but locked
    assert "Too many failed attempts" in page
    assert client.get(url(election, "/ballot")).status_code == 302


@pytest.mark.parametrize("earlier_failures", [0, throttle.MAX_FAILURES - 1])
def test_signing_in_forgets_earlier_failures(client, db, election, earlier_failures):
    for _ in range(earlier_failures):
        sign_in(client, election, password="wrong")
    assert sign_in(client, election).headers["Location"].endswith(url(election, "/ballot"))
    for _ in range(throttle.MAX_FAILURES - 1):  # a fresh count: these do not lock the Voter ID
        sign_in(client, election, password="wrong")
    assert sign_in(client, election).headers["Location"].endswith(url(election, "/ballot"))


def test_ballot_needs_sign_in(client, election):
    response = client.get(url(election, "/ballot"))
    assert response.headers["Location"].endswith(url(election))


def test_voter_session_does_not_reach_another_election(client, db, election):
    other = one(db, "SELECT * FROM elections WHERE id = ?",
                [make_election(db, None, organisation_id=election["organisation_id"], title="Other",
                               questions=QUESTIONS)])
    make_voters(db, other["id"], count=1, domain="other.org")
    sign_in(client, election)
    assert client.get(url(other, "/ballot")).headers["Location"].endswith(url(other))


def test_casting_shows_receipt_once_and_mails_it(app, client, db, election):
    sign_in(client, election)
    response = cast(client, db, election, "Alice", "Library", "Choir")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    receipt = one(db, "SELECT code FROM receipts")["code"]
    assert "Your receipt code" in page and ballots.format_receipt(receipt) in page
    assert "confirmation email" in page
    mails = outbox(app)
    assert len(mails) == 1 and ballots.format_receipt(receipt) in mails[0]
    assert "To: voter1@example.org" in mails[0]


def test_receipt_page_is_not_shown_twice(client, db, election):
    """The receipt is the answer to the cast: sending the cast again (a reload) or opening the
    ballot page shows "already voted", and no page or cookie can bring the receipt back."""
    sign_in(client, election)
    form = ballot_form(db, election, "Bob", "Garden")
    first = client.post(url(election, "/ballot"), data=form).get_data(as_text=True)
    assert "Your receipt code" in first
    for again in (client.post(url(election, "/ballot"), data=form), client.get(url(election, "/ballot"))):
        page = again.get_data(as_text=True)
        assert "You have already voted" in page and "Your receipt code" not in page
    assert client.get(url(election, "/voted")).status_code == 404


def test_invalid_ballot_keeps_selections_and_names_the_question(client, db, election):
    sign_in(client, election)
    page = cast(client, db, election, "Library", "Garden", "Choir").get_data(as_text=True)
    assert "Please answer this question." in page
    assert "Please pick at most 2." in page
    assert len(re.findall(r"checked", page)) == 3
    assert one(db, "SELECT count(*) AS n FROM ballots")["n"] == 0


def test_abstain_with_another_choice_is_refused_on_the_page(client, db, election):
    sign_in(client, election)
    page = client.post(url(election, "/ballot"), data={
        **ballot_form(db, election, "Garden"),
        choices(db, election)["Alice"][0]: [choices(db, election)["Alice"][1],
                                            choices(db, election)["Abstain"][1]],
    }).get_data(as_text=True)
    assert "Abstain must be the only choice" in page


def test_tampered_choice_value_is_a_clear_error_not_a_500(client, db, election):
    sign_in(client, election)
    form = ballot_form(db, election, "Garden")
    form[choices(db, election)["Alice"][0]] = ["not-a-number"]
    response = client.post(url(election, "/ballot"), data=form)
    assert response.status_code == 200
    assert "does not belong to this question" in response.get_data(as_text=True)


def test_signing_in_again_after_voting_shows_already_voted(client, db, election):
    sign_in(client, election)
    cast(client, db, election, "Alice", "Garden")
    sign_in(client, election)
    page = client.get(url(election, "/ballot")).get_data(as_text=True)
    assert "You have already voted" in page and "Cast ballot" not in page
    assert "You have already voted" in cast(client, db, election, "Bob", "Choir").get_data(as_text=True)
    assert one(db, "SELECT count(*) AS n FROM ballots")["n"] == 1


@pytest.mark.parametrize("state, opens_in, closes_in, message", [
    ("closed", -5, 48, "Voting has closed"),
    ("draft", 5, 48, "Voting is not open yet"),
])
def test_ballot_outside_window_shows_clear_message(client, db, state, opens_in, closes_in, message):
    election_id = make_election(db, make_admin(db), state=state, questions=QUESTIONS,
                                opens_in_hours=opens_in, closes_in_hours=closes_in)
    make_voters(db, election_id, count=1)
    election = one(db, "SELECT * FROM elections WHERE id = ?", [election_id])
    assert "Sign in to vote</button>" not in client.get(url(election)).get_data(as_text=True)
    sign_in(client, election)
    page = client.get(url(election, "/ballot")).get_data(as_text=True)
    assert message in page and "Cast ballot" not in page


def test_personal_ballot_link_signs_voter_in(client, db, election):
    voter = one(db, "SELECT * FROM voters WHERE voter_code = 'V0002'")
    token = ballot_link_token(SECRET_KEY, voter["id"], voter["link_version"])
    response = client.get(url(election, f"/link/{voter['id']}/{token}"))
    assert response.headers["Location"].endswith(url(election, "/ballot"))
    with client.session_transaction() as session:
        assert session["voter"] == {"id": voter["id"], "slug": election["slug"]}


@pytest.mark.parametrize("bad", ["wrong-token", "old-version", "other-voter"])
def test_bad_ballot_link_does_not_sign_in(client, db, election, bad):
    voter, other = rows(db, "SELECT * FROM voters ORDER BY id")[:2]
    token = {"wrong-token": "abc",
             "old-version": ballot_link_token(SECRET_KEY, voter["id"], voter["link_version"] - 1),
             "other-voter": ballot_link_token(SECRET_KEY, other["id"], other["link_version"])}[bad]
    page = client.get(url(election, f"/link/{voter['id']}/{token}"),
                      follow_redirects=True).get_data(as_text=True)
    assert "not valid any more" in page
    with client.session_transaction() as session:
        assert "voter" not in session


def test_sign_in_replaces_an_earlier_voter_but_keeps_the_admin_logged_in(client, auth, election):
    auth.create(email="clerk@example.org")
    auth.login(email="clerk@example.org")
    sign_in(client, election, voter_id="V0002", password="pw-2")
    sign_in(client, election)
    with client.session_transaction() as session:
        assert session["voter"]["id"] == 1
    assert client.get("/elections/").status_code == 200


@pytest.mark.parametrize("typed, found", [
    ("{dashed}", True), ("{lower}", True), ("ABCD-EFGH-JKLM", False)])
def test_receipt_check(client, db, election, typed, found):
    sign_in(client, election)
    cast(client, db, election, "Alice", "Garden")
    code = one(db, "SELECT code FROM receipts")["code"]
    typed = typed.format(dashed=ballots.format_receipt(code), lower=code.lower())
    page = client.post(url(election, "/receipt"), data={"code": typed}).get_data(as_text=True)
    assert ("This receipt is in the ballot box" in page) is found
    assert ("This receipt is not in the ballot box" in page) is not found


def test_forgot_gives_same_answer_for_unknown_email(app, client, db, election):
    known = client.post(url(election, "/forgot"), data={"email": " Voter2@Example.org "},
                        follow_redirects=True).get_data(as_text=True)
    unknown = client.post(url(election, "/forgot"), data={"email": "nobody@example.org"},
                          follow_redirects=True).get_data(as_text=True)
    wait_for_background_mail()
    message = "If that address is on this election&#39;s roster"
    assert message in known and message in unknown
    assert len(outbox(app)) == 1


def ask_for_new_link(client, election, email):
    """Post the forgot form and wait for the mail it starts."""
    response = client.post(url(election, "/forgot"), data={"email": email})
    wait_for_background_mail()
    return response


def test_forgot_answers_without_waiting_for_the_mail(app, client, election, monkeypatch):
    """The answer comes first, so its timing cannot tell a roster address from a stranger's."""
    mail_may_go = threading.Event()
    real_send = notices.send_ballot_link

    def slow_send(*args, **kwargs):
        assert mail_may_go.wait(10)
        return real_send(*args, **kwargs)

    monkeypatch.setattr(notices, "send_ballot_link", slow_send)
    response = client.post(url(election, "/forgot"), data={"email": "voter2@example.org"})
    assert response.status_code == 302 and outbox(app) == []
    mail_may_go.set()
    wait_for_background_mail()
    assert len(outbox(app)) == 1


def test_forgot_mail_goes_even_if_the_browser_drops_the_answer(app, client, election):
    """A browser may close the connection on the redirect: the answer is never closed, the mail goes."""
    response = client.post(url(election, "/forgot"), data={"email": "voter2@example.org"})
    assert response.status_code == 302
    wait_for_background_mail()
    assert len(outbox(app)) == 1


def test_forgot_sends_new_link_and_old_link_stops_working(app, client, db, election):
    voter = one(db, "SELECT * FROM voters WHERE voter_code = 'V0002'")
    old = url(election, f"/link/{voter['id']}/"
                        f"{ballot_link_token(SECRET_KEY, voter['id'], voter['link_version'])}")
    ask_for_new_link(client, election, "voter2@example.org")
    new = re.search(r"http://\S+/vote/\S+", outbox(app)[0]).group(0)
    assert "/link/" in new and new.split("localhost")[-1] != old
    assert client.get(old).headers["Location"].endswith(url(election))
    assert client.get(new).headers["Location"].endswith(url(election, "/ballot"))


def test_forgot_is_throttled(app, client, election):
    for _ in range(throttle.MAX_FAILURES):
        ask_for_new_link(client, election, "voter1@example.org")
    page = client.post(url(election, "/forgot"), data={"email": "voter1@example.org"}).get_data(
        as_text=True)
    assert "Too many failed attempts" in page
    assert len(outbox(app)) == throttle.MAX_FAILURES


def test_voter_pages_are_not_cached(client, election):
    assert client.get(url(election)).headers["Cache-Control"] == "no-store"


def test_sign_out_ends_voter_session(client, election):
    sign_in(client, election)
    client.post(url(election, "/sign-out"))
    assert client.get(url(election, "/ballot")).headers["Location"].endswith(url(election))


def test_failures_across_voter_ids_lock_the_address(client, election):
    for n in range(throttle.MAX_FAILURES_PER_ADDRESS):
        sign_in(client, election, voter_id=f"NOBODY{n}", password="wrong")
    page = sign_in(client, election, voter_id="V0003", password="pw-3").get_data(as_text=True)
    assert "Too many failed attempts" in page


def csrf_token(page):
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                     r'name="csrf_token" value="([^"]+)"', page).group(1, 2)


def token_from(client, path):
    found = csrf_token(client.get(path).get_data(as_text=True))
    return found[0] or found[1]


def test_whole_vote_works_with_csrf_protection_on(app, client, db, election):
    app.config["WTF_CSRF_ENABLED"] = True
    refused = client.post(url(election), data={"voter_id": "V0001", "password": "pw-1"})
    assert refused.status_code == 400
    client.post(url(election), data={"voter_id": "V0001", "password": "pw-1",
                                     "csrf_token": token_from(client, url(election))})
    form = ballot_form(db, election, "Alice", "Garden")
    form["csrf_token"] = token_from(client, url(election, "/ballot"))
    receipt_page = client.post(url(election, "/ballot"), data=form).get_data(as_text=True)
    code = one(db, "SELECT code FROM receipts")["code"]
    assert ballots.format_receipt(code) in receipt_page
    page = client.post(url(election, "/receipt"), data={
        "code": code, "csrf_token": token_from(client, url(election, "/receipt"))}).get_data(as_text=True)
    assert "This receipt is in the ballot box" in page


def test_a_ballot_field_of_five_thousand_digits_is_a_clear_error_not_a_500(client, db, election):
    sign_in(client, election)
    form = ballot_form(db, election, "Garden")
    form[choices(db, election)["Alice"][0]] = ["7" * 5000]
    response = client.post(url(election, "/ballot"), data=form)
    assert response.status_code == 200
    assert "does not belong to this question" in response.get_data(as_text=True)
    assert one(db, "SELECT count(*) AS n FROM ballots")["n"] == 0
