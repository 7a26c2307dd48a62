"""The BLT file: what other STV programs read to recount."""
from eo_cc.counting import blt, to_units


def test_identical_rankings_are_written_once_with_their_weights_added_in_ranking_order():
    ballots = [((2, 1), to_units(1)), ((1,), to_units(1)), ((2, 1), to_units(1)), ((3,), to_units(1))]
    text = blt.write("Board 2027", [(1, "Ann"), (2, "Bob"), (3, "Cy")], 2, ballots)
    assert text == '3 2\n1 1 0\n2 2 1 0\n1 3 0\n0\n"Ann"\n"Bob"\n"Cy"\n"Board 2027"\n'


def test_weights_keep_their_decimals_and_names_cannot_break_the_format():
    text = blt.write('The "big" vote', [(7, 'Ann "A"\nSmith'), (8, "Bob")], 1,
                     [((8, 7), to_units(2.5)), ((), to_units(1))])
    assert text.splitlines() == ["2 1", "1 0", "2.5 2 1 0", "0", "\"Ann 'A' Smith\"", '"Bob"',
                                 "\"The 'big' vote\""]


def test_a_written_file_reads_back():
    ballots = [((1, 2), to_units(3)), ((2,), to_units(1))]
    text = blt.write("T", [(1, "A"), (2, "B")], 1, ballots)
    assert blt.read(text) == ("T", ["A", "B"], 1, [((1, 2), "3"), ((2,), "1")])
