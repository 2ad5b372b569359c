"""Names: the one check for the names people give (models, Teach projects, classes) and the one
way a label becomes a folder name.

    check_model_name(name)     a model's (and a Teach project's) name: a-z 0-9 _ - . only
    check_rule_name(name)      a saved judgement rule's name: the same characters
    check_folder_name(name)    any-script name that becomes a folder: not a path, not hidden,
                               no control characters, at most NAME_BYTES of UTF-8
    folder_name(label)         a label made safe as a folder on every common filesystem

Every place that takes such a name from a user (the store, the Teach routes and store, the
trainer, `models import`) checks it here, before anything is created: a name that the
filesystem would refuse half-way (`File name too long`) must be refused whole, with a typed
error, first.
"""

from __future__ import annotations

import re
import unicodedata

from .errors import InvalidClassName, InvalidModelName, InvalidRuleName

# The longest file name ext4, APFS, NTFS and exFAT all accept, in bytes of UTF-8 (NFC, as macOS
# stores names): about 85 Chinese characters, 63 emoji.
NAME_BYTES = 255
# A model's folder gets siblings named after it (".NAME.replaced", ".NAME-xxxxxxxx" while it is
# written), so its own name keeps room for those suffixes.
MODEL_NAME_BYTES = 200
MODEL_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-.")

_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
             *(f"lpt{i}" for i in range(1, 10))}  # fmt: skip


def check_model_name(name: str) -> str:
    """A model or Teach project name, as given; InvalidModelName (422) otherwise."""
    return _check_slug(name, "model", InvalidModelName)


def check_rule_name(name: str) -> str:
    """A saved judgement rule's name (a URL segment: /api/v1/rules/NAME, ?rule=NAME), as given;
    InvalidRuleName (422) otherwise."""
    return _check_slug(name, "rule", InvalidRuleName)


def _check_slug(name: str, what: str, error) -> str:
    """a-z 0-9 _ - . only, not starting with '.' or '-', at most MODEL_NAME_BYTES."""
    if not isinstance(name, str) or not name:
        raise error(f"A {what} needs a name.")
    if len(name) > MODEL_NAME_BYTES:
        raise error(f"A {what} name may have at most {MODEL_NAME_BYTES} characters.")
    if not set(name) <= MODEL_NAME_CHARS or name[0] in ".-":
        shown = name if len(name) <= 60 else name[:57] + "..."
        raise error(
            f"{shown!r} is not a {what} name: use lower-case letters, digits, '_', '-' and '.', "
            "not starting with '.' or '-'."
        )
    return name


def check_folder_name(name: str, what: str = "A class name", error=InvalidClassName) -> str:
    """A user's own words (any script) that become a folder's name: NFC, stripped; refused with
    `error` when empty, a path, hidden, with control characters, or longer than NAME_BYTES."""
    name = unicodedata.normalize("NFC", name or "").strip()
    if not name:
        raise error(f"{what} cannot be empty.")
    size = len(name.encode("utf-8"))
    if size > NAME_BYTES:
        raise error(
            f"{what} is too long: {size} bytes in UTF-8, and a folder name may have at most "
            f"{NAME_BYTES} (about 85 Chinese characters or 255 Latin letters)."
        )
    if "/" in name or "\\" in name or name.startswith("."):
        raise error(f"{name!r} cannot be used: it may not contain '/' or '\\' nor start with '.'.")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs") for ch in name):
        raise error(f"{name!r} cannot be used: it has control characters.")
    return name


def folder_name(label: str) -> str:
    """A label as a folder name that every common filesystem accepts (ext4, APFS, NTFS,
    exFAT/FAT32 on a memory card): the characters Windows forbids and control characters become
    "_", trailing dots and spaces go, Windows' reserved device names (CON, NUL, COM1...) get a
    "_", and the name is cut to NAME_BYTES of UTF-8 (NFC). Chinese stays Chinese."""
    name = unicodedata.normalize("NFC", label)
    name = _FORBIDDEN.sub("_", name).strip().rstrip(". ")
    if name.split(".")[0].lower() in _RESERVED:
        name += "_"
    while len(name.encode("utf-8")) > NAME_BYTES:
        name = name[:-1]
    return name.rstrip(". ") or "_"
