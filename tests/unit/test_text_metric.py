"""char_accuracy (tests/textcorpus.py), the figure the OCR benchmark and the text-corpus test
report: 1 - normalized edit distance between the expected and the read lines."""

from __future__ import annotations

import pytest
from textcorpus import char_accuracy, levenshtein, normalize_text

pytestmark = pytest.mark.unit


def test_a_perfect_read_scores_one_and_nothing_read_scores_zero():
    assert char_accuracy(["禁止吸烟", "No Smoking"], ["禁止吸烟", "No Smoking"]) == 1.0
    assert char_accuracy(["禁止吸烟", "No Smoking"], []) == 0.0


def test_nothing_expected_and_nothing_read_is_perfect_but_a_false_read_is_not():
    assert char_accuracy([], []) == 1.0
    assert char_accuracy([], ["***"]) == 0.0


@pytest.mark.parametrize(
    ("a", "b", "edits"),
    [("", "", 0), ("abc", "", 3), ("kitten", "sitting", 3), ("出口", "出囗", 1), ("ab", "ba", 2)],
)
def test_levenshtein_counts_single_character_edits(a, b, edits):
    assert levenshtein(a, b) == edits == levenshtein(b, a)


def test_one_wrong_character_costs_one_over_the_longer_length():
    # "No Smoking" vs "No Smokinq": 1 edit in 10 characters
    assert char_accuracy(["No Smoking"], ["No Smokinq"]) == pytest.approx(0.9)
    # extra text read beside the right text is charged by the longer length: never below 0
    assert char_accuracy(["EXIT"], ["EXIT", "*** **K"]) == pytest.approx(1 - 8 / 12)


def test_line_breaks_and_runs_of_whitespace_do_not_count():
    expected = ["Please keep", "this door closed"]
    assert char_accuracy(expected, ["Please keep this door closed"]) == 1.0
    assert char_accuracy(expected, ["  Please   keep\tthis", "door closed "]) == 1.0


def test_spaces_beside_chinese_and_full_width_forms_do_not_count():
    # the Chinese model writes ￥ and drops the space between 咖啡 and the price
    assert char_accuracy(["咖啡 ¥28"], ["咖啡￥28"]) == 1.0
    assert char_accuracy(["一楼 1F"], ["一楼１F"]) == 1.0
    assert normalize_text(["禁止吸烟", "No Smoking"]) == "禁止吸烟No Smoking"


def test_reading_order_matters():
    assert char_accuracy(["一楼 1F", "二楼 2F"], ["二楼 2F", "一楼 1F"]) < 1.0


def test_case_matters():
    assert char_accuracy(["EXIT"], ["exit"]) == 0.0
