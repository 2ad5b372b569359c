"""Finding the input files a person names: a file as given, a folder's images, a glob's matches.

One place for which names are images (imaging.IMAGE_SUFFIXES) and which files are never the
user's (hidden ones, macOS's __MACOSX forks), so that classify, watch, the export's calibration
and training look for the same files. A file named directly is not judged by its name: it is
decoded by its content, like any file a person chose.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

from .imaging import IMAGE_SUFFIXES


def is_image_name(path: str | os.PathLike) -> bool:
    """Whether a file is named like an image (its suffix, in any case)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def is_hidden(name: str) -> bool:
    """A hidden file or folder, or macOS's resource forks: never a person's photo."""
    return name.startswith(".") or name == "__MACOSX"


def files_in(folder: str | os.PathLike, recursive: bool = True, hidden: bool = True) -> list[Path]:
    """The files in `folder` (and its subfolders, when recursive), sorted by path; without
    `hidden`, hidden files are left out and hidden folders not entered. A link to a file counts
    as a file; links to folders are not followed (a loop could walk for ever)."""
    found: list[str] = []
    for top, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if hidden or not is_hidden(d)] if recursive else []
        paths = (os.path.join(top, f) for f in files if hidden or not is_hidden(f))
        found += [p for p in paths if os.path.isfile(p)]  # not a broken link or a socket
    return [Path(p) for p in sorted(found)]


def images_in(
    folder: str | os.PathLike, recursive: bool = True, hidden: bool = True
) -> list[Path]:
    """The files in `folder` named like images (files_in, filtered by name)."""
    return [p for p in files_in(folder, recursive, hidden) if is_image_name(p)]


@dataclass
class Found:
    """What the PATHs name, in order: files as given, a directory's files, a glob's matches.
    `skipped`: files met in a directory whose names are not an image's (never read)."""

    paths: list[str] = field(default_factory=list)
    skipped: set[str] = field(default_factory=set)

    @property
    def images(self) -> list[str]:
        return [p for p in self.paths if p not in self.skipped]


def expand_paths(paths: list[str], recursive: bool) -> Found:
    """Files as given; directories to their files (those not named like images are skipped);
    globs expanded. A path that matches nothing is kept, so it gets its own 'file not found'
    row; so is a file named directly, whatever its name (it is decoded by its content)."""
    found = Found()
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for f in map(str, files_in(p, recursive)):
                found.paths.append(f)
                if not is_image_name(f):
                    found.skipped.add(f)
        elif not p.exists() and glob.has_magic(raw):
            matches = sorted(glob.glob(raw, recursive=recursive))
            found.paths += [m for m in matches if Path(m).is_file()] or [raw]
        else:
            found.paths.append(raw)
    return found
