"""Instant-runoff: worked cases, and thousands of random profiles checked against pref_voting,
an independent implementation (a test-only dependency)."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eo_cc.counting import irv, to_units

pref_voting = pytest.importorskip("pref_voting")
from pref_voting.profiles import Profile  # noqa: E402
from pref_voting.voting_methods import instant_runoff, instant_runoff_put  # noqa: E402


def profile(*groups):
    """(count, "ABC") groups -> one (ranking, UNITs) per ballot."""
    return [(tuple(ranking), to_units(1)) for count, ranking in groups for _ in range(count)]


def test_a_majority_of_first_preferences_wins_in_the_first_round():
    result = irv.count("ABC", profile((3, "ABC"), (1, "BCA"), (1, "CBA")))
    assert result.elected == ["A"]
    assert len(result.rounds) == 1


def test_the_fewest_are_excluded_until_someone_has_a_majority_of_the_votes_left():
    result = irv.count("ABC", profile((4, "A"), (3, "BA"), (2, "CB")))
    assert [r.subject for r in result.rounds] == [None, "C"]
    assert result.rounds[1].totals == {"A": to_units(4), "B": to_units(5), "C": 0}
    assert result.rounds[1].transfers == {"B": to_units(2)}
    assert result.elected == ["B"]


def test_ballots_that_rank_no_one_left_are_exhausted_not_counted():
    result = irv.count("ABC", profile((4, "A"), (3, "B"), (2, "C")))
    assert result.rounds[1].exhausted == to_units(2)
    assert result.rounds[1].transfers == {None: to_units(2)}
    assert result.elected == ["A"]


def test_weights_count_as_votes():
    ballots = [(("A",), to_units(2.5)), (("B",), to_units(1)), (("B",), to_units(1))]
    assert irv.count("AB", ballots).elected == ["A"]


def test_a_tie_for_fewest_is_broken_by_earlier_rounds():
    # Round 1: A 5, B 4, C 3, D 3 -> D or C? equal now and no earlier round: ballot order excludes D.
    # Round 2: D's 3 go to C -> C 6, B 4 ... then B is excluded.
    result = irv.count("ABCD", profile((5, "A"), (4, "BC"), (3, "C"), (3, "DC")))
    assert result.rounds[1].subject == "D" and result.rounds[1].tie == "ballot order"
    assert result.elected == ["C"]


def test_a_tie_now_is_broken_by_the_earliest_round_in_which_they_differed():
    # Round 1: A 6, B 5, C 4, D 1. D out -> C 5: B and C tie on 5; B had more in round 1, so C goes.
    result = irv.count("ABCD", profile((6, "A"), (5, "B"), (4, "CB"), (1, "DC")))
    assert result.rounds[2].subject == "C" and result.rounds[2].tie == "earlier rounds"
    assert result.elected == ["B"]


rankings = st.integers(min_value=2, max_value=6).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.tuples(st.permutations(range(n)), st.integers(1, 5)), min_size=1, max_size=12)))


@settings(max_examples=2000, deadline=None)
@given(rankings)
def test_the_winner_is_one_that_pref_voting_finds_for_some_way_of_breaking_ties(case):
    n, groups = case
    ours = irv.count(list(range(n)), [(tuple(r), to_units(c)) for r, c in groups]).elected
    theirs = Profile([list(r) for r, _ in groups], rcounts=[c for _, c in groups])
    assert len(ours) == 1
    assert ours[0] in instant_runoff_put(theirs)


@settings(max_examples=2000, deadline=None)
@given(rankings)
def test_without_ties_the_winner_is_pref_voting_s_winner(case):
    n, groups = case
    result = irv.count(list(range(n)), [(tuple(r), to_units(c)) for r, c in groups])
    if any(r.tie for r in result.rounds) or _tied_lowest(result):
        return
    assert result.elected == instant_runoff(Profile([list(r) for r, _ in groups], rcounts=[c for _, c in groups]))


def _tied_lowest(result):
    """True when an exclusion chose among equal fewest votes (pref_voting then drops them all)."""
    out = set()
    for before, after in zip(result.rounds, result.rounds[1:]):
        live = [v for c, v in before.totals.items() if c not in out]
        if live.count(before.totals[after.subject]) > 1:
            return True
        out.add(after.subject)
    return False


def test_no_ballots_elect_nobody():
    result = irv.count([1, 2, 3], [])
    assert result.elected == [] and len(result.rounds) == 1


def test_ballots_that_rank_nobody_elect_nobody():
    assert irv.count([1, 2], [((), to_units(1)), ((), to_units(1))]).elected == []
