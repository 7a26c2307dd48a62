"""An election from start to finish, through the pages only, in a real browser."""
import pytest
from playwright.sync_api import expect

from .steps import cast_ballot, sign_up

pytestmark = pytest.mark.browser

CHAIR = "Who should chair the board?"
PROJECTS = "Which projects should we fund?"
ROSTER = """email,name,voter_id,password
ines@example.org,Ines Ortega,V-INES,ines-secret-1
omar@example.org,Omar Haddad,V-OMAR,omar-secret-2
Pia@Example.org ,Pia Lund,V-PIA,pia-secret-3
"""


def create_election(page, title):
    page.get_by_role("link", name="New election").click()
    page.get_by_label("Title").fill(title)
    page.get_by_label("Description").fill("Choose our next board.")
    page.get_by_role("button", name="Create election").click()
    expect(page.get_by_text("Election created.")).to_be_visible()


def add_question(page, prompt, choices, max_choices=1):
    page.get_by_role("link", name="Ballot questions").click()
    page.get_by_role("link", name="Add a question").click()
    page.get_by_label("Question", exact=True).fill(prompt)
    page.get_by_label("Choices").fill("\n".join(choices))
    page.get_by_label("Voters may pick up to").fill(str(max_choices))
    page.get_by_role("button", name="Save question").click()
    expect(page.get_by_text("Question added.")).to_be_visible()


def upload_roster(page, tmp_path, text):
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    page.get_by_role("link", name="Roster").click()
    page.get_by_label("Roster file (CSV)").set_input_files(str(path))
    page.get_by_role("button", name="Upload roster").click()


def check_receipt(page, voters_page, code):
    page.goto(voters_page)
    page.get_by_role("link", name="Check a receipt code").click()
    page.get_by_label("Receipt code").fill(code)
    page.get_by_role("button", name="Check receipt").click()


def open_dashboard(page):
    page.get_by_role("link", name="Dashboard").click()


def votes_for(page, question, choice):
    """The Votes cell of one choice in one question's results table."""
    table = page.get_by_role("table").filter(has_text=question)
    row = table.get_by_role("row").filter(has=page.get_by_role("rowheader", name=choice, exact=True))
    return row.get_by_role("cell").first


def test_admin_runs_an_election_that_two_voters_vote_in(page, new_page, site, tmp_path):
    sign_up(page, site, "Ada Admin", "ada@example.org", "a long admin password")
    create_election(page, "Board election 2026")
    add_question(page, CHAIR, ["Alice", "Bob"])
    add_question(page, PROJECTS, ["Library", "Garden", "Choir"], max_choices=2)

    upload_roster(page, tmp_path, ROSTER)
    expect(page.get_by_text("3 voters added.")).to_be_visible()
    expect(page.get_by_role("cell", name="pia@example.org", exact=True)).to_be_visible()

    open_dashboard(page)
    page.get_by_role("button", name="Open voting").click()
    expect(page.get_by_text("Voting is open.", exact=True)).to_be_visible()
    voters_page = page.get_by_role("link", name="/vote/").get_attribute("href")

    receipts = {
        cast_ballot(new_page(), voters_page, "V-INES", "ines-secret-1",
                    {CHAIR: ["Alice"], PROJECTS: ["Library", "Garden"]}),
        cast_ballot(new_page(), voters_page, "v-omar", "omar-secret-2",
                    {CHAIR: ["Alice"], PROJECTS: ["Garden"]}),
    }
    assert len(receipts) == 2
    checker = new_page()
    for code in receipts:
        check_receipt(checker, voters_page, code)
        expect(checker.get_by_text("This receipt is in the ballot box")).to_be_visible()

    page.reload()
    expect(page.get_by_text("2 of 3 voted")).to_be_visible()
    page.get_by_role("button", name="Close voting").click()
    expect(page.get_by_text("Voting is closed.")).to_be_visible()
    page.get_by_role("link", name="See the results").click()

    expect(page.get_by_text("Turnout: 2 of 3 voted.")).to_be_visible()
    expected = {(CHAIR, "Alice"): "2", (CHAIR, "Bob"): "0",
                (PROJECTS, "Library"): "1", (PROJECTS, "Garden"): "2", (PROJECTS, "Choir"): "0"}
    for (question, choice), votes in expected.items():
        expect(votes_for(page, question, choice)).to_have_text(votes)


def test_voter_cannot_vote_twice(page, new_page, site, tmp_path):
    sign_up(page, site, "Ada Admin", "ada@example.org", "a long admin password")
    create_election(page, "Choir election")
    add_question(page, CHAIR, ["Alice", "Bob"])
    upload_roster(page, tmp_path, ROSTER)
    open_dashboard(page)
    page.get_by_role("button", name="Open voting").click()
    voters_page = page.get_by_role("link", name="/vote/").get_attribute("href")

    cast_ballot(new_page(), voters_page, "V-PIA", "pia-secret-3", {CHAIR: ["Bob"]})

    second_try = new_page()
    second_try.goto(voters_page)
    second_try.get_by_label("Voter ID").fill("V-PIA")
    second_try.get_by_label("Password", exact=True).fill("pia-secret-3")
    second_try.get_by_role("button", name="Sign in to vote").click()
    expect(second_try.get_by_role("button", name="Cast ballot")).to_have_count(0)
    expect(second_try.get_by_role("heading", name="You have already voted")).to_be_visible()
    page.reload()
    expect(page.get_by_text("1 of 3 voted")).to_be_visible()


def test_roster_with_a_bad_row_is_refused_whole_with_the_row_and_column_named(page, site, tmp_path):
    sign_up(page, site, "Ada Admin", "ada@example.org", "a long admin password")
    create_election(page, "Board election 2026")

    upload_roster(page, tmp_path, "email,name\nines@example.org,Ines\nnot-an-email,Omar\n")

    errors = page.get_by_role("alert").filter(has_text="The file was not imported")
    problem = errors.get_by_role("row").nth(1).get_by_role("cell")
    expect(problem.nth(0)).to_have_text("3")  # as the spreadsheet numbers it: the header is row 1
    expect(problem.nth(1)).to_have_text("email")
    expect(page.get_by_text("No voters yet.")).to_be_visible()
