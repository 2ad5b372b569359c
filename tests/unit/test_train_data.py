"""training/dataset.py on real photos (tests/trainset.py): the layouts a user gives (a folder,
train/ + val/, a ZIP, a CSV, several merged), what is ignored and what is skipped, every refusal with its
code, the seeded stratified split, and ZIPs built to attack the extraction."""

from __future__ import annotations

import io
import shutil
import stat
import zipfile
from pathlib import Path

import pytest
from trainset import CLASSES, jpeg, make_trainset
from zips import gbk_zip

from localvision.errors import DatasetInvalid
from localvision.training.dataset import Dataset, load_dataset, normalise


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """The 4-class set (12 photos a class), made once; tests copy it before changing it."""
    root = tmp_path_factory.mktemp("trainset") / "data"
    make_trainset(root)
    return root


@pytest.fixture
def data(pristine, tmp_path) -> Path:
    """A copy of the set this test may change."""
    return Path(shutil.copytree(pristine, tmp_path / "data"))


def load(*sources, seed=0, val_fraction=0.2, workdir=None) -> Dataset:
    workdir = workdir or Path(sources[0]).parent / "work"
    return load_dataset(list(sources), seed=seed, val_fraction=val_fraction, workdir=workdir)


def names(samples, ds: Dataset) -> set[tuple[str, str]]:
    """(class, file name) of each sample: comparable across a folder, its ZIP and its CSV."""
    return {(ds.classes[s.label], s.path.name) for s in samples}


def truncated_jpeg(path: Path) -> bytes:
    return path.read_bytes()[: path.stat().st_size // 2]


# --- layouts -------------------------------------------------------------------------------------
def test_a_folder_of_class_folders(data):
    ds = load(data)
    assert ds.classes == tuple(sorted(CLASSES))
    assert ds.split == "stratified" and ds.skipped == []
    every = {(p.parent.name, p.name) for p in data.rglob("*.jpg")}
    assert names(ds.train, ds) | names(ds.val, ds) == every and len(every) == 48
    assert not names(ds.train, ds) & names(ds.val, ds)
    assert all(s.path.is_file() for s in ds.train + ds.val)
    # 12 a class, a fifth of it (2.4 -> 2) to validate
    assert ds.counts() == {c: {"train": 10, "val": 2} for c in CLASSES}


@pytest.mark.parametrize(
    "tail",
    [b"", b"\0\0\0\0", b"\r\n", b"ftypmp42" + bytes(4000)],
    ids=["plain", "zero-padded", "newline", "video-after-the-end"],  # the last: a Motion Photo
)
def test_whole_jpegs_are_readable_whatever_follows_their_end(data, tail):
    for p in (data / "people").glob("*.jpg"):
        p.write_bytes(p.read_bytes() + tail)
    ds = load(data)
    assert ds.skipped == [] and len(ds.train) + len(ds.val) == 48


def test_hidden_files_and_files_beside_the_classes_are_ignored(data):
    good = (data / "people").glob("*.jpg").__next__().read_bytes()
    (data / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (data / "project.json").write_text("{}")  # the Teach store's project file
    (data / "people" / ".0123456789abcdef.json").write_text("{}")  # a Teach sidecar
    (data / "people" / "._photo.jpg").write_bytes(b"\0\5\26\7")  # a macOS resource fork
    (data / ".hidden").mkdir()
    (data / ".hidden" / "a.jpg").write_bytes(good)
    (data / "texture" / ".thumbs").mkdir()
    (data / "texture" / ".thumbs" / "b.jpg").write_bytes(good)
    ds = load(data)
    assert ds.skipped == [] and len(ds.classes) == 4
    assert len(ds.train) + len(ds.val) == 48


def test_photos_in_deeper_folders_of_a_class_count_for_it(data):
    (data / "people" / "2023").mkdir()
    for p in list((data / "people").glob("*.jpg"))[:5]:
        p.rename(data / "people" / "2023" / p.name)
    ds = load(data)
    assert ds.counts()["people"] == {"train": 10, "val": 2}


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"just some notes\n", "unsupported_format"),  # a text file renamed .jpg
        ("truncated", "corrupt_image"),  # a JPEG cut in half
        (b"", "empty_file"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0", "corrupt_image"),  # a PNG cut in its header
    ],
    ids=["text", "truncated-jpeg", "empty", "broken-png-header"],
)
def test_unreadable_files_are_skipped_and_counted(data, content, reason):
    victim = min((data / "texture").glob("*.jpg"))
    if content == "truncated":
        content = truncated_jpeg(victim)
    bad = data / "texture" / "bad.jpg"
    bad.write_bytes(content)
    ds = load(data)
    assert ds.skipped == [(str(bad), reason)]
    assert bad not in {s.path for s in ds.train + ds.val}
    assert len(ds.train) + len(ds.val) == 48


def test_the_train_and_val_folders_are_used_as_given(data, tmp_path):
    split = tmp_path / "split"
    chosen = set()
    for cls in CLASSES:
        files = sorted((data / cls).glob("*.jpg"))
        (split / "train" / cls).mkdir(parents=True)
        (split / "val" / cls).mkdir(parents=True)
        for i, f in enumerate(files):
            part = "val" if i % 4 == 0 else "train"  # 3 of 12 each, whatever the seed says
            shutil.copy(f, split / part / cls / f.name)
            if part == "val":
                chosen.add((cls, f.name))
    (split / "test").mkdir()  # a test/ beside them is not training data
    shutil.copytree(data / "people", split / "test" / "people")
    for seed in (0, 1):
        ds = load(split, seed=seed)
        assert ds.split == "given" and ds.classes == tuple(sorted(CLASSES))
        assert names(ds.val, ds) == chosen
        assert all(s.path.parent.parent.name == "val" for s in ds.val)
        assert ds.counts() == {c: {"train": 9, "val": 3} for c in CLASSES}


@pytest.mark.parametrize("val_name", ["val", "valid", "Validation"])
def test_the_val_folder_may_have_other_names(data, tmp_path, val_name):
    split = tmp_path / "split"
    shutil.copytree(data, split / "train")
    (split / val_name / "people").mkdir(parents=True)
    moved = min((split / "train" / "people").glob("*.jpg"))
    moved.rename(split / val_name / "people" / moved.name)
    ds = load(split)
    assert ds.split == "given" and names(ds.val, ds) == {("people", moved.name)}


def test_a_train_folder_alone_is_split_here(data, tmp_path):
    shutil.copytree(data, tmp_path / "only" / "train")
    ds = load(tmp_path / "only")
    assert ds.split == "stratified" and ds.counts() == load(data).counts()


def zip_folder(folder: Path, target: Path, *, wrapped: bool) -> Path:
    """A ZIP of folder, as a file manager makes it (wrapped: the folder's name on every member)."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.rglob("*")):
            rel = p.relative_to(folder.parent if wrapped else folder)
            zf.write(p, rel.as_posix())
    return target


@pytest.mark.parametrize("wrapped", [True, False], ids=["wrapped", "flat"])
def test_a_zip_gives_what_its_folder_gives(data, tmp_path, wrapped):
    (data / "texture" / "notes.jpg").write_text("not an image")
    archive = zip_folder(data, tmp_path / "pets.zip", wrapped=wrapped)
    workdir = tmp_path / "work"
    a, b = load(data), load(archive, workdir=workdir)
    assert b.classes == a.classes and b.split == a.split
    assert names(b.train, b) == names(a.train, a) and names(b.val, b) == names(a.val, a)
    # extracted under workdir, and the report names the member, not the temporary folder
    assert all(s.path.resolve().is_relative_to(workdir.resolve()) for s in b.train + b.val)
    inside = "pets.zip/data/texture/notes.jpg" if wrapped else "pets.zip/texture/notes.jpg"
    assert b.skipped == [(inside, "unsupported_format")]


def test_a_zip_of_train_and_val_folders(data, tmp_path):
    split = tmp_path / "split"
    shutil.copytree(data, split / "train")
    (split / "val" / "people").mkdir(parents=True)
    moved = min((split / "train" / "people").glob("*.jpg"))
    moved.rename(split / "val" / "people" / moved.name)
    ds = load(zip_folder(split, tmp_path / "split.zip", wrapped=True), workdir=tmp_path / "w")
    assert ds.split == "given" and names(ds.val, ds) == {("people", moved.name)}


def write_csv(data: Path, target: Path, rows_extra=(), header=True, absolute=False) -> Path:
    lines = ["path,label"] if header else []
    for p in sorted(data.rglob("*.jpg")):
        where = p if absolute else p.relative_to(target.parent)
        lines.append(f"{where},{p.parent.name}")
    lines += list(rows_extra)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")  # with a BOM, as Excel does
    return target


@pytest.mark.parametrize("header, absolute", [(True, False), (False, True)])
def test_a_csv_gives_what_its_folder_gives(data, header, absolute):
    sheet = write_csv(data, data.parent / "labels.csv", header=header, absolute=absolute)
    a, b = load(data), load(sheet)
    assert b.classes == a.classes and b.skipped == []
    assert names(b.train, b) == names(a.train, a) and names(b.val, b) == names(a.val, a)


def test_csv_rows_without_a_label_or_a_file_are_skipped(data):
    extra = ["data/people/missing.jpg,people", "data/people/astronaut-0.jpg,", ",people", ""]
    ds = load(write_csv(data, data.parent / "labels.csv", rows_extra=extra))
    assert ds.skipped == [
        ("labels.csv:51", "invalid_row"),
        ("labels.csv:52", "invalid_row"),
        ("data/people/missing.jpg", "file_not_found"),
    ]
    assert len(ds.train) + len(ds.val) == 48


def test_sources_merge_by_normalised_class_name(data, tmp_path):
    more = tmp_path / "feedback"
    (more / "People").mkdir(parents=True)
    (more / "vehicle").mkdir(parents=True)
    photos = sorted((data / "machine").glob("*.jpg"))
    for p in photos[:2]:
        shutil.copy(p, more / "People" / ("fb-" + p.name))
    for p in photos[2:5]:
        shutil.copy(p, more / "vehicle" / ("fb-" + p.name))
    ds = load(data, more)
    # the first source's spelling stays; the second's new class joins
    assert ds.classes == ("machine", "microscopy", "people", "texture", "vehicle")
    counts = ds.counts()
    assert sum(counts["people"].values()) == 14 and sum(counts["vehicle"].values()) == 3
    assert counts["vehicle"]["val"] == 1


# --- refusals ------------------------------------------------------------------------------------
def _keep(data: Path, *classes: str) -> None:
    for d in data.iterdir():
        if d.name not in classes:
            shutil.rmtree(d)


def _only(data: Path, cls: str, n: int) -> None:
    for p in sorted((data / cls).glob("*.jpg"))[n:]:
        p.unlink()


def _garble(data: Path) -> None:
    for p in data.rglob("*.jpg"):
        p.write_bytes(b"GIF89a" + p.read_bytes()[6:40])


def _one_usable(data: Path) -> None:
    _only(data, "texture", 2)
    _, second = sorted((data / "texture").glob("*.jpg"))
    second.write_bytes(truncated_jpeg(second))


def _more_classes(data: Path) -> None:
    _keep(data, "people")
    _only(data, "people", 1)
    for cls in ("a", "b"):
        (data / cls).mkdir()


def _cat_and_cat(data: Path) -> None:
    (data / "people").rename(data / "Cat")
    (data / "texture").rename(data / "cat ")


def _underscore_and_space(data: Path) -> None:
    (data / "people").rename(data / "golden_retriever")
    (data / "texture").rename(data / "Golden  Retriever")


@pytest.mark.parametrize(
    "change, code, words",
    [
        (lambda d: _keep(d, "people"), "dataset_one_class", ['"people"', "12 images"]),
        (lambda d: (d / "zebra").mkdir(), "dataset_empty_class", ['"zebra"', "1 of 5"]),
        (_one_usable, "dataset_class_too_small", ["texture: 1", "1 of 4"]),
        (lambda d: _only(d, "machine", 1), "dataset_class_too_small", ["machine: 1"]),
        (_garble, "dataset_no_images", ["48 files"]),
        (lambda d: _keep(d), "dataset_no_images", ["sub-folder"]),
        (_cat_and_cat, "dataset_duplicate_classes", ['"Cat"', '"cat "']),
        (_underscore_and_space, "dataset_duplicate_classes", ['"golden_retriever"']),
        (_more_classes, "dataset_more_classes_than_images", ["3 classes", "1 readable image"]),
    ],
    ids=[
        "one-class",
        "empty-class",
        "one-usable",
        "one-image",
        "no-readable",
        "empty-folder",
        "Cat-cat",
        "underscore-space",
        "more-classes",
    ],
)
def test_refusals_name_the_classes_and_numbers(data, change, code, words):
    change(data)
    with pytest.raises(DatasetInvalid) as caught:
        load(data)
    err = caught.value
    assert err.code == code and err.status == 422
    for word in words:
        assert word in err.message, err.message


def test_a_flat_folder_of_photos_is_told_to_use_class_folders(data):
    for p in list(data.rglob("*.jpg")):
        p.rename(data / f"{p.parent.name}-{p.name}")
    with pytest.raises(DatasetInvalid) as caught:
        load(data)
    assert caught.value.code == "dataset_no_images"
    assert "48 files but no class folders" in caught.value.message


@pytest.mark.parametrize("what", ["missing", "text-file"])
def test_a_path_that_is_not_a_dataset(tmp_path, what):
    path = tmp_path / "nothing-here"
    if what == "text-file":
        path = tmp_path / "notes.txt"
        path.write_text("people,texture\n")
    with pytest.raises(DatasetInvalid) as caught:
        load(path)
    assert caught.value.code == "dataset_not_found" and str(path) in caught.value.message


def test_a_damaged_zip_is_refused(tmp_path):
    bad = tmp_path / "data.zip"
    bad.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    with pytest.raises(DatasetInvalid) as caught:
        load(bad)
    assert caught.value.code == "dataset_invalid" and "data.zip" in caught.value.message


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5])
def test_a_validation_fraction_outside_0_1_is_refused(data, fraction):
    with pytest.raises(Exception) as caught:
        load(data, val_fraction=fraction)
    assert caught.value.code == "invalid_argument"


# --- normalisation and the split -----------------------------------------------------------------
@pytest.mark.parametrize(
    "a, b",
    [("Cat", "cat"), ("cat ", " CAT"), ("ＣＡＴ", "cat"), ("golden_retriever", "Golden Retriever"),
     ("sea-lion", "sea  lion"), ("Straße", "STRASSE"), ("猫", " 猫 ")],
)  # fmt: skip
def test_names_that_are_one_class(a, b):
    assert normalise(a) == normalise(b)


@pytest.mark.parametrize("a, b", [("cat", "cats"), ("猫", "狗"), ("sea lion", "sealion")])
def test_names_that_are_two_classes(a, b):
    assert normalise(a) != normalise(b)


def test_the_same_seed_gives_the_same_split_another_seed_another(data):
    a, b, c = load(data, seed=7), load(data, seed=7), load(data, seed=8)
    assert a.train == b.train and a.val == b.val
    assert set(a.val) != set(c.val)
    assert a.counts() == c.counts()  # the same sizes, other photos


def test_the_split_does_not_depend_on_the_order_files_are_listed_in(data, tmp_path):
    """A CSV listing the files backwards splits them as the folder does."""
    rows = [f"{p},{p.parent.name}" for p in sorted(data.rglob("*.jpg"), reverse=True)]
    sheet = tmp_path / "backwards.csv"
    sheet.write_text("\n".join(rows))
    a, b = load(data, seed=3), load(sheet, seed=3)
    assert names(a.val, a) == names(b.val, b)


@pytest.mark.parametrize("fraction, per_class", [(0.2, (10, 2)), (0.5, (6, 6)), (0.01, (11, 1)),
                                                 (0.99, (1, 11))])  # fmt: skip
def test_every_class_is_in_train_and_in_val(data, fraction, per_class):
    ds = load(data, val_fraction=fraction)
    assert ds.counts() == {c: dict(zip(("train", "val"), per_class)) for c in CLASSES}


def test_a_class_of_two_gives_one_to_each_side(data):
    _only(data, "microscopy", 2)
    ds = load(data)
    assert ds.counts()["microscopy"] == {"train": 1, "val": 1}


def test_adding_a_class_does_not_move_the_other_classes_photos(data, tmp_path):
    before = load(data, seed=5)
    shutil.copytree(data / "people", data / "people again")
    for p in (data / "people again").iterdir():
        p.rename(p.with_name("again-" + p.name))
    after = load(data, seed=5)
    assert {x for x in names(after.val, after) if x[0] in CLASSES} == names(before.val, before)


# --- hostile ZIPs --------------------------------------------------------------------------------
def _member(name: str, data: bytes, *, mode: int | None = None) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    if mode is not None:
        info.external_attr = mode << 16
    return info, data


def test_a_hostile_zip_writes_nothing_outside_its_folder(pristine, tmp_path):
    photo = min((pristine / "people").glob("*.jpg")).read_bytes()
    nested = io.BytesIO()
    with zipfile.ZipFile(nested, "w") as inner:
        inner.writestr("x.jpg", photo)
    hostile = [
        _member("../evil.jpg", photo),
        _member("data/people/../../../evil2.jpg", photo),
        _member("/tmp/evil3.jpg", photo),
        _member("..\\evil4.jpg", photo),
        _member("C:/evil5.jpg", photo),
        _member("data/people/link.jpg", b"/etc/passwd", mode=stat.S_IFLNK | 0o777),
        _member("data/people/inner.jpg", nested.getvalue()),
        _member("data/people/bomb.jpg", b"\0" * (4 * 1024 * 1024)),  # deflates about 1000:1
        _member("data/people/.sidecar.json", b"{}"),
        _member("__MACOSX/data/people/._a.jpg", b"\0\5\26\7"),
    ]
    archive = tmp_path / "upload" / "data.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(pristine.rglob("*.jpg")):
            zf.write(p, "data/" + p.relative_to(pristine).as_posix())
        for info, blob in hostile:
            zf.writestr(info, blob)
    workdir = tmp_path / "upload" / "work" / "deep"
    ds = load(archive, workdir=workdir)
    assert ds.classes == tuple(sorted(CLASSES)) and len(ds.train) + len(ds.val) == 48
    assert sorted(ds.skipped) == sorted(
        [
            ("data.zip/../evil.jpg", "unsafe_path"),
            ("data.zip/data/people/../../../evil2.jpg", "unsafe_path"),
            ("data.zip//tmp/evil3.jpg", "unsafe_path"),
            ("data.zip/..\\evil4.jpg", "unsafe_path"),
            ("data.zip/C:/evil5.jpg", "unsafe_path"),
            ("data.zip/data/people/link.jpg", "unsupported_format"),  # a link: never followed
            ("data.zip/data/people/inner.jpg", "nested_archive"),
            ("data.zip/data/people/bomb.jpg", "archive_too_large"),
        ]
    )
    written = {p for p in tmp_path.rglob("*") if p.is_file()}
    assert all(p == archive or p.is_relative_to(workdir) for p in written)
    assert not any("evil" in p.name for p in written) and not Path("/tmp/evil3.jpg").exists()
    assert not list(workdir.rglob("link.jpg")) and not list(workdir.rglob("inner.jpg"))


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_a_zip_with_the_same_name_twice_keeps_the_first(pristine, tmp_path):
    first, second = sorted((pristine / "people").glob("*.jpg"))[:2]
    archive = tmp_path / "twice.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(pristine.rglob("*.jpg")):
            zf.write(p, p.relative_to(pristine).as_posix())
        zf.writestr("people/" + first.name, jpeg_of(second))
    ds = load(archive, workdir=tmp_path / "w")
    kept = next(s.path for s in ds.train + ds.val if s.path.name == first.name)
    assert kept.read_bytes() == first.read_bytes()
    assert ds.skipped == [(f"twice.zip/people/{first.name}", "unsafe_path")]


def jpeg_of(path: Path) -> bytes:
    from PIL import Image

    with Image.open(path) as im:
        return jpeg(im.convert("RGB").rotate(90))


@pytest.mark.parametrize(
    "limit, value, words",
    [
        ("ZIP_MAX_MEMBERS", 40, "holds 48 files; the limit is 40"),
        ("ZIP_MAX_BYTES", 200_000, "expands"),
    ],
)
def test_a_zip_past_its_limits_is_refused_and_leaves_nothing(pristine, tmp_path, monkeypatch,
                                                               limit, value, words):  # fmt: skip
    from localvision.training import dataset

    monkeypatch.setattr(dataset, limit, value)
    archive = zip_folder(pristine, tmp_path / "big.zip", wrapped=False)
    with pytest.raises(DatasetInvalid) as caught:
        load(archive, workdir=tmp_path / "work")
    assert caught.value.code == "dataset_invalid" and words in caught.value.message
    assert list((tmp_path / "work").iterdir()) == []


def test_a_zip_member_over_the_size_limit_is_skipped(pristine, tmp_path, monkeypatch):
    from localvision.training import dataset

    biggest = max(pristine.rglob("*.jpg"), key=lambda p: p.stat().st_size)
    monkeypatch.setattr(dataset, "ZIP_MAX_MEMBER_BYTES", biggest.stat().st_size - 1)
    ds = load(zip_folder(pristine, tmp_path / "d.zip", wrapped=False), workdir=tmp_path / "w")
    name = biggest.relative_to(pristine).as_posix()
    assert (f"d.zip/{name}", "file_too_large") in ds.skipped
    assert len(ds.train) + len(ds.val) == 48 - len(ds.skipped)


def test_a_class_only_in_val_is_refused(data, tmp_path):
    split = tmp_path / "split"
    shutil.copytree(data, split / "train")
    shutil.move(split / "train" / "texture", split / "val" / "texture")
    with pytest.raises(DatasetInvalid) as caught:
        load(split)
    assert caught.value.code == "dataset_empty_class"
    assert '"texture"' in caught.value.message and "train/" in caught.value.message


def _saved(im, fmt: str) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()


def test_other_formats_whole_and_cut(data):
    """PNG and WebP are taken on their end (IEND, the RIFF size), BMP and GIF decoded for real;
    cut in half, each is skipped."""
    from PIL import Image

    with Image.open(min((data / "texture").glob("*.jpg"))) as im:
        im = im.convert("RGB")
        files = {f"x.{ext}": _saved(im, fmt) for ext, fmt in
                 [("png", "PNG"), ("webp", "WEBP"), ("bmp", "BMP"), ("gif", "GIF")]}  # fmt: skip
    for name, blob in files.items():
        (data / "texture" / name).write_bytes(blob)
        (data / "texture" / ("cut-" + name)).write_bytes(blob[: len(blob) // 2])
    ds = load(data)
    assert len(ds.train) + len(ds.val) == 48 + 4
    assert sorted(Path(f).name for f, _ in ds.skipped) == sorted("cut-" + n for n in files)
    assert {r for _, r in ds.skipped} <= {"corrupt_image"}


def test_the_split_of_zips_does_not_depend_on_where_they_are_extracted(pristine, tmp_path):
    """Two ZIPs of one class: their members are ordered by their names, not by the random
    folders they are extracted to."""
    halves = [tmp_path / "a", tmp_path / "b"]
    for k, half in enumerate(halves):
        for cls in CLASSES:
            (half / cls).mkdir(parents=True)
            for p in sorted((pristine / cls).glob("*.jpg"))[k::2]:
                shutil.copy(p, half / cls / p.name)
    zips = [zip_folder(h, tmp_path / f"{h.name}.zip", wrapped=False) for h in halves]
    splits = [
        names(ds.val, ds)
        for ds in (load(*zips, seed=2, workdir=tmp_path / f"w{i}") for i in range(4))
    ]
    assert all(s == splits[0] for s in splits)


# --- names as Chinese Windows writes them -------------------------------------------------------
def test_a_zip_with_gbk_names_trains_with_its_chinese_class_names(pristine, tmp_path):
    """Chinese Windows' compressed folder writes GBK names without the UTF-8 flag; the classes
    are still 猫 and 狗 (not CP437 mojibake such as ├¿), and so is the skipped file's name."""
    photos = sorted(pristine.rglob("*.jpg"))
    members = {f"猫/猫咪-{n:02d}.jpg": p.read_bytes() for n, p in enumerate(photos[:3])}
    members |= {f"狗/小狗-{n:02d}.jpg": p.read_bytes() for n, p in enumerate(photos[12:15])}
    members["狗/坏的照片.jpg"] = b"not a photo"
    archive = tmp_path / "宠物.zip"
    archive.write_bytes(gbk_zip(members))
    ds = load(archive, workdir=tmp_path / "work")
    assert ds.classes == ("猫", "狗") or ds.classes == ("狗", "猫")
    assert sorted(ds.classes) == sorted(["猫", "狗"])
    shown = {(ds.classes[s.label], s.path.name) for s in ds.train + ds.val}
    assert ("猫", "猫咪-00.jpg") in shown and ("狗", "小狗-02.jpg") in shown
    assert ds.skipped == [("宠物.zip/狗/坏的照片.jpg", "unsupported_format")]


@pytest.mark.parametrize("names", [
    ["猫/一.jpg", "猫/小猫咪.jpg", "狗/照片 (2).jpg"],  # GBK, no flag: Chinese Windows
    ["café.jpg", "crème brûlée.jpg"],  # CP437, no flag: a Western DOS archiver
    ["plain/x.jpg"],
], ids=["gbk", "cp437", "ascii"])  # fmt: skip
def test_an_uploaded_zip_names_its_members_as_their_writer_meant(names):
    from localvision.archive import read_zip

    encoding = "cp437" if "café.jpg" in names else "gbk"
    blob = gbk_zip({x: b"\xff\xd8 not really a photo" for x in names}, encoding)
    members = read_zip(blob, max_members=10, max_total_bytes=1 << 20, max_member_bytes=1 << 20)
    assert [m.name for m in members] == names


def test_a_flagged_or_unicode_path_name_is_taken_as_utf8():
    from localvision.archive import read_zip

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("猫/一.jpg", b"x")  # zipfile: UTF-8 with the flag
    members = read_zip(buf.getvalue(), max_members=10, max_total_bytes=1 << 20,
                       max_member_bytes=1 << 20)  # fmt: skip
    assert [m.name for m in members] == ["猫/一.jpg"]
