"""Training data: DATA (folders, ZIPs, CSVs) -> classes, a train/val split, the skipped files.

    load_dataset(sources, seed=, val_fraction=, workdir=) -> Dataset

A source is one of
- a folder in the ImageFolder layout: one sub-folder per class (photos may sit in deeper
  sub-folders of a class); or `train/` and `val/` (also `valid/`, `validation/`) sub-folders,
  each such a folder, used as given (a `test/` beside them is left alone);
- a `.zip` of such a folder (extracted into `workdir` with limits; a single folder wrapping the
  classes, as zipping a folder makes, is looked into);
- a `.csv` of `path,label` rows (paths relative to the CSV's folder; a `path,label` header
  allowed).

Several sources merge by normalised class name (`normalise`), so the Teach page's corrections
join a folder's classes. Files and folders whose name starts with "." are not the user's photos
(the Teach store's `.<id>.json` sidecars, `.DS_Store`) and are ignored, as are files beside the
class folders (the Teach store's project.json). Every other file is checked with the road's own
decoder (imaging.open_image, decode_picture); one that does not decode is skipped with its
reason code and reported. The check is cheap where it can be (`check_image`: the header, and a
real decode only for a file that does not end whole), in a thread pool as the road decodes.

Refusals (errors.DatasetInvalid and its subclasses), in this order: dataset_not_found,
dataset_no_images, dataset_duplicate_classes, dataset_one_class,
dataset_more_classes_than_images, dataset_empty_class, dataset_class_too_small. Each message
names the classes and the numbers.
"""

from __future__ import annotations

import csv
import os
import random
import re
import shutil
import tempfile
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..archive import entries, is_zip, open_zip, read_chunks
from ..errors import (
    ArchiveTooLarge,
    DatasetClassTooSmall,
    DatasetDuplicateClasses,
    DatasetEmptyClass,
    DatasetInvalid,
    DatasetMoreClassesThanImages,
    DatasetNoImages,
    DatasetNotFound,
    DatasetOneClass,
    InvalidArchive,
    InvalidArgument,
    LocalVisionError,
)
from ..imaging import MB, decode_picture, open_image, read_source
from ..inputs import files_in, images_in

# The folder names of a given split (compared case-insensitively). Roboflow exports say "valid".
TRAIN_DIRS = ("train",)
VAL_DIRS = ("val", "valid", "validation")
# Files beside the class folders are not in a class; if they look like photos, the refusal says
# that they need class folders (the Teach store's project.json is not a photo).
# Limits on one training ZIP. Far above an upload's (max_zip_members, max_zip_mb: a few thousand
# photos is a normal training set), and the free space of `workdir` caps the total as well.
ZIP_MAX_MEMBERS = 200_000
ZIP_MAX_BYTES = 32 * 1024 * MB
ZIP_MAX_MEMBER_BYTES = 256 * MB  # a 50 MP uncompressed TIFF is 150 MB
# Left free on the disk that a ZIP is extracted to.
DISK_RESERVE = 512 * MB

# Reason codes of skipped files besides the decoder's error codes (unsupported_format,
# corrupt_image, empty_file, image_too_large, file_not_found ...).
# A ZIP member archive.py refuses is skipped with its error's code (unsupported_format for a
# link, encrypted_member, nested_archive, archive_too_large, file_too_large, corrupt_image).
UNSAFE_PATH = "unsafe_path"  # a ZIP member named ../x, /x or C:\x (zip-slip)
DAMAGED_MEMBER = "corrupt_image"
INVALID_ROW = "invalid_row"  # a CSV row without a path or a label


@dataclass(frozen=True)
class Sample:
    path: Path  # an image file on disk (a ZIP is extracted to a temporary folder first)
    label: int  # index into Dataset.classes


@dataclass
class Dataset:
    classes: tuple[str, ...]  # class names as the user wrote them (folder names), sorted
    train: list[Sample]
    val: list[Sample]
    skipped: list[tuple[str, str]]  # (file, reason code) for unreadable files: counted, reported
    split: str  # "given" (train/ and val/ folders) or "stratified"

    def counts(self) -> dict[str, dict[str, int]]:
        """class -> {"train": n, "val": n}."""
        out = {name: {"train": 0, "val": 0} for name in self.classes}
        for part, samples in (("train", self.train), ("val", self.val)):
            for s in samples:
                out[self.classes[s.label]][part] += 1
        return out


def normalise(name: str) -> str:
    """The form two class names are compared in: Unicode NFKC (full-width letters become
    ordinary ones), stripped, case-folded, runs of whitespace, "_" and "-" as one space.
    "Cat", "cat " and "ＣＡＴ" are the same class; so are "golden_retriever" and "Golden Retriever"."""
    text = unicodedata.normalize("NFKC", name).strip().casefold()
    return re.sub(r"[\s_\-]+", " ", text).strip()


# --- what the sources hold, before anything is decoded -----------------------------------------
@dataclass
class _Candidate:
    path: Path  # on disk
    shown: str  # how the report names it (a ZIP member: archive.zip/cat/x.jpg)
    cls: str  # the class name as written
    part: str | None  # "train" | "val" for a given split, None to be split here
    source: int = 0  # which source it came from (the split orders by source, then name)


@dataclass
class _Scan:
    """One source's files, its class names per part (to find duplicates, and classes whose
    folder holds nothing), and what was skipped before decoding."""

    source: str
    candidates: list[_Candidate] = field(default_factory=list)
    names: dict[str | None, list[str]] = field(default_factory=lambda: defaultdict(list))
    skipped: list[tuple[str, str]] = field(default_factory=list)
    loose: int = 0  # files beside the class folders (not in any class)


def _hidden(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def _files(folder: Path) -> list[Path]:
    """The files under a class folder, hidden ones and those in hidden folders left out."""
    return files_in(folder, hidden=False)


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not _hidden(p.name))


def _image_folder(scan: _Scan, root: Path, part: str | None, shown_root: str, base: Path) -> None:
    scan.loose += len(images_in(root, recursive=False, hidden=False))
    for cls_dir in _subdirs(root):
        scan.names[part].append(cls_dir.name)
        for path in _files(cls_dir):
            shown = str(Path(shown_root) / path.relative_to(base))
            scan.candidates.append(_Candidate(path, shown, cls_dir.name, part))


def _split_dirs(root: Path) -> tuple[Path | None, Path | None]:
    by_name = {p.name.casefold(): p for p in _subdirs(root)}
    train = next((by_name[n] for n in TRAIN_DIRS if n in by_name), None)
    val = next((by_name[n] for n in VAL_DIRS if n in by_name), None)
    return train, val


def _scan_folder(scan: _Scan, root: Path, shown_root: str, base: Path) -> None:
    """base: what the shown names are relative to (shown_root stands for it)."""
    train, val = _split_dirs(root)
    if train is None:
        _image_folder(scan, root, None, shown_root, base)
        return
    # train/ alone: its photos are split here; train/ + val/: used as given
    _image_folder(scan, train, "train" if val is not None else None, shown_root, base)
    if val is not None:
        _image_folder(scan, val, "val", shown_root, base)


def _scan_csv(scan: _Scan, path: Path) -> None:
    try:
        text = path.read_text("utf-8-sig")  # Excel writes a BOM
    except UnicodeDecodeError:
        raise DatasetInvalid(f"{path} is not a UTF-8 text file; a CSV of path,label is.") from None
    except OSError as exc:
        raise DatasetNotFound(f"Cannot read {path}: {exc.strerror or exc}") from None
    rows = list(enumerate(csv.reader(text.splitlines()), start=1))  # (line number, row)
    if rows and [c.strip().casefold() for c in rows[0][1][:2]] == ["path", "label"]:
        rows = rows[1:]
    seen: set[str] = set()
    for n, row in rows:
        if not row or not "".join(row).strip():
            continue
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            scan.skipped.append((f"{path.name}:{n}", INVALID_ROW))
            continue
        file, label = row[0].strip(), row[1].strip()
        if label not in seen:
            seen.add(label)
            scan.names[None].append(label)
        full = Path(file) if Path(file).is_absolute() else path.parent / file
        scan.candidates.append(_Candidate(full, file, label, None))
    if not rows:
        raise DatasetNoImages(f"{path} lists no images; write one path,label row per image.")


# --- ZIP ---------------------------------------------------------------------------------------
def _member_parts(name: str) -> list[str] | None:
    """A member name's path parts, or None for a name that would land outside the folder it is
    extracted to (absolute, a drive, "..", a NUL): zip-slip."""
    if "\x00" in name or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return None
    parts = [p for p in re.split(r"[\\/]+", name) if p not in ("", ".")]
    if any(p == ".." for p in parts):
        return None
    return parts


def _extract(archive: Path, workdir: Path, scan: _Scan) -> Path:
    """Extract a training ZIP's image members into a new folder under workdir (never outside it),
    by the one ZIP policy (archive.py: names, links, encryption, bombs, nested archives, limits);
    a member it refuses is skipped with its error's code. Returns the folder."""
    try:
        zf = open_zip(archive)
    except InvalidArchive:
        raise DatasetInvalid(f"{archive} is not a readable ZIP archive.") from None
    workdir.mkdir(parents=True, exist_ok=True)
    dest = Path(tempfile.mkdtemp(prefix="zip-", dir=workdir)).resolve()
    budget = min(ZIP_MAX_BYTES, shutil.disk_usage(dest).free - DISK_RESERVE)
    try:
        with zf:
            _extract_all(zf, archive, dest, scan, budget)
    except (InvalidArchive, ArchiveTooLarge, DatasetInvalid) as exc:  # the whole archive's
        shutil.rmtree(dest, ignore_errors=True)  # a refused ZIP leaves nothing behind
        if isinstance(exc, DatasetInvalid):
            raise
        raise DatasetInvalid(f"{archive}: {exc.message}") from None
    return dest


def _extract_all(zf, archive: Path, dest: Path, scan: _Scan, budget: int) -> None:
    total = 0
    for entry in entries(zf, ZIP_MAX_MEMBERS):
        shown = f"{archive.name}/{entry.name}"
        parts = _member_parts(entry.name)
        if parts is None:
            scan.skipped.append((shown, UNSAFE_PATH))
            continue
        if not parts or any(_hidden(p) for p in parts):
            continue
        if entry.refusal is not None:
            scan.skipped.append((shown, entry.refusal.code))
            continue
        reason, size = _extract_member(zf, entry.info, dest, parts, budget - total)
        total += size
        if reason:
            scan.skipped.append((shown, reason))


def _extract_member(zf, info, dest: Path, parts: list[str], budget: int) -> tuple[str | None, int]:
    """Write one member to its place under dest; (the reason it was skipped, bytes written)."""
    target = dest.joinpath(*parts)
    if not target.resolve().is_relative_to(dest):  # belt and braces after _member_parts
        return UNSAFE_PATH, 0
    size = 0
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "xb") as out:
            for chunk in read_chunks(zf, info, ZIP_MAX_MEMBER_BYTES, budget):
                size += len(chunk)
                out.write(chunk)
    except ArchiveTooLarge:
        raise DatasetInvalid(
            f"{zf.filename} expands to more than {max(budget, 0) / MB / 1024:.1f} GB "
            "(the limit, or the free disk space where it is extracted)."
        ) from None
    except FileExistsError:  # the same name twice in one ZIP: the first one stays
        return UNSAFE_PATH, 0
    except LocalVisionError as exc:  # too large, nested, damaged: this member's own refusal
        target.unlink(missing_ok=True)
        return exc.code, size
    except OSError:  # a file where a folder must go...
        target.unlink(missing_ok=True)
        return DAMAGED_MEMBER, size
    return None, size


def _zip_root(folder: Path) -> Path:
    """Where the classes start in an extracted ZIP: zipping a folder `pets/` gives pets/cat/...,
    so a lone folder that holds folders (and no files) is looked into."""
    while True:
        dirs = _subdirs(folder)
        loose = [p for p in folder.iterdir() if p.is_file() and not _hidden(p.name)]
        if len(dirs) == 1 and not loose and _subdirs(dirs[0]) and not _split_dirs(folder)[0]:
            folder = dirs[0]
        else:
            return folder


def _scan(source: Path, workdir: Path) -> _Scan:
    try:
        return _scan_source(source, workdir)
    except OSError as exc:  # a folder we may not list, a disk that went away
        where = exc.filename or source
        raise DatasetNotFound(f"Cannot read {where}: {exc.strerror or exc}") from None


def _scan_source(source: Path, workdir: Path) -> _Scan:
    scan = _Scan(str(source))
    if source.is_dir():
        _scan_folder(scan, source, str(source), source)
    elif source.is_file() and source.suffix.casefold() == ".csv":
        _scan_csv(scan, source)
    elif source.is_file() and (source.suffix.casefold() == ".zip" or _starts_zip(source)):
        dest = _extract(source, workdir, scan)
        # the report names members by their place in the archive, not the temporary folder
        _scan_folder(scan, _zip_root(dest), source.name, dest)
    elif source.exists():
        raise DatasetNotFound(
            f"{source} is not a folder, a ZIP or a CSV: give a folder with one sub-folder per "
            "class, a ZIP of one, or a CSV of path,label."
        )
    else:
        raise DatasetNotFound(f"No such folder or file: {source}")
    return scan


def _starts_zip(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return is_zip(f.read(4))
    except OSError:
        return False


# --- decoding ----------------------------------------------------------------------------------
def check_image(path: Path, max_pixels: int) -> str | None:
    """None if the file is an image the road can decode, else the reason code.

    The header is always read (imaging.open_image: the format from the content, the pixel
    limit). A JPEG, PNG or WebP whose last bytes show it is whole (JPEG's end-of-image marker,
    PNG's IEND chunk, the RIFF size) is taken on that: about 0.3 ms, where decoding a 12 MP
    JPEG costs 17 ms even at 1/8 scale (75 ms in full). Anything else (a truncated file,
    another format, data after the end marker) is decoded for real, at 1/8 scale for a JPEG,
    which still reads every byte. Damage inside a file that ends well is found when training
    decodes it, and that file is then skipped there."""
    try:
        data = read_source(path)
        img = open_image(data, max_pixels=max_pixels)
        if _ends_whole(img.format, data):
            return None
        decode_picture(data, max_pixels=max_pixels, draft_min_side=1)
    except LocalVisionError as exc:
        return exc.code
    except Exception:  # an odd file tripping Pillow fails only itself, as on the road
        return DAMAGED_MEMBER
    return None


def _ends_whole(fmt: str | None, data: bytes) -> bool:
    if fmt in ("JPEG", "MPO"):
        return data.rstrip(b"\0\r\n ")[-2:] == b"\xff\xd9"  # some writers pad after EOI
    if fmt == "PNG":
        return data.endswith(b"IEND\xaeB`\x82")
    if fmt == "WEBP":
        return int.from_bytes(data[4:8], "little") + 8 == len(data)
    return False


def _check_all(paths: list[Path], max_pixels: int, workers: int | None) -> list[str | None]:
    workers = workers or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:  # Pillow releases the GIL
        return list(pool.map(lambda p: check_image(p, max_pixels), paths))


# --- the dataset -------------------------------------------------------------------------------
def load_dataset(
    sources: Sequence[Path],
    *,
    seed: int,
    val_fraction: float,
    workdir: Path,
    max_pixels: int | None = None,
    workers: int | None = None,
) -> Dataset:
    """Read the sources, check every image, refuse what cannot be trained on, split.

    A ZIP is extracted into a new folder under `workdir`, where its samples' paths point: the
    caller keeps workdir until training is done, then removes it.

    max_pixels: the decoder's limit (the max_pixels setting when None); workers: threads that
    check images (as many as the road uses when None)."""
    if not 0 < val_fraction < 1:
        raise InvalidArgument(
            f"The validation fraction must be between 0 and 1, not {val_fraction}."
        )
    if max_pixels is None:
        from ..config import Settings

        max_pixels = Settings().max_pixels
    if not sources:
        raise DatasetNotFound("No training data was given.")
    scans = [_scan(Path(s), Path(workdir)) for s in sources]
    for i, scan in enumerate(scans):
        for c in scan.candidates:
            c.source = i
    candidates = [c for s in scans for c in s.candidates]
    skipped = [x for s in scans for x in s.skipped]
    reasons = _check_all([c.path for c in candidates], max_pixels, workers)
    usable = []
    for c, reason in zip(candidates, reasons):
        if reason is None:
            usable.append(c)
        else:
            skipped.append((c.shown, reason))
    if not usable:
        raise DatasetNoImages(_no_images(scans, len(candidates), skipped))
    classes, index = _classes(scans)
    by_class: dict[int, list[_Candidate]] = defaultdict(list)
    for c in usable:
        by_class[index[normalise(c.cls)]].append(c)
    _refusals(classes, by_class)
    train, val = _split(classes, by_class, seed, val_fraction)
    given = all(c.part is not None for c in usable)
    return Dataset(classes, train, val, skipped, "given" if given else "stratified")


def _no_images(scans: list[_Scan], tried: int, skipped: list) -> str:
    where = ", ".join(s.source for s in scans)
    if tried:
        return f"None of the {tried} files in {where} is a readable image ({len(skipped)} skipped)."
    loose = sum(s.loose for s in scans)
    if loose:
        return (
            f"{where} has {loose} files but no class folders: put each class's photos in a "
            "sub-folder named after the class."
        )
    return (
        f"{where} holds no images: put each class's photos in a sub-folder named after the class."
    )


def _classes(scans: list[_Scan]) -> tuple[tuple[str, ...], dict[str, int]]:
    """The classes (the first spelling of each normalised name, sorted) and normalised name ->
    index. Two spellings of one name within one part (train/, val/ or all) of one source are a
    refusal; in different sources (a folder and the Teach page's corrections) one class."""
    first: dict[str, str] = {}
    clashes = []
    for scan in scans:
        for part, names in scan.names.items():
            mine: dict[str, str] = {}
            for name in names:
                key = normalise(name)
                if key in mine and mine[key] != name:
                    clashes.append(f'"{mine[key]}" and "{name}" in {scan.source}')
                mine.setdefault(key, name)
                first.setdefault(key, name)
    if clashes:
        raise DatasetDuplicateClasses(
            'These class names are the same apart from capitals, spaces, "_" or "-": '
            + "; ".join(clashes)
            + ". Merge them or rename one."
        )
    classes = tuple(sorted(first.values()))
    index = {normalise(name): i for i, name in enumerate(classes)}
    return classes, index


def _listing(names: Iterable[str], limit: int = 10) -> str:
    names = list(names)
    shown = ", ".join(f'"{n}"' for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _of(some: list, classes: tuple) -> str:
    """ "1 of 4 classes has" / "2 of 4 classes have"."""
    return f"{len(some)} of {len(classes)} classes " + ("has" if len(some) == 1 else "have")


def _refusals(classes: tuple[str, ...], by_class: dict[int, list]) -> None:
    n_images = sum(len(v) for v in by_class.values())
    if len(classes) == 1:
        raise DatasetOneClass(
            f'Only one class was found ("{classes[0]}", {_plural(n_images, "image")}); '
            "training needs at least two."
        )
    if len(classes) > n_images:
        raise DatasetMoreClassesThanImages(
            f"{len(classes)} classes but only {_plural(n_images, 'readable image')}; "
            "every class needs at least 2."
        )
    empty = [name for i, name in enumerate(classes) if not by_class.get(i)]
    if empty:
        raise DatasetEmptyClass(f"{_of(empty, classes)} no readable image: {_listing(empty)}.")
    # a given split: a class must have something to learn from in train/
    no_train = [
        name for i, name in enumerate(classes)
        if all(c.part == "val" for c in by_class[i])
    ]  # fmt: skip
    if no_train:
        raise DatasetEmptyClass(
            f"{_of(no_train, classes)} no readable image in train/ "
            f"(only in val/): {_listing(no_train)}."
        )
    small = [(name, len(by_class[i])) for i, name in enumerate(classes) if len(by_class[i]) < 2]
    if small:
        listed = _listing(f"{n}: {k}" for n, k in small).replace('"', "")
        raise DatasetClassTooSmall(
            f"{_of(small, classes)} fewer than 2 readable images "
            f"({listed}); each class needs one to train on and one to validate with."
        )


def _split(classes, by_class, seed: int, val_fraction: float) -> tuple[list, list]:
    """The given parts as they are; the rest split per class with a generator seeded by (seed,
    class), so adding a class does not move another's photos, at least 1 val and 1 train each
    (counting given ones)."""
    train: list[Sample] = []
    val: list[Sample] = []
    for label, name in enumerate(classes):
        items = by_class[label]
        given_train = [c for c in items if c.part == "train"]
        given_val = [c for c in items if c.part == "val"]
        # by the names the user sees, never by where a ZIP happened to be extracted to
        pool = sorted((c for c in items if c.part is None), key=lambda c: (c.source, c.shown))
        random.Random(f"{seed}/{normalise(name)}").shuffle(pool)
        k = int(len(pool) * val_fraction + 0.5)
        low = 0 if given_val else 1
        high = len(pool) - (0 if given_train else 1)
        k = max(low, min(k, high)) if pool else 0
        val += [Sample(c.path, label) for c in given_val + pool[:k]]
        train += [Sample(c.path, label) for c in given_train + pool[k:]]
    return train, val
