"""Label sets: a model's class names in class-index order, per language, and reading a user's
label file.

A label file is one of:
- plain text, one label per line (blank lines and a trailing newline ignored): English, or the
  one language the user has;
- JSON, index -> label (`{"0": "cat", "1": "dog"}`, every index from 0 present once);
- JSON, language -> list (`{"en": [...], "zh": [...]}`), every list as long as the others.
It is checked against the model's number of classes, with an error that names both counts.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Mapping

from ..errors import LabelsInvalid

LANGUAGES = ("en", "zh")  # the languages localvision ships labels and a UI for


def _bundled(name: str) -> tuple[str, ...]:
    text = resources.files(__package__).joinpath(name).read_text("utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def imagenet_labels() -> dict[str, tuple[str, ...]]:
    """ImageNet-1k in English (torchvision's meta["categories"]) and Chinese (ours: the names a
    Chinese speaker would use, reviewed in batches; models/imagenet_classes_zh.txt)."""
    return {"en": _bundled("imagenet_classes.txt"), "zh": _bundled("imagenet_classes_zh.txt")}


def read_label_file(path: Path | str, num_classes: int | None = None) -> dict[str, tuple[str, ...]]:
    """A label file (see the module docstring) as {language: labels}."""
    path = Path(path).expanduser()
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelsInvalid(f"Cannot read the label file {path}: {exc}.") from None
    sets = _parse(text, path)
    return check_labels(sets, num_classes, str(path))


def _parse(text: str, path: Path) -> dict[str, tuple[str, ...]]:
    stripped = text.lstrip()
    if not stripped.startswith(("{", "[")):
        return {"en": tuple(line.strip() for line in text.splitlines() if line.strip())}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise LabelsInvalid(f"{path} is not valid JSON ({exc}).") from None
    if isinstance(data, list):
        return {"en": tuple(str(x) for x in data)}
    if not isinstance(data, dict) or not data:
        raise LabelsInvalid(f"{path} must map indices to labels, or languages to label lists.")
    if all(isinstance(v, list) for v in data.values()):
        return {str(lang): tuple(str(x) for x in labels) for lang, labels in data.items()}
    try:
        by_index = {int(k): str(v) for k, v in data.items()}
    except (TypeError, ValueError):
        raise LabelsInvalid(
            f"{path}: keys must all be class indices (\"0\", \"1\", ...) or all be languages."
        ) from None
    if sorted(by_index) != list(range(len(by_index))):
        raise LabelsInvalid(f"{path}: the indices must run from 0 to {len(by_index) - 1}, once each.")
    return {"en": tuple(by_index[i] for i in range(len(by_index)))}


def check_labels(
    sets: Mapping[str, tuple[str, ...]], num_classes: int | None, where: str
) -> dict[str, tuple[str, ...]]:
    """Every language as long as the model has classes; no empty label."""
    sets = {lang: tuple(labels) for lang, labels in sets.items()}
    for lang, labels in sets.items():
        if num_classes is not None and len(labels) != num_classes:
            raise LabelsInvalid(
                f"{where} has {len(labels)} labels ({lang}); the model has {num_classes} classes."
            )
        if any(not label.strip() for label in labels):
            raise LabelsInvalid(f"{where} has an empty label ({lang}).")
    lengths = {len(labels) for labels in sets.values()}
    if len(lengths) > 1:
        raise LabelsInvalid(f"{where}: the languages have different numbers of labels ({lengths}).")
    if "en" not in sets:  # a label set in one other language stands in for English too
        sets = {"en": next(iter(sets.values())), **sets}
    return sets
