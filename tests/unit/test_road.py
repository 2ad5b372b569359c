"""The road (road.py) on its own: a fake preparer and a fake backend, so what is tested is the
road's logic alone (chunks, per-row errors, the near-tie re-check, the batch contract, typed
backend failures, the top-k answer), driven by both drivers. No model, no image decoding."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import numpy as np
import pytest

from localvision.errors import CorruptImage, FileTooLarge, InferenceFailed
from localvision.prepare import Prepared
from localvision.results import Answer
from localvision.road import Item, Road, backend_failures, probabilities

pytestmark = pytest.mark.unit

LABELS = ("cat", "dog", "fox")
ANSWER = Answer(top_k=2, lang="en", min_confidence=0.5, groups=False)


@dataclass
class Spec:
    labels: tuple = LABELS
    groups: str | None = None

    def labels_in(self, lang):
        return {"zh": ("猫", "狗", "狐狸")}.get(lang, self.labels)


@dataclass
class Preparer:
    """A source is a class index (its array is that class's one-hot logits), b"bad" a damaged
    file; `near` sources decode "reduced" (a near-tie until decoded in full)."""

    near: set = field(default_factory=set)
    calls: list = field(default_factory=list)

    def prepare(self, source, exact=None):
        self.calls.append((source, exact))
        if source == b"bad":
            raise CorruptImage("damaged")
        if source in self.near and not exact:
            return Prepared(np.array([5.0, 5.0, 0.0]), recheck=source)
        logits = np.zeros(len(LABELS))
        logits[source] = 10.0
        return Prepared(logits)


def infer_with(seen: list):
    def infer(arrays):
        seen.append(len(arrays))
        return probabilities(Backend(), np.stack(arrays), len(LABELS), chunk=64)

    return infer


class Backend:
    def infer(self, batch):
        return np.asarray(batch)


def road(preparer=None, chunk=4, margin=0.1):
    return Road(preparer or Preparer(), Spec(), chunk=chunk, recheck_margin=margin)


def top(results):
    return [r.predictions[0].label if r.error is None else r.error.code for r in results]


def test_each_item_gets_its_answer_in_order_chunk_by_chunk():
    seen, chunks = [], []
    items = [Item(f"f{i}", i % 3) for i in range(10)]
    results = road(chunk=4).run(items, ANSWER, infer_with(seen), on_chunk=chunks.append)
    assert top(results) == [LABELS[i % 3] for i in range(10)]
    assert seen == [4, 4, 2] and [len(c) for c in chunks] == [4, 4, 2]
    assert [len(r.predictions) for r in results] == [2] * 10  # top_k
    assert not any(r.uncertain for r in results)


def test_a_bad_item_fails_only_its_own_row():
    seen = []
    items = [Item("a", 0), Item("b", b"bad"), Item("c", None, FileTooLarge("big")), Item("d", 1)]
    results = road().run(items, ANSWER, infer_with(seen))
    assert top(results) == ["cat", "corrupt_image", "file_too_large", "dog"]
    assert seen == [2]  # only the good rows reach the model


def test_a_chunk_of_only_bad_items_never_calls_the_model():
    seen = []
    results = road().run([Item("x", b"bad")], ANSWER, infer_with(seen))
    assert top(results) == ["corrupt_image"] and seen == []


def test_a_near_tie_from_a_reduced_decode_is_decoded_again_in_full():
    prep = Preparer(near={2})
    results = road(prep, margin=0.1).run([Item("a", 2), Item("b", 0)], ANSWER, infer_with([]))
    assert top(results) == ["fox", "cat"]  # the full decode's answer, not the tie's
    assert (2, True) in prep.calls and (0, True) not in prep.calls


def test_without_a_margin_nothing_is_decoded_again():
    prep = Preparer(near={2})
    results = road(prep, margin=0.0).run([Item("a", 2)], ANSWER, infer_with([]))
    assert results[0].uncertain  # the tie stands: 0.5 and 0.5, under the floor
    assert all(exact is not True for _, exact in prep.calls)


def test_both_drivers_give_the_same_answers():
    items = [Item(f"f{i}", i % 3) for i in range(7)] + [Item("bad", b"bad")]
    blocking = road().run(items, ANSWER, infer_with([]))

    async def drive():
        async def infer(arrays):
            return infer_with([])(arrays)

        async def run_jobs(jobs):
            return [job() for job in jobs]

        return await road().run_async(items, ANSWER, infer, run_jobs)

    driven = asyncio.run(drive())
    assert [r.to_dict() for r in driven] == [r.to_dict() for r in blocking]


def test_the_answer_is_in_the_language_asked_with_the_english_beside():
    zh = Answer(top_k=1, lang="zh", min_confidence=0.0, groups=False)
    (result,) = road().run([Item("a", 1)], zh, infer_with([]))
    assert (result.predictions[0].label, result.predictions[0].label_en) == ("狗", "dog")


@pytest.mark.parametrize(
    "logits, words",
    [(np.zeros((2, 2)), "shape (2, 2)"), (np.zeros((3, 3)), "shape (3, 3)")],
    ids=["too_few_classes", "too_many_rows"],
)
def test_a_backend_breaking_the_batch_contract_is_a_typed_failure(logits, words):
    class Wrong:
        def infer(self, batch):
            return logits

    with pytest.raises(InferenceFailed, match=words.replace("(", r"\(").replace(")", r"\)")):
        probabilities(Wrong(), np.zeros((2, 3)), len(LABELS), chunk=8)


def test_a_framework_exception_is_a_typed_failure_and_a_typed_error_passes():
    class Broken:
        def infer(self, batch):
            raise RuntimeError("[GENERAL_ERROR] oneDNN")

    with pytest.raises(InferenceFailed) as caught:
        probabilities(Broken(), np.zeros((2, 3)), len(LABELS), chunk=8)
    assert "RuntimeError: [GENERAL_ERROR] oneDNN" in caught.value.message
    with pytest.raises(CorruptImage), backend_failures("not this"):
        raise CorruptImage("its own")


def test_probabilities_are_computed_chunk_by_chunk_and_sum_to_one():
    calls = []

    class Counting:
        def infer(self, batch):
            calls.append(len(batch))
            return np.asarray(batch)

    probs = probabilities(Counting(), np.random.default_rng(0).normal(size=(5, 3)), 3, chunk=2)
    assert calls == [2, 2, 1] and np.allclose(probs.sum(axis=1), 1.0)
