"""inputs.py: the one finder of input files, shared by classify, watch, the export's calibration
and training: which names are images, which files are hidden, folders and globs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from localvision.imaging import IMAGE_SUFFIXES
from localvision.inputs import expand_paths, files_in, images_in, is_hidden, is_image_name

pytestmark = pytest.mark.unit


@pytest.fixture
def tree(tmp_path) -> Path:
    """a.jpg, B.JFIF, notes.txt, .hidden.jpg, sub/c.png, sub/d.txt, .cache/e.jpg, __MACOSX/f.jpg,
    and a link that points nowhere (not a file)."""
    for name in ("a.jpg", "B.JFIF", "notes.txt", ".hidden.jpg", "sub/c.png", "sub/d.txt",
                 ".cache/e.jpg", "__MACOSX/f.jpg"):  # fmt: skip
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    os.symlink(tmp_path / "gone.jpg", tmp_path / "broken.jpg")
    return tmp_path


def names(paths, root) -> list[str]:
    return [Path(p).relative_to(root).as_posix() for p in paths]


def test_image_names_are_the_one_list_in_any_case():
    assert all(is_image_name(f"photo{s.upper()}") for s in IMAGE_SUFFIXES)
    assert is_image_name("x.jfif") and not is_image_name("x.txt") and not is_image_name("jpg")
    assert is_hidden(".DS_Store") and is_hidden("__MACOSX") and not is_hidden("a.jpg")


def test_files_in_a_folder_sorted_with_or_without_hidden_ones(tree):
    assert names(files_in(tree), tree) == [
        ".cache/e.jpg", ".hidden.jpg", "B.JFIF", "__MACOSX/f.jpg", "a.jpg", "notes.txt",
        "sub/c.png", "sub/d.txt",
    ]  # fmt: skip
    assert names(files_in(tree, hidden=False), tree) == [
        "B.JFIF", "a.jpg", "notes.txt", "sub/c.png", "sub/d.txt",
    ]  # fmt: skip
    assert names(files_in(tree, recursive=False, hidden=False), tree) == [
        "B.JFIF", "a.jpg", "notes.txt",
    ]  # fmt: skip


def test_images_in_a_folder_are_its_files_named_like_images(tree):
    assert names(images_in(tree, hidden=False), tree) == ["B.JFIF", "a.jpg", "sub/c.png"]
    assert names(images_in(tree, recursive=False), tree) == [".hidden.jpg", "B.JFIF", "a.jpg"]


def test_a_folder_on_the_command_line_is_its_files_with_the_others_skipped(tree):
    found = expand_paths([str(tree / "sub")], recursive=False)
    assert names(found.paths, tree) == ["sub/c.png", "sub/d.txt"]
    assert names(found.images, tree) == ["sub/c.png"]
    assert names(found.skipped, tree) == ["sub/d.txt"]


def test_files_named_directly_are_kept_as_given_in_order(tree):
    given = [str(tree / "notes.txt"), str(tree / "missing.jpg"), str(tree / "*.png")]
    found = expand_paths(given, recursive=False)
    assert found.paths == given  # read by content; missing and unmatched get their own rows
    assert not found.skipped
