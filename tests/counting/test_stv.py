"""Scottish STV: published and hand-worked examples, tie-breaks, and invariants on random profiles."""
from hypothesis import given, settings
from hypothesis import strategies as st

from eo_cc.counting import irv, stv, to_units


def profile(*groups):
    """(count, "ABC") groups -> one (ranking, UNITs) per ballot."""
    return [(tuple(ranking), to_units(1)) for count, ranking in groups for _ in range(count)]


def votes(*pairs):
    return {name: to_units(value) for name, value in pairs}


def test_wikipedia_single_transferable_vote_example():
    """Wikipedia, "Single transferable vote", section "Example" (the party food vote): 20 voters,
    3 seats, Droop quota 6. Chocolate is elected with 12 and its surplus of 6 splits 4 to
    Strawberries and 2 to Hamburgers; Pears (2) are excluded and go to Oranges, elected with 6;
    Hamburgers are excluded and Strawberries take the last seat."""
    result = stv.count(["Oranges", "Pears", "Chocolate", "Strawberries", "Hamburgers"], profile(
        (4, ["Oranges"]), (2, ["Pears", "Oranges"]), (8, ["Chocolate", "Strawberries"]),
        (4, ["Chocolate", "Hamburgers"]), (1, ["Strawberries"]), (1, ["Hamburgers"])), seats=3)
    assert result.quota == to_units(6)
    assert [(r.action, r.subject) for r in result.rounds] == [
        ("first", None), ("surplus", "Chocolate"), ("exclude", "Pears"), ("exclude", "Hamburgers")]
    assert result.rounds[1].transfers == votes(("Strawberries", 4), ("Hamburgers", 2))
    assert result.rounds[2].totals["Oranges"] == to_units(6)
    assert result.elected == ["Chocolate", "Oranges", "Strawberries"]


def test_opavote_example():
    """The example election OpaVote uses to explain STV (also in the stvpoll package's tests):
    28 Alice > Bob > Chris, 26 Bob > Alice > Chris, 3 Chris, 2 Don, 1 Eric; 3 seats. Alice and Bob
    reach the quota of 16 at once; Alice's surplus of 12 moves at 12 / 28 = 0.42857 to Chris
    (11.99996), Bob's of 10 at 10 / 26 = 0.38461 (9.99986), which elects Chris.
    Instant-runoff for one seat elects Alice."""
    ballots = profile((28, ["Alice", "Bob", "Chris"]), (26, ["Bob", "Alice", "Chris"]), (3, ["Chris"]),
                      (2, ["Don"]), (1, ["Eric"]))
    names = ["Alice", "Bob", "Chris", "Don", "Eric"]
    result = stv.count(names, ballots, seats=3)
    assert result.quota == to_units(16)
    assert result.rounds[0].elected == ["Alice", "Bob"]
    assert result.rounds[1].transfers == {"Chris": 1_199_996}
    assert result.rounds[2].transfers == {"Chris": 999_986}
    assert result.elected == ["Alice", "Bob", "Chris"]
    assert irv.count(names, ballots).elected == ["Alice"]


def test_transfer_values_are_truncated_to_five_decimal_places():
    """Worked by hand under rule 48(3): 22 votes, 2 seats, quota 22 // 3 + 1 = 8. A has 11, so a
    surplus of 3: each of A's ballots moves at 1 × 3 / 11 = 0.27272 (0.272727… truncated).
    B gets 8 × 0.27272 = 2.18176, C gets 3 × 0.27272 = 0.81816, and 0.00008 is lost to rounding."""
    result = stv.count("ABCD", profile((8, "AB"), (3, "AC"), (2, "B"), (5, "C"), (4, "D")), seats=2)
    surplus = result.rounds[1]
    assert surplus.transfers == {"B": 218_176, "C": 81_816}
    assert surplus.totals == {"A": to_units(8), "B": 418_176, "C": 581_816, "D": to_units(4)}
    assert surplus.lost == 8
    assert result.elected == ["A", "C"]


def test_equal_fewest_votes_exclude_the_one_with_fewer_in_the_earliest_round_they_differed():
    """Worked by hand under rule 50: 18 votes, 2 seats, quota 7. A's surplus of 1 gives C 8 × 0.125
    = 1, so B and C both have 4 after D goes; in the first round B had 4 and C 3, so C is
    excluded and B is elected."""
    result = stv.count("ABCD", profile((8, "AC"), (4, "B"), (3, "C"), (3, "D")), seats=2)
    assert result.rounds[3].subject == "C" and result.rounds[3].tie == "earlier rounds"
    assert result.elected == ["A", "B"]


def test_candidates_equal_in_every_round_are_split_by_ballot_order():
    # 13 votes, 2 seats, quota 5: A's surplus of 2 moves at 2 / 7 = 0.28571 a ballot and has
    # nowhere to go (7 × 0.28571 = 1.99997 non-transferable); B and C stay at 3 each.
    result = stv.count("ABC", profile((7, "A"), (3, "B"), (3, "C")), seats=2)
    assert (result.rounds[1].exhausted, result.rounds[1].lost) == (199_997, 3)
    assert result.rounds[2].subject == "C" and result.rounds[2].tie == "ballot order"
    assert result.elected == ["A", "B"]


def test_equal_surpluses_move_the_larger_earlier_one_first():
    # 35 votes, 3 seats, quota 9: A and B both have 12 in round 1, so A (listed first) moves first;
    # its 3 take C to 9, which fills the last seat before B's surplus moves.
    result = stv.count("ABCD", profile((12, "AC"), (12, "BD"), (6, "C"), (5, "D")), seats=3)
    assert result.rounds[1].subject == "A" and result.rounds[1].tie == "ballot order"
    assert result.elected == ["A", "B", "C"]


def test_weighted_ballots_start_at_their_weight():
    ballots = [(("A", "B"), to_units(3)), (("B",), to_units(1)), (("C",), to_units(1.5))]
    result = stv.count("ABC", ballots, seats=1)
    assert result.total == to_units(5.5)
    assert result.elected == ["A"]


profiles = st.integers(min_value=2, max_value=7).flatmap(lambda n: st.tuples(
    st.just(n), st.integers(1, n),
    st.lists(st.tuples(st.permutations(range(n)).flatmap(lambda p: st.integers(1, len(p)).map(
        lambda k: tuple(p[:k]))), st.sampled_from([1, 1, 1, 2, 0.5, 3.25])), min_size=1, max_size=40)))


@settings(max_examples=1000, deadline=None)
@given(profiles)
def test_every_vote_is_accounted_for_in_every_round(case):
    n, seats, ballots = case
    result = stv.count(list(range(n)), [(r, to_units(w)) for r, w in ballots], seats)
    assert len(result.elected) == len(set(result.elected)) == seats
    for this in result.rounds:
        assert sum(this.totals.values()) + this.exhausted + this.lost == result.total


@settings(max_examples=1000, deadline=None)
@given(profiles)
def test_for_one_seat_stv_elects_the_instant_runoff_winner(case):
    n, _, ballots = case
    weighted = [(r, to_units(w)) for r, w in ballots]
    assert stv.count(list(range(n)), weighted, 1).elected == irv.count(list(range(n)), weighted).elected


def test_no_ballots_fill_no_seat():
    result = stv.count([1, 2, 3], [], 2)
    assert result.elected == [] and len(result.rounds) == 1
