"""Common groups of fine-grained classes: ImageNet has about 120 dog breeds and 60 birds, and a
person often wants "a dog" (狗) with the summed probability of all its breeds.

The map is data (models/imagenet_groups.json), generated from WordNet 3.0 hypernyms by
scripts/make_groups.py; each class is in at most one group.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

import numpy as np


@dataclass(frozen=True)
class Group:
    id: str
    names: dict  # language -> name, "en" always
    members: np.ndarray  # class indices


@functools.cache
def group_map(name: str) -> tuple[Group, ...]:
    """The groups of a label set ("imagenet")."""
    text = resources.files(__package__).joinpath(f"{name}_groups.json").read_text("utf-8")
    return tuple(
        Group(g["id"], {"en": g["en"], "zh": g["zh"]}, np.asarray(g["members"], np.int64))
        for g in json.loads(text)["groups"]
    )


def top_groups(probs: np.ndarray, groups: tuple[Group, ...], k: int) -> list[tuple[Group, float]]:
    """The k groups with the most probability (summed over their members), most first; groups
    with none left out."""
    sums = [(g, float(probs[g.members].sum())) for g in groups]
    sums = [(g, p) for g, p in sums if p > 0]
    sums.sort(key=lambda item: -item[1])
    return sums[:k]
