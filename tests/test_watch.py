"""`localvision watch` and `--sort-into`, for real: the command runs as a subprocess on a temp
folder while real photos are copied in (one of them written in slow chunks, one cut off for
good), and its rows are compared with what `classify` says about the same files. Sorting makes
real hard links, symlinks (across filesystems), copies and moves.

The settling rule itself (a file that fails to decode while it may still be growing is held,
not reported) is driven step by step on the real model with the clock passed in.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from corpus import GOLDEN, SIGN, real_photo_bytes, sign_photo_bytes
from typer.testing import CliRunner

from localvision.cli import app
from localvision.errors import InvalidArgument
from localvision.imaging import IMAGE_SUFFIXES
from localvision.names import folder_name as safe_name
from localvision.streams.sorting import place
from localvision.streams.watch import RowWriter, Watcher

LITE0 = ["--model", "efficientnet_lite0", "--precision", "fp32"]
SETTLE = "1.0"


def localvision(*args) -> list[str]:
    return [sys.executable, "-m", "localvision", *map(str, args)]


class Running:
    """`localvision watch ...` as a subprocess; its stderr read as it comes."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(
            localvision("watch", *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env={**os.environ, "COLUMNS": "400"},
        )  # fmt: skip
        self.err: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.err.append(line)

    def wait_for(self, test, what: str, timeout: float = 60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if test():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"waited for {what}; stderr:\n{''.join(self.err)}")

    def stop(self, sig=signal.SIGINT) -> int:
        """Ctrl+C, as a person ends it (SIGTERM: as a service manager does)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(30)
        self.reader.join(5)
        return code

    @property
    def stderr(self) -> str:
        return "".join(self.err)


def jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def slow_write(path: Path, data: bytes, parts: int = 5, pause: float = 0.3) -> None:
    """Write a file the way a slow download or a camera over USB does: in chunks, with pauses
    (each under the settle time)."""
    step = len(data) // parts + 1
    with open(path, "wb") as f:
        for start in range(0, len(data), step):
            f.write(data[start : start + step])
            f.flush()
            time.sleep(pause)


def classify_rows(paths: list[str], *extra) -> list[dict]:
    proc = subprocess.run(
        localvision("classify", *paths, *LITE0, "--format", "json", *extra),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def same_rows(watched: list[dict], classified: list[dict]) -> None:
    """Row for row the same fields and values; probabilities to float32 rounding (the model
    may see the images in other batches)."""
    by_path = {r["path"]: r for r in classified}
    assert sorted(by_path) == sorted(r["path"] for r in watched)
    for row in watched:
        other = by_path[row["path"]]
        assert row.keys() == other.keys()
        assert (row["model"], row["uncertain"], row["error"]) == (
            other["model"], other["uncertain"], other["error"])  # fmt: skip
        assert [(p["label"], p["label_en"], p["index"]) for p in row["predictions"]] == [
            (p["label"], p["label_en"], p["index"]) for p in other["predictions"]
        ]
        for p, q in zip(row["predictions"], other["predictions"]):
            assert p["probability"] == pytest.approx(q["probability"], abs=1e-4)


# --- the command, for real ----------------------------------------------------------------------
def test_watch_classifies_photos_as_they_arrive(tmp_path, photos, lite0_package):
    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    (inbox / "coffee.jpg").write_bytes(photos["coffee"])  # there before it starts: --existing
    rows_file = tmp_path / "rows.jsonl"
    run = Running(inbox, "--existing", "--settle-s", SETTLE, "--output", rows_file, *LITE0)
    run.wait_for(lambda: "watching" in run.stderr, "the watch to start")

    for name in ("chelsea", "rocket", "grace_hopper"):  # several at once: one batch
        shutil.copyfile(_photo(tmp_path, photos, name), inbox / f"{name}.jpg")
    (inbox / "notes.txt").write_text("not an image")  # not named like one: no row
    (inbox / ".hidden.jpg").write_bytes(photos["coffee"])  # a temporary or ._ file: no row
    (inbox / "sub" / "deeper.jpg").write_bytes(photos["coffee"])  # not --recursive: no row
    cut = photos["rocket"][: len(photos["rocket"]) * 2 // 5]
    (inbox / "cut.jpg").write_bytes(cut)  # broken for good: an error row, and the watch goes on
    slow_write(inbox / "camera.jpg", photos["camera"])  # still being written when it is seen

    run.wait_for(lambda: len(jsonl(rows_file)) >= 6, "six rows")
    time.sleep(float(SETTLE) * 1.5)  # a second row for a file would come by now
    assert run.stop() == 0
    assert "Traceback" not in run.stderr
    assert "stopped; 6 images classified" in run.stderr

    rows = jsonl(rows_file)
    names = {Path(r["path"]).name: r for r in rows}
    assert sorted(names) == ["camera.jpg", "chelsea.jpg", "coffee.jpg", "cut.jpg",
                             "grace_hopper.jpg", "rocket.jpg"]  # fmt: skip
    for name, label in GOLDEN.items():
        assert names[f"{name}.jpg"]["predictions"][0]["label"] == label, name
        assert names[f"{name}.jpg"]["error"] is None
    assert names["cut.jpg"]["error"]["code"] == "corrupt_image"
    assert all(Path(r["path"]).parent == inbox for r in rows)  # named under the folder given
    # the same rows classify gives for the same files
    same_rows(rows, classify_rows([r["path"] for r in rows]))


def _photo(tmp_path: Path, photos: dict, name: str) -> Path:
    src = tmp_path / "src" / f"{name}.jpg"
    src.parent.mkdir(exist_ok=True)
    src.write_bytes(photos[name])
    return src


def test_watch_appends_csv_and_moves_into_label_folders(tmp_path, photos, lite0_package):
    inbox, out = tmp_path / "inbox", tmp_path / "sorted"
    inbox.mkdir()
    rows_file = tmp_path / "rows.csv"
    trip = tmp_path / "trip"  # a folder of photos, moved in whole
    trip.mkdir()
    (trip / "chelsea.jpg").write_bytes(photos["chelsea"])
    run = Running(inbox, "--recursive", "--settle-s", "0.5", "--output", rows_file,
                  "--sort-into", out, "--move", "--write-xmp", "--lang", "zh", *LITE0)  # fmt: skip
    run.wait_for(lambda: "watching" in run.stderr, "the watch to start")
    shutil.copyfile(_photo(tmp_path, photos, "coffee"), inbox / "coffee.jpg")
    (tmp_path / "src" / "astronaut.jpg").write_bytes(real_photo_bytes("astronaut"))
    shutil.copyfile(tmp_path / "src" / "astronaut.jpg", inbox / "astronaut.jpg")
    trip.rename(inbox / "trip")

    def csv_rows() -> list[list[str]]:
        if not rows_file.exists():
            return []
        with open(rows_file, encoding="utf-8", newline="") as f:
            return list(csv.reader(f))

    # the rows come first, then the moves
    run.wait_for(lambda: len(csv_rows()) == 4, "a header and three rows")
    header, *cells = csv_rows()
    by_name = {Path(r[0]).name: r for r in cells}
    coffee = by_name["coffee.jpg"]
    assert coffee[header.index("label_en_1")] == GOLDEN["coffee"]
    espresso = out / coffee[header.index("label_1")]  # in Chinese
    assert espresso.name != GOLDEN["coffee"]
    not_sure = out / "不确定"
    assert Path(by_name["chelsea.jpg"][0]) == inbox / "trip" / "chelsea.jpg"
    run.wait_for(lambda: (espresso / "coffee.jpg.xmp").exists()
                 and (not_sure / "astronaut.jpg").exists()
                 and not (inbox / "trip" / "chelsea.jpg.xmp").exists(), "all moved")  # fmt: skip
    time.sleep(1.0)  # a moved image leaving the folder must not make another row
    assert run.stop(signal.SIGTERM) == 0
    assert len(csv_rows()) == 4
    assert "sorted 3 images into" in run.stderr and "(3 move)" in run.stderr, run.stderr
    assert [p.name for p in inbox.rglob("*")] == ["trip"]  # images and sidecars moved together
    assert not (not_sure / "astronaut.jpg.xmp").exists()  # not sure: no keyword claimed
    assert (espresso / "coffee.jpg").read_bytes() == photos["coffee"]

    cat = out / by_name["chelsea.jpg"][header.index("label_1")]
    moved = [str(p) for p in (espresso / "coffee.jpg", not_sure / "astronaut.jpg",
                              cat / "chelsea.jpg")]  # fmt: skip
    proc = subprocess.run(
        localvision("classify", *moved, *LITE0, "--format", "csv", "--lang", "zh"),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    want_header, *want = list(csv.reader(io.StringIO(proc.stdout)))
    assert header == want_header  # the same columns as classify's CSV
    for row in want:
        got = by_name[Path(row[0]).name]
        for h, a, b in zip(header[1:], got[1:], row[1:]):
            if h.startswith("probability_"):
                assert float(a) == pytest.approx(float(b), abs=1e-4)
            else:
                assert a == b, h
    assert by_name["astronaut.jpg"][header.index("uncertain")] == "true"


def read_csv(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def test_watch_text_rows_and_sidecars(tmp_path, lite0_package):
    """watch --text --write-xmp: a broken file first (its error row alone in the first batch,
    which must not leave the text column out of the header), then a photo with a sign: its
    lines in the CSV's text cell and in its sidecar's description, read by exiftool."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    rows_file = tmp_path / "rows.csv"
    run = Running(inbox, "--text", "--write-xmp", "--settle-s", "0.5", "--output", rows_file,
                  "--top-k", "1", *LITE0)  # fmt: skip
    run.wait_for(lambda: "watching" in run.stderr, "the watch to start")
    (inbox / "cut.jpg").write_bytes(real_photo_bytes("rocket")[:2000])
    run.wait_for(lambda: len(read_csv(rows_file)) == 2, "a header and the error row")
    (tmp_path / "sign.jpg").write_bytes(sign_photo_bytes())
    shutil.move(tmp_path / "sign.jpg", inbox / "sign.jpg")  # arrives whole
    run.wait_for(lambda: len(read_csv(rows_file)) == 3, "the sign's row")
    run.wait_for(lambda: (inbox / "sign.jpg.xmp").exists(), "the sign's sidecar")
    assert run.stop() == 0 and "Traceback" not in run.stderr
    assert "1 XMP sidecar written" in run.stderr, run.stderr

    header, cut, sign = read_csv(rows_file)
    assert header == ["path", "model", "label_1", "index_1", "probability_1", "uncertain",
                      "text", "error_code", "error_message"]  # fmt: skip
    assert all(len(row) == len(header) for row in (cut, sign))
    assert cut[header.index("error_code")] == "corrupt_image" and cut[header.index("text")] == ""
    assert sign[header.index("text")] == "\n".join(SIGN) and sign[header.index("error_code")] == ""
    exiftool = shutil.which("exiftool")
    assert exiftool, "exiftool is missing: apt-get install libimage-exiftool-perl"
    proc = subprocess.run([exiftool, "-j", "-XMP-dc:Description", str(inbox / "sign.jpg.xmp")],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert json.loads(proc.stdout)[0]["Description"] == "\n".join(SIGN)


@pytest.mark.unit
def test_the_csv_columns_come_from_the_settings_not_the_first_rows(tmp_path):
    """An error row first still gives the text column; a CSV with other columns is refused
    rather than appended to out of line."""
    path = tmp_path / "rows.csv"
    error = {"path": "cut.jpg", "model": "m", "predictions": [], "uncertain": False,
             "error": {"code": "corrupt_image", "message": "cut off"}}  # fmt: skip
    read = {"path": "sign.jpg", "model": "m", "uncertain": False, "error": None,
            "predictions": [{"label": "espresso", "label_en": "espresso", "index": 967,
                             "probability": 0.5}],
            "text": [{"text": t, "confidence": 0.9, "box": []} for t in SIGN]}  # fmt: skip
    writer = RowWriter(path, 1, "en", text=True)
    writer.write([error])
    writer.write([read])
    writer.close()
    header, *rows = read_csv(path)
    assert header == ["path", "model", "label_1", "index_1", "probability_1", "uncertain",
                      "text", "error_code", "error_message"]  # fmt: skip
    assert [r[header.index("text")] for r in rows] == ["", "\n".join(SIGN)]
    assert rows[1][header.index("label_1")] == "espresso"
    RowWriter(path, 1, "en", text=True).close()  # the same columns: appended to
    for k, lang, text in ((1, "en", False), (3, "en", True), (1, "zh", True)):
        with pytest.raises(InvalidArgument, match="other columns"):
            RowWriter(path, k, lang, text=text)


def test_watch_refuses_a_missing_folder_and_a_sorting_loop(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(app, ["watch", str(tmp_path / "nope")])
    assert missing.exit_code == 2
    assert "Cannot watch" in missing.stderr and "does not exist" in missing.stderr
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    loop = runner.invoke(app, ["watch", str(inbox), "-r", "--sort-into", str(inbox / "sorted")])
    assert loop.exit_code == 2
    assert "would arrive again" in loop.stderr and "to fix:" in loop.stderr
    no_out = runner.invoke(app, ["watch", str(inbox), "--move"])
    assert no_out.exit_code == 2 and "--move needs --sort-into" in no_out.stderr
    a_file = runner.invoke(app, ["watch", str(inbox), "--sort-into", __file__])
    assert a_file.exit_code == 2 and "is a file" in a_file.stderr
    by_env = runner.invoke(app, ["watch", str(inbox)], env={"LOCALVISION_SORT_INTO": __file__})
    assert by_env.exit_code == 2 and "that is a file, not a folder" in by_env.stderr
    for result in (missing, loop, no_out, a_file, by_env):
        assert "Traceback" not in result.output


# --- settling, step by step ---------------------------------------------------------------------
def test_a_photo_that_pauses_while_arriving_is_not_reported_broken(tmp_path, photos, lite0):
    """Settle time 1 s, clock passed in: half a photo settles and fails to decode, so it is
    held; the rest arrives within another settle time, so its one row is its real label. A
    file cut off for good gets its error row one settle time later."""
    rows: list = []
    w = Watcher(tmp_path, recursive=False, suffixes=IMAGE_SUFFIXES, settle_s=1.0, chunk=16,
                classify=lite0.predict, report=rows.extend)  # fmt: skip
    coffee, cut = tmp_path / "coffee.jpg", tmp_path / "cut.jpg"
    half = len(photos["coffee"]) // 2
    coffee.write_bytes(photos["coffee"][:half])
    cut.write_bytes(photos["rocket"][:half])
    w.seen(str(coffee), 0.0)
    w.seen(str(cut), 0.0)
    assert w.tick(0.5) == 0 and rows == []  # not settled yet: not even read
    assert w.tick(1.0) == 0 and rows == []  # settled, broken, held: it may still grow
    with open(coffee, "ab") as f:
        f.write(photos["coffee"][half:])
    w.seen(str(coffee), 1.5)
    assert w.tick(2.0) == 1  # the cut file, unchanged for another second: now its error row
    assert [(Path(r.source).name, r.error.code) for r in rows] == [("cut.jpg", "corrupt_image")]
    assert w.tick(2.4) == 0  # the whole coffee photo, settling
    assert w.tick(2.6) == 1
    assert Path(rows[1].source).name == "coffee.jpg" and rows[1].ok
    assert rows[1].predictions[0].label == GOLDEN["coffee"]
    w.seen(str(coffee), 3.0)  # an event without a change (a hard link made): no second row
    assert w.tick(5.0) == 0 and len(rows) == 2


def test_polling_finds_a_photo_as_events_do(tmp_path, photos, lite0):
    """--polling (for network shares): the same watcher, its changes found by polling."""
    rows: list = []
    w = Watcher(tmp_path, recursive=False, suffixes=IMAGE_SUFFIXES, settle_s=0.3, chunk=16,
                classify=lite0.predict, report=rows.extend)  # fmt: skip
    ready, stop = threading.Event(), threading.Event()
    thread = threading.Thread(target=w.run, args=(False, True, ready.set, stop), daemon=True)
    thread.start()
    try:
        assert ready.wait(30)
        (tmp_path / "chelsea.jpg").write_bytes(photos["chelsea"])
        end = time.monotonic() + 30
        while not rows and time.monotonic() < end:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()  # a stop ends the watch
    assert [(Path(r.source).name, r.predictions[0].label) for r in rows] == [
        ("chelsea.jpg", GOLDEN["chelsea"])
    ]


# --- sorting ------------------------------------------------------------------------------------
@pytest.mark.parametrize("label, name", [
    ("tiger cat", "tiger cat"),
    ("浓缩咖啡", "浓缩咖啡"),
    ('a/b\\c:d*e?f"g<h>i|j', "a_b_c_d_e_f_g_h_i_j"),
    ("CON", "CON_"), ("nul.txt", "nul.txt_"), ("ends with dots...", "ends with dots"),
    ("tab\tand\nnewline", "tab_and_newline"), ("...", "_"),
])  # fmt: skip
def test_label_folder_names_are_safe_everywhere(label, name):
    assert safe_name(label) == name


def test_label_folder_names_fit_255_bytes():
    name = safe_name("猫" * 200)  # 600 bytes of UTF-8
    assert len(name.encode()) <= 255 and set(name) == {"猫"}


def invoke(*args):
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "400"})
    assert "Traceback" not in result.output
    return result


def test_classify_sort_into_links_and_never_overwrites(tmp_path, photo_dir, lite0_package):
    out = tmp_path / "out"
    clash = out / "espresso" / "coffee.jpg"  # a different photo already has that name
    clash.parent.mkdir(parents=True)
    clash.write_bytes(b"someone else's file")
    files = [photo_dir / "coffee.jpg", photo_dir / "chelsea.jpg"]
    for _ in range(2):  # a rerun links nothing twice
        result = invoke("classify", *files, *LITE0, "--sort-into", out, "--format", "json")
        assert result.exit_code == 0, result.stderr
    assert clash.read_bytes() == b"someone else's file"
    linked = out / "espresso" / "coffee (2).jpg"
    assert os.path.samefile(linked, photo_dir / "coffee.jpg")  # a hard link: no space used
    assert sorted(p.name for p in (out / "espresso").iterdir()) == ["coffee (2).jpg", "coffee.jpg"]
    assert os.path.samefile(out / "tiger cat" / "chelsea.jpg", photo_dir / "chelsea.jpg")
    assert "(2 already there)" in result.stderr


def test_classify_sort_into_copy_and_move(tmp_path, photos, lite0_package):
    src = tmp_path / "src"
    src.mkdir()
    (src / "coffee.jpg").write_bytes(photos["coffee"])
    (src / "astronaut.jpg").write_bytes(real_photo_bytes("astronaut"))
    copied = invoke("classify", src / "coffee.jpg", *LITE0, "--sort-into", tmp_path / "c",
                    "--sort-mode", "copy")  # fmt: skip
    assert copied.exit_code == 0, copied.stderr
    copy = tmp_path / "c" / "espresso" / "coffee.jpg"
    assert copy.read_bytes() == photos["coffee"] and not os.path.samefile(copy, src / "coffee.jpg")
    (src / "coffee.jpg.xmp").write_text("someone's sidecar")  # a move takes it along
    moved = invoke("classify", src, *LITE0, "--sort-into", tmp_path / "m", "--move")
    assert moved.exit_code == 0, moved.stderr
    assert list(src.iterdir()) == []
    assert (tmp_path / "m" / "espresso" / "coffee.jpg.xmp").read_text() == "someone's sidecar"
    assert (tmp_path / "m" / "espresso" / "coffee.jpg").read_bytes() == photos["coffee"]
    assert (tmp_path / "m" / "not sure" / "astronaut.jpg").exists()  # under min_confidence


def test_a_link_across_filesystems_is_a_symlink(tmp_path, photo_dir):
    """/dev/shm is its own filesystem (tmpfs) here: a hard link cannot cross, a symlink can."""
    shm = Path("/dev/shm")
    out = Path(tempfile.mkdtemp(dir=shm))
    try:
        source = tmp_path / "coffee.jpg"
        shutil.copyfile(photo_dir / "coffee.jpg", source)
        placed = place(source, out, "espresso", "link")
        across = os.stat(shm).st_dev != os.stat(tmp_path).st_dev
        assert placed.how == ("symlink" if across else "hard link")
        assert placed.path.read_bytes() == source.read_bytes()
        assert placed.path.is_symlink() == across
    finally:
        shutil.rmtree(out)
