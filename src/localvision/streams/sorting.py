"""Sort images into a folder per top label (`--sort-into OUT`): a hard link, a copy or a move,
never overwriting a different file.

Folder names are labels made safe on every filesystem a photo library lives on
(names.folder_name). A companion (our XMP sidecar) is written by files.atomic_copy: a fresh
temporary name, never one someone could have planted a link under.
"""

from __future__ import annotations

import errno
import filecmp
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ..errors import SortFailed
from ..files import atomic_copy
from ..names import folder_name
from ..results import NOT_SURE

# A hard link fails with these where the filesystem or the place cannot link: another
# filesystem (EXDEV), FAT/exFAT or a share without links (EPERM, ENOTSUP, EOPNOTSUPP, EMLINK).
_CANNOT_LINK = {errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK}


def folder_for(result, lang: str) -> str:
    """The folder an answered image goes to: its top label's, or "not sure" under the floor."""
    if result.uncertain:
        return folder_name(NOT_SURE.get(lang, NOT_SURE["en"]))
    return folder_name(result.predictions[0].label)


@dataclass(frozen=True)
class Placed:
    """Where an image (and its companions, e.g. its XMP sidecar) ended up, and how."""

    path: Path
    how: str  # "hard link", "symlink", "copy", "move" or "already there"


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b) or filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


def _free_name(folder: Path, source: Path, companions: list[tuple[Path, str]]):
    """The first name in `folder` for `source` (photo.jpg, photo (2).jpg, ...) where neither the
    image nor any companion would overwrite a different file. Returns (name, already_there)."""
    stem, suffix = source.stem, source.suffix
    n = 1
    while True:
        name = source.name if n == 1 else f"{stem} ({n}){suffix}"
        target = folder / name
        if not target.exists() and not target.is_symlink():
            if not any((folder / tail(name)).exists() for _, tail in companions):
                return name, False
        elif _same(source, target):
            return name, True
        n += 1


def _link_or_copy(source: Path, target: Path, mode: str) -> str:
    """Put `source` at `target`, which must not exist (O_EXCL semantics: a race never
    overwrites). mode: link (hard link, else a symlink), copy, or move (rename where it can)."""
    if mode in ("link", "move"):
        try:
            os.link(source, target)  # fails if target exists: never overwrites
            if mode == "move":
                source.unlink()
                return "move"
            return "hard link"
        except OSError as exc:
            if exc.errno not in _CANNOT_LINK:
                raise
        if mode == "link":
            # Another filesystem (or one without hard links): a symlink still costs no space;
            # a copy could fill a memory card without being asked.
            os.symlink(source.resolve(), target)
            return "symlink"
    with open(source, "rb") as src, open(target, "xb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    shutil.copystat(source, target)
    if mode == "move":
        source.unlink()
        return "move"
    return "copy"


Companions = Sequence[tuple[Path, Callable[[str], str]]]


def _companion(path: Path, target: Path, mode: str) -> None:
    """A companion (our sidecar) next to the placed image: replaced whole, as it is ours."""
    atomic_copy(path, target)
    if mode == "move":
        path.unlink()


def place(source: Path, out: Path, folder: str, mode: str, companions: Companions = ()) -> Placed:
    """Put `source` into out/folder by `mode`, and each companion (a path, and how its name
    follows the image's: name -> companion name) beside it: copied (moved with --move)."""
    companions = [(p, tail) for p, tail in companions if p.exists()]
    where = out / folder
    try:
        where.mkdir(parents=True, exist_ok=True)
        name, there = _free_name(where, source, companions)
        target = where / name
        if there:
            # the same bytes are there already: the move is done (unless it is this very file)
            if mode == "move" and source.resolve() != target.resolve():
                source.unlink()
            how = "already there"
        else:
            how = _link_or_copy(source, target, mode)
        for path, tail in companions:
            _companion(path, where / tail(name), mode)
        return Placed(target, how)
    except OSError as exc:
        raise SortFailed(
            f"Could not put {source} into {where}: {exc.strerror or exc}."
        ) from None
