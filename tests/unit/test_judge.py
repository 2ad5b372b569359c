"""The judgement (judge.py): parsing rules, finding terms, and every verdict with its reason in
both languages, on a small vocabulary with a group (no model), plus the real ImageNet map."""

from __future__ import annotations

import numpy as np
import pytest

from localvision.errors import InvalidRule, InvalidRuleName, UnknownTerm
from localvision.judge import Rule, Vocabulary, judge
from localvision.models.groups import Group, group_map
from localvision.names import check_rule_name

LABELS = {
    "en": ["beagle", "pug", "tabby", "espresso", "crane", "crane"],
    "zh": ["小猎犬", "哈巴狗", "虎斑猫", "浓缩咖啡", "鹤", "起重机"],
}
DOG = Group("dog", {"en": "dog", "zh": "狗"}, np.asarray([0, 1]))
VOCAB = Vocabulary(LABELS, (DOG,))


def probs(*values: float) -> np.ndarray:
    row = np.zeros(6, np.float32)
    row[: len(values)] = values
    return row


def verdict(rule: dict, p: np.ndarray, lang: str = "en", floor: float = 0.5):
    return judge(Rule.parse(rule), p, VOCAB, lang, floor)


# --- rules --------------------------------------------------------------------------------------
def test_terms_from_lists_or_commas_are_stripped_and_kept_once_in_order():
    rule = Rule.parse({"accept": ["dog, tabby", "dog"], "reject": "pug ,", "min_confidence": 0.7})
    assert rule == Rule(("dog", "tabby"), ("pug",), 0.7)
    assert Rule.parse(rule.to_dict()) == rule


@pytest.mark.parametrize(
    "data",
    [{}, {"accept": []}, {"accept": " , "}, {"accept": [1]}, {"accept": "dog", "min_confidence": 2},
     {"accept": "dog", "min_confidence": "high"}, {"accept": "dog", "colour": "red"}, ["dog"],
     {"accept": ["x" * 200]}, {"accept": [f"t{i}" for i in range(101)]}],
    ids=["empty", "no-terms", "blank-terms", "not-text", "floor>1", "floor-text", "unknown-field",
         "not-object", "term-too-long", "too-many-terms"],
)  # fmt: skip
def test_a_rule_that_cannot_be_used_is_refused(data):
    with pytest.raises(InvalidRule):
        Rule.parse(data)


@pytest.mark.parametrize(
    "data", [{"text": "   "}, {"reject_text": [""]}, {"text": "x" * 201}, {"text_absent": "X"}],
    ids=["blank", "empty", "too-long", "unknown-text-field"],
)  # fmt: skip
def test_a_text_condition_that_cannot_be_used_is_refused(data):
    with pytest.raises(InvalidRule):
        Rule.parse(data)


SIGN = "禁止吸烟 No Smoking"


@pytest.mark.parametrize(
    "rule,passed,outcome,label",
    [({"text": "no smoking"}, True, "accepted", "no smoking"),
     ({"text": "NOSMOKING, 禁止"}, True, "accepted", "NOSMOKING"),
     ({"text": ["禁止吸烟", "EXIT"]}, False, "text_missing", "EXIT"),
     ({"reject_text": "smoking"}, False, "text_rejected", "smoking"),
     ({"reject_text": "VOID"}, True, "accepted", "VOID"),
     ({"text": "禁止", "accept": "beagle"}, True, "accepted", "beagle"),
     ({"text": "EXIT", "accept": "beagle"}, False, "text_missing", "EXIT")],
    ids=["required", "spaces-and-case", "one-missing", "rejected", "reject-absent",
         "text-then-labels", "labels-never-reached"],
)  # fmt: skip
def test_text_conditions_judge_the_text_read_in_the_photo(rule, passed, outcome, label):
    verdict = judge(Rule.parse(rule), probs(0.9, 0.05, 0.03, 0.02), VOCAB, "en", 0.5, text=SIGN)
    assert (verdict.passed, verdict.outcome, verdict.label) == (passed, outcome, label)
    assert label in verdict.reason


def test_a_text_verdict_speaks_chinese():
    verdict = judge(Rule.parse({"text": "出口"}), probs(0.9, 0.1), VOCAB, "zh", 0.5, text=SIGN)
    assert verdict.reason == "未通过：照片中没有文字“出口”。"


def test_a_saved_rule_keeps_its_text_conditions():
    rule = Rule.parse({"accept": "dog", "text": ["TOTAL"], "reject_text": "VOID"})
    assert Rule.parse(rule.to_dict()) == rule and rule.reads_text


def test_rule_names_are_checked_by_the_one_name_validator():
    assert check_rule_name("receipts-v2.1") == "receipts-v2.1"
    for bad in ("", "Receipts", "a/b", ".hidden", "-x", "x" * 201):
        with pytest.raises(InvalidRuleName):
            check_rule_name(bad)


# --- terms --------------------------------------------------------------------------------------
def test_terms_are_labels_or_groups_in_any_language_ignoring_case():
    assert list(VOCAB.find("Beagle").members) == [0]
    assert list(VOCAB.find("浓缩咖啡").members) == [3]
    assert list(VOCAB.find("DOG").members) == [0, 1]
    assert VOCAB.find("狗").name("en") == "dog" and VOCAB.find("dog").name("zh") == "狗"
    assert list(VOCAB.find("crane").members) == [4, 5]  # a label two classes share: both


def test_an_unknown_term_is_refused_naming_it():
    with pytest.raises(UnknownTerm, match="'dgo'"):
        verdict({"accept": ["dog", "dgo"]}, probs(0.9))


def test_the_real_imagenet_groups_are_terms():
    vocab = Vocabulary({"en": [f"c{i}" for i in range(1000)]}, group_map("imagenet"))
    assert len(vocab.find("dog").members) > 100 and len(vocab.find("猫").members) >= 5


# --- verdicts -----------------------------------------------------------------------------------
def test_a_group_passes_on_its_summed_probability_though_no_breed_is_sure():
    v = verdict({"accept": ["dog"]}, probs(0.35, 0.3, 0.2))
    assert (v.passed, v.outcome, v.label) == (True, "accepted", "dog")
    assert v.confidence == pytest.approx(0.65)
    assert v.reason == "Passed: the photo shows dog (65.0%)."


def test_the_most_confident_accepted_term_is_named():
    v = verdict({"accept": ["tabby", "espresso"]}, probs(0.0, 0.0, 0.2, 0.8), lang="zh")
    assert (v.passed, v.label) == (True, "浓缩咖啡")
    assert v.reason == "通过：照片中是浓缩咖啡（80.0%）。"


def test_a_rejected_term_fails_even_when_an_accepted_one_also_reaches_the_floor():
    v = verdict({"accept": ["dog"], "reject": ["pug"]}, probs(0.0, 0.9))
    assert (v.passed, v.outcome, v.label) == (False, "rejected", "pug")
    assert v.reason == "Failed: the photo shows pug (90.0%), which the rule rejects."
    assert verdict({"reject": ["pug"]}, probs(0.0, 0.9), "zh").reason == (
        "未通过：照片中是哈巴狗（90.0%），规则拒绝这一类。"
    )


def test_a_photo_the_model_is_not_sure_about_fails_saying_so():
    v = verdict({"accept": ["espresso"]}, probs(0.1, 0.1, 0.35, 0.3, 0.15))
    assert (v.passed, v.outcome, v.label) == (False, "not_sure", "tabby")
    assert v.reason == (
        "Failed: not sure what the photo shows; the best guess, tabby, is only 35.0% "
        "(the rule needs 50%)."
    )
    zh = verdict({"reject": ["dog"]}, probs(0.1, 0.1, 0.35, 0.3, 0.15), "zh")
    assert (zh.passed, zh.outcome) == (False, "not_sure") and "不确定" in zh.reason


def test_what_was_seen_is_named_when_nothing_accepted_is_there():
    v = verdict({"accept": ["dog", "espresso"]}, probs(0.0, 0.0, 0.9, 0.05))
    assert (v.passed, v.outcome, v.label) == (False, "not_accepted", "tabby")
    assert v.reason == 'Failed: the photo shows tabby (90.0%), not "dog" or "espresso".'
    zh = verdict({"accept": ["dog"]}, probs(0.0, 0.0, 0.9), "zh")
    assert zh.reason == "未通过：照片中是虎斑猫（90.0%），不是“狗”。"


def test_a_rule_that_only_rejects_passes_what_it_does_not_reject():
    v = verdict({"reject": ["dog"]}, probs(0.0, 0.0, 0.0, 0.8))
    assert (v.passed, v.label) == (True, "espresso")
    assert v.reason == "Passed: the photo shows espresso (80.0%), which the rule does not reject."


def test_the_rules_own_floor_wins_over_the_services():
    p = probs(0.0, 0.0, 0.0, 0.6)
    assert verdict({"accept": "espresso"}, p, floor=0.5).passed
    assert not verdict({"accept": "espresso", "min_confidence": 0.7}, p, floor=0.5).passed
    rule = Rule.parse({"accept": "espresso", "min_confidence": 0.7}).with_floor(0.55)
    assert judge(rule, p, VOCAB, "en", 0.9).passed
