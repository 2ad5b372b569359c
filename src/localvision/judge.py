"""Visual judgements: a rule applied to one photo's answer, giving pass or fail and the reason.

Automation flows (Robot Framework, Node-RED, UiPath) call the service as one step that answers
yes or no with its reason; this module is that judgement, once, for every surface:

    rule = Rule.parse({"accept": ["dog", "cat"], "min_confidence": 0.6})
    verdict = judge(rule, probabilities, Vocabulary.of(spec), lang="en", floor=0.6)
    verdict.passed, verdict.label, verdict.confidence, verdict.reason

A rule may also name text that the photo must show (`text`: every one of them) or must not show
(`reject_text`: none of them), read by the text reader (text/): matched without regard to case
or spaces, anywhere in the photo's lines. The verdict, in this order:

0. (text) a rejected text is in the photo: fail ("text_rejected"); a required one is not: fail
   ("text_missing"); a rule of text alone then passes ("accepted");

A rule's terms are labels (in any language the model has: "espresso", "浓缩咖啡") or groups
("dog", "狗": the summed probability of all its breeds, models/groups.py), matched without regard
to case. A term's confidence is its probability over the whole distribution (not only the top-k
shown), a group's summed over its classes. Then, for the labels:

1. a reject term reaches the floor: fail ("rejected");
2. an accept term reaches the floor: pass, naming the most confident one ("accepted");
3. the top label is under the floor: fail, "not sure" (a photo the model cannot tell passes no
   rule; a group can still be sure when none of its breeds is, which step 2 lets through);
4. accept terms were given: fail, naming what was seen ("not_accepted"); else (a rule that only
   rejects) pass, naming what was seen ("accepted").

Nothing here knows about HTTP or the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import numpy as np

from .errors import InvalidRule, UnknownTerm
from .models.groups import Group, group_map

if TYPE_CHECKING:  # pragma: no cover
    from .models.spec import ModelSpec

FIELDS = ("accept", "reject", "text", "reject_text", "min_confidence")
TEXT_CHARS = 200  # a text condition is a word or a phrase on a label or a sign
MAX_TERMS = 100  # a rule is a short list a person wrote, not a vocabulary
TERM_CHARS = 128  # the longest label of the shipped label sets is well under this


# --- the rule -----------------------------------------------------------------------------------
def parse_terms(value, what: str, longest: int = TERM_CHARS) -> tuple[str, ...]:
    """Terms as a list of text, or text with commas between them ("cup, mug"; no label of the
    shipped label sets has a comma)."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(t, str) for t in items):
        raise InvalidRule(f"`{what}` must be a list of labels or groups (text).")
    split = (t.strip() for item in items for t in item.split(","))
    terms = tuple(dict.fromkeys(t for t in split if t))  # order kept, no repeats
    if len(terms) > MAX_TERMS:
        raise InvalidRule(f"`{what}` may name at most {MAX_TERMS} labels or groups.")
    long = [t for t in terms if len(t) > longest]
    if long:
        raise InvalidRule(f"{long[0][:40]!r}... is longer than a rule's term may be "
                          f"({longest} characters).")  # fmt: skip
    return terms


def squeeze(text: str) -> str:
    """Text as a text condition compares it: case and spaces ignored (a reader may read
    "No  Smoking" or "NoSmoking" for the same sign)."""
    return "".join(text.split()).casefold()


def parse_floor(value) -> float | None:
    if value is None:
        return None
    try:
        floor = float(value)
    except (TypeError, ValueError):
        raise InvalidRule(
            f"`min_confidence` must be a number from 0 to 1, not {value!r}."
        ) from None
    if not 0 <= floor <= 1:
        raise InvalidRule(f"`min_confidence` must be from 0 to 1, not {floor:g}.")
    return floor


@dataclass(frozen=True)
class Rule:
    """What a photo must (accept) or must not (reject) show, the text it must show (text) or
    must not (reject_text), and how sure the model must be (min_confidence; None: the
    service's own floor)."""

    accept: tuple[str, ...] = ()
    reject: tuple[str, ...] = ()
    min_confidence: float | None = None
    text: tuple[str, ...] = ()
    reject_text: tuple[str, ...] = ()

    @property
    def reads_text(self) -> bool:
        """The rule needs the text in the photo read."""
        return bool(self.text or self.reject_text)

    @classmethod
    def parse(cls, data: Mapping) -> "Rule":
        """A rule from JSON or a query string's fields; InvalidRule for anything else."""
        if not isinstance(data, Mapping):
            raise InvalidRule('A rule is a JSON object: {"accept": [...], "reject": [...]}.')
        unknown = [k for k in data if k not in FIELDS]
        if unknown:
            raise InvalidRule(
                f"A rule has no field {unknown[0]!r}; its fields: {', '.join(FIELDS)}."
            )
        rule = cls(
            parse_terms(data.get("accept"), "accept"),
            parse_terms(data.get("reject"), "reject"),
            parse_floor(data.get("min_confidence")),
            parse_terms(data.get("text"), "text", TEXT_CHARS),
            parse_terms(data.get("reject_text"), "reject_text", TEXT_CHARS),
        )
        if not (rule.accept or rule.reject or rule.reads_text):
            raise InvalidRule("A rule needs at least one label or group to accept or to reject, "
                              "or a text to require or reject.")  # fmt: skip
        if any(not squeeze(t) for t in rule.text + rule.reject_text):
            raise InvalidRule("A text condition needs a letter or a character, not only spaces.")
        return rule

    def with_floor(self, floor: float | None) -> "Rule":
        """This rule with another floor (None: keep its own)."""
        return self if floor is None else replace(self, min_confidence=floor)

    def to_dict(self) -> dict:
        return {"accept": list(self.accept), "reject": list(self.reject),
                "text": list(self.text), "reject_text": list(self.reject_text),
                "min_confidence": self.min_confidence}  # fmt: skip


# --- what the model can see ---------------------------------------------------------------------
@dataclass(frozen=True)
class Term:
    """A rule's term resolved against a model: its classes and its name in each language."""

    names: Mapping[str, str]
    members: np.ndarray  # class indices

    def name(self, lang: str) -> str:
        return self.names.get(lang) or self.names["en"]


@dataclass(frozen=True)
class Vocabulary:
    """A model's labels in each language ("en" always) and its groups."""

    labels: Mapping[str, Sequence[str]]
    groups: tuple[Group, ...] = ()
    _index: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, spec: "ModelSpec") -> "Vocabulary":
        labels = {"en": spec.labels, **{lang: spec.labels_in(lang) for lang in spec.languages}}
        return cls(labels, group_map(spec.groups) if spec.groups else ())

    def _names(self) -> dict[str, list[Term]]:
        """casefolded name -> the labels and groups of that name (built once)."""
        if not self._index:
            for i in range(len(self.labels["en"])):
                names = {lang: labels[i] for lang, labels in self.labels.items()}
                term = Term(names, np.asarray([i]))
                for name in set(names.values()):
                    self._index.setdefault(name.casefold(), []).append(term)
            for g in self.groups:
                term = Term({**g.names, "id": g.id}, g.members)
                for name in {g.id, *g.names.values()}:
                    self._index.setdefault(name.casefold(), []).append(term)
        return self._index

    def find(self, text: str) -> Term:
        """The labels and groups named `text` as one term (a label two classes share, such
        as ImageNet's two "crane"s, covers both); UnknownTerm when nothing has that name."""
        found = self._names().get(text.casefold())
        if not found:
            raise UnknownTerm(
                f"The model has no label or group named {text!r}.",
                hint="use a label as the service answers it, or a group (dog, cat, bird, ...)",
            )
        members = np.unique(np.concatenate([t.members for t in found]))
        return Term(found[0].names, members)


# --- the verdict --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    passed: bool
    label: str  # what decided it: the term that matched, else the top label
    confidence: float
    reason: str  # a sentence in the language asked for
    outcome: str  # accepted | rejected | not_sure | not_accepted (for programs to branch on)


def percent(p: float) -> str:
    return f"{p * 100:.1f}%"


def _either(names: Iterable[str], lang: str) -> str:
    names = list(names)
    if lang == "zh":
        return "或".join(f"“{n}”" for n in names)
    quoted = [f'"{n}"' for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def reason(outcome: str, lang: str, label: str, p: float, floor: float, wanted: str = "",
           only_rejects: bool = False) -> str:  # fmt: skip
    """The verdict's sentence, in Chinese or English."""
    pct, need = percent(p), f"{floor * 100:g}%"
    if lang == "zh":
        return {
            "accepted": f"通过：照片中是{label}（{pct}）"
            + ("，不在规则拒绝之列。" if only_rejects else "。"),
            "rejected": f"未通过：照片中是{label}（{pct}），规则拒绝这一类。",
            "not_sure": f"未通过：不确定照片中是什么；最可能的是{label}，"
            f"但只有{pct}（规则要求至少{need}）。",
            "not_accepted": f"未通过：照片中是{label}（{pct}），不是{wanted}。",
        }[outcome]
    return {
        "accepted": f"Passed: the photo shows {label} ({pct})"
        + (", which the rule does not reject." if only_rejects else "."),
        "rejected": f"Failed: the photo shows {label} ({pct}), which the rule rejects.",
        "not_sure": f"Failed: not sure what the photo shows; the best guess, {label}, is only "
        f"{pct} (the rule needs {need}).",
        "not_accepted": f"Failed: the photo shows {label} ({pct}), not {wanted}.",
    }[outcome]


def text_reason(outcome: str, lang: str, text: str) -> str:
    """The sentence of a verdict decided by text, in Chinese or English."""
    if lang == "zh":
        return {"text_rejected": f"未通过：照片中有文字“{text}”，规则拒绝这段文字。",
                "text_missing": f"未通过：照片中没有文字“{text}”。",
                "accepted_text": f"通过：照片中有文字“{text}”。",
                "accepted_no_text": f"通过：照片中没有文字“{text}”。"}[outcome]  # fmt: skip
    return {"text_rejected": f'Failed: the photo shows the text "{text}", which the rule rejects.',
            "text_missing": f'Failed: the photo does not show the text "{text}".',
            "accepted_text": f'Passed: the photo shows the text "{text}".',
            "accepted_no_text": f'Passed: the photo does not show the text "{text}".',
            }[outcome]  # fmt: skip


def text_verdict(rule: Rule, read: str, lang: str) -> "Verdict | None":
    """The verdict the rule's text conditions give on the text read in the photo (its lines
    joined), or None when they let the labels decide."""
    seen = squeeze(read)
    found = [t for t in rule.reject_text if squeeze(t) in seen]
    if found:
        return Verdict(False, found[0], 1.0, text_reason("text_rejected", lang, found[0]),
                       "text_rejected")  # fmt: skip
    missing = [t for t in rule.text if squeeze(t) not in seen]
    if missing:
        return Verdict(False, missing[0], 0.0, text_reason("text_missing", lang, missing[0]),
                       "text_missing")  # fmt: skip
    if rule.accept or rule.reject:
        return None
    why, named = ("accepted_text", rule.text[0]) if rule.text else ("accepted_no_text",
                                                                     rule.reject_text[0])
    return Verdict(True, named, 1.0, text_reason(why, lang, named), "accepted")


def resolve(rule: Rule, vocab: Vocabulary) -> tuple[list[Term], list[Term]]:
    """The rule's accept and reject terms on this model; UnknownTerm for the first it lacks
    (every term is checked, even when one would decide)."""
    return [vocab.find(t) for t in rule.accept], [vocab.find(t) for t in rule.reject]


def judge(rule: Rule, probs: np.ndarray, vocab: Vocabulary, lang: str, floor: float,
          text: str = "") -> Verdict:  # fmt: skip
    """The verdict on one photo's probabilities (the whole distribution, one row) under the rule,
    with `floor` the confidence a term needs (the rule's own min_confidence when it has one);
    `text`: the text read in the photo (its lines joined), for a rule's text conditions."""
    floor = rule.min_confidence if rule.min_confidence is not None else floor
    accept, reject = resolve(rule, vocab)
    if rule.reads_text and (decided := text_verdict(rule, text, lang)) is not None:
        return decided

    def best(terms: list[Term]) -> tuple[Term | None, float]:
        scored = [(t, float(probs[t.members].sum())) for t in terms]
        return max(scored, key=lambda s: s[1], default=(None, 0.0))

    def verdict(outcome: str, label: str, p: float, **extra) -> Verdict:
        passed = outcome == "accepted"
        return Verdict(passed, label, p, reason(outcome, lang, label, p, floor, **extra), outcome)

    term, p = best(reject)
    if term is not None and p >= floor:
        return verdict("rejected", term.name(lang), p)
    term, p = best(accept)
    if term is not None and p >= floor:
        return verdict("accepted", term.name(lang), p)
    top = int(np.argmax(probs))
    top_label = vocab.labels.get(lang, vocab.labels["en"])[top]
    top_p = float(probs[top])
    if top_p < floor:
        return verdict("not_sure", top_label, top_p)
    if accept:
        wanted = _either((t.name(lang) for t in accept), lang)
        return verdict("not_accepted", top_label, top_p, wanted=wanted)
    return verdict("accepted", top_label, top_p, only_rejects=True)
