"""A board elected by STV and a weighted budget vote, through the pages, in a real browser.

12 voters: four hold 2 votes each (weight 2), eight hold 1; 16 votes in all. Worked by hand:

Board (ranked, 3 seats, Scottish STV), quota 16 // 4 + 1 = 5.
  Round 1: Ann 6, Ben 4, Cat 2, Dev 2, Eve 2. Ann is elected.
  Round 2: Ann's surplus of 1 moves at 2 × 1 / 6 = 0.33333 a weight-2 ballot: Ben + 0.66666,
           Cat + 0.33333 (0.00001 lost to rounding). Ben 4.66666, Cat 2.33333.
  Round 3: Dev and Eve tie on 2, in every round: the later-listed Eve is excluded; Cat + 1, Dev + 1.
  Round 4: Dev (3) is excluded: Cat + 1, 2 non-transferable. Ben 4.66666 and Cat 4.33333 fill
           the two seats left. Elected: Ann, Ben, Cat.
Budget (pick one, weighted): Yes 2 + 2 + 2 + 1 + 1 + 1 = 9, No 2 + 1 × 5 = 7.
"""
import pytest
from playwright.sync_api import expect

from eo_cc.counting import blt

from .steps import sign_up
from .test_election_story import add_question, create_election, open_dashboard, upload_roster, votes_for

pytestmark = pytest.mark.browser

BOARD = "Who should sit on the board?"
BUDGET = "Approve the budget?"
CANDIDATES = ["Ann", "Ben", "Cat", "Dev", "Eve"]
# voter number: (weight, ranking on the board, budget answer)
BALLOTS = {
    1: (2, ["Ann", "Ben"], "Yes"), 2: (2, ["Ann", "Cat"], "Yes"), 3: (2, ["Ann", "Ben"], "No"),
    4: (2, ["Ben"], "Yes"), 5: (1, ["Ben", "Ann"], "No"), 6: (1, ["Cat"], "Yes"),
    7: (1, ["Cat", "Dev"], "Yes"), 8: (1, ["Dev", "Cat"], "Yes"), 9: (1, ["Dev"], "No"),
    10: (1, ["Eve", "Cat"], "No"), 11: (1, ["Eve", "Dev"], "No"), 12: (1, ["Ben"], "No"),
}
ROSTER = "email,name,voter_id,password,weight\n" + "".join(
    f"v{n}@example.org,Voter {n},V-{n},secret-{n},{weight}\n" for n, (weight, _, _) in BALLOTS.items())


def add_ranked_question(page, prompt, candidates, seats):
    page.get_by_role("link", name="Ballot questions").click()
    page.get_by_role("link", name="Add a question").click()
    page.get_by_label("Question", exact=True).fill(prompt)
    page.get_by_label("Choices").fill("\n".join(candidates))
    page.get_by_label("Question type").select_option(label="Ranked")
    page.get_by_label("Seats to fill").fill(str(seats))
    page.get_by_role("button", name="Save question").click()
    expect(page.get_by_text("Question added.")).to_be_visible()


def vote(page, voters_page, number, ranking, answer):
    page.goto(voters_page)
    page.get_by_label("Voter ID").fill(f"V-{number}")
    page.get_by_label("Password", exact=True).fill(f"secret-{number}")
    page.get_by_role("button", name="Sign in to vote").click()
    board = page.get_by_role("group", name=BOARD)
    for rank, candidate in enumerate(ranking, start=1):
        board.get_by_label(candidate, exact=True).select_option(str(rank))
    page.get_by_role("group", name=BUDGET).get_by_label(answer, exact=True).check()
    page.get_by_role("button", name="Cast ballot").click()
    expect(page.get_by_role("heading", name="Your receipt code")).to_be_visible()


def round_cell(page, candidate, round_number):
    row = page.locator("table.rounds").get_by_role("row").filter(
        has=page.get_by_role("rowheader", name=candidate))
    return row.get_by_role("cell").nth(round_number - 1)


def test_a_board_elected_by_stv_and_a_weighted_vote(page, new_page, site, tmp_path):
    sign_up(page, site, "Ada Admin", "ada@example.org", "a long admin password")
    create_election(page, "Annual meeting")
    add_ranked_question(page, BOARD, CANDIDATES, seats=3)
    add_question(page, BUDGET, ["Yes", "No"])

    upload_roster(page, tmp_path, ROSTER)
    expect(page.get_by_text("12 voters added.")).to_be_visible()
    expect(page.get_by_text("Fewer than 5 voters share the weight 2 (4 voters).")).to_be_visible()

    open_dashboard(page)
    page.get_by_role("button", name="Open voting").click()
    voters_page = page.get_by_role("link", name="/vote/").get_attribute("href")

    voter = new_page()
    mistake = BALLOTS[1]
    voter.goto(voters_page)
    voter.get_by_label("Voter ID").fill("V-1")
    voter.get_by_label("Password", exact=True).fill("secret-1")
    voter.get_by_role("button", name="Sign in to vote").click()
    voter.get_by_role("group", name=BOARD).get_by_label("Ann", exact=True).select_option("1")
    voter.get_by_role("group", name=BOARD).get_by_label("Ben", exact=True).select_option("3")
    voter.get_by_role("group", name=BUDGET).get_by_label(mistake[2], exact=True).check()
    voter.get_by_role("button", name="Cast ballot").click()
    expect(voter.get_by_text("Skipped rank: there is no 2.")).to_be_visible()
    board = voter.get_by_role("group", name=BOARD)
    board.get_by_label("Ben", exact=True).select_option("1")  # with JavaScript, Ann takes Ben's old 3
    expect(board.get_by_label("Ann", exact=True)).to_have_value("3")

    for number, (_, ranking, answer) in BALLOTS.items():
        vote(new_page(), voters_page, number, ranking, answer)

    page.reload()
    page.get_by_role("button", name="Close voting").click()
    expect(page.get_by_text("Each ballot stores its choices and its voter's weight")).to_be_visible()
    page.get_by_role("link", name="See the results").click()

    expect(page.get_by_text("Turnout: 12 of 12 voted.")).to_be_visible()
    expect(page.get_by_text("Fewer than 5 voters share the weight 2 (4 voters).")).to_be_visible()
    expect(page.locator(".elected").first).to_have_text("Elected: Ann, Ben, Cat")
    expect(round_cell(page, "Ann", 1)).to_contain_text("6")
    expect(round_cell(page, "Ben", 2)).to_have_text("4.66666")
    expect(round_cell(page, "Cat", 2)).to_have_text("2.33333")
    expect(round_cell(page, "Cat", 3)).to_have_text("3.33333")
    expect(round_cell(page, "Eve", 3)).to_have_text("–")
    expect(round_cell(page, "Cat", 4)).to_contain_text("4.33333")
    expect(page.get_by_text("the order of the candidates on the ballot")).to_be_visible()
    expect(votes_for(page, BUDGET, "Yes")).to_have_text("9")
    expect(votes_for(page, BUDGET, "No")).to_have_text("7")
    expect(page.get_by_role("columnheader", name="Weighted votes", exact=True)).to_be_visible()

    with page.expect_download() as download:
        page.get_by_role("link", name="Download the ballots (BLT)").click()
    title, names, seats, ballots = blt.read(open(download.value.path(), encoding="utf-8").read())
    assert (title, names, seats) == (f"Annual meeting – {BOARD}", CANDIDATES, 3)
    assert ballots == [((1, 2), "4"), ((1, 3), "2"), ((2,), "3"), ((2, 1), "1"), ((3,), "1"),
                       ((3, 4), "1"), ((4,), "1"), ((4, 3), "1"), ((5, 3), "1"), ((5, 4), "1")]
