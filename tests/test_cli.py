"""The `localvision` command, run in-process with Typer's CliRunner (stdout and stderr captured
apart) and once for real as the installed console script.

Contract: results, and only results, on stdout; warnings, errors and the progress bar on stderr.
Exit 0 when every input succeeded, 1 when some failed, 2 for a usage, model or weights error.
Every test gets its own empty TORCH_HOME and runs offline, so `auto` means efficientnet_lite0.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from conftest import GOLDEN, free_port
from localvision import cli
from localvision.cli import app
from localvision.models import get_spec, registry

runner = CliRunner()
FETCH_HINT = "localvision weights fetch resnet18"
IMPORT_HINT = "localvision weights import resnet18 FILE"


pytestmark = pytest.mark.usefixtures("empty_cache")


def invoke(*args: str, env: dict | None = None):
    """Run the CLI in-process; a wide terminal so table cells are not folded."""
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "400", **(env or {})})


def assert_exit(result, code: int):
    """The CLI ended with `code` through a normal exit, and no traceback reached the user."""
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


def stderr_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


@pytest.fixture
def mixed_dir(tmp_path, photos) -> Path:
    """coffee.jpg, a text file named broken.jpg, and chelsea.png."""
    d = tmp_path / "mixed"
    d.mkdir()
    (d / "coffee.jpg").write_bytes(photos["coffee"])
    (d / "broken.jpg").write_bytes(b"this is not an image\n")
    shutil.copyfile(chelsea_png(photos, tmp_path), d / "chelsea.png")
    return d


def chelsea_png(photos, tmp_path) -> Path:
    from PIL import Image

    path = tmp_path / "chelsea_src.png"
    Image.open(io.BytesIO(photos["chelsea"])).save(path, "PNG")
    return path


# --- golden and formats -------------------------------------------------------------------------
def test_coffee_is_espresso_with_efficientnet_lite0(photo_dir):
    result = invoke("classify", photo_dir / "coffee.jpg", "--model", "efficientnet_lite0",
                    "--format", "json")  # fmt: skip
    assert_exit(result, 0)
    (row,) = json.loads(result.stdout)
    assert row["path"] == str(photo_dir / "coffee.jpg")
    assert row["model"] == "efficientnet_lite0" and row["error"] is None
    assert row["predictions"][0]["label"] == "espresso"
    assert row["predictions"][0]["index"] == 967
    assert result.stderr == ""  # a named model needs no warning


def test_json_rows_have_the_documented_shape(photo_dir):
    result = invoke("classify", photo_dir / "chelsea.jpg", "-m", "efficientnet_lite0", "-f", "json",
                    "--top-k", "5")  # fmt: skip
    assert_exit(result, 0)
    (row,) = json.loads(result.stdout)
    assert set(row) == {"path", "model", "predictions", "error"}
    preds = row["predictions"]
    assert len(preds) == 5
    assert all(set(p) == {"label", "index", "probability"} for p in preds)
    probs = [p["probability"] for p in preds]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001
    assert preds[0]["label"] == GOLDEN["chelsea"]


def test_table_names_the_model_and_shows_labels(photo_dir):
    result = invoke("classify", photo_dir / "coffee.jpg", "-m", "efficientnet_lite0")
    assert_exit(result, 0)
    assert "model efficientnet_lite0" in result.stdout
    assert "coffee.jpg" in result.stdout and "espresso" in result.stdout
    assert result.stderr == ""


def test_csv_is_one_row_per_file_with_top_k_flattened(mixed_dir):
    result = invoke("classify", mixed_dir, "-m", "efficientnet_lite0", "-f", "csv", "-k", "2")
    assert_exit(result, 1)
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == [
        "path", "model", "label_1", "index_1", "probability_1",
        "label_2", "index_2", "probability_2", "error_code", "error_message",
    ]  # fmt: skip
    body = {Path(r[0]).name: r for r in rows[1:]}
    assert sorted(body) == ["broken.jpg", "chelsea.png", "coffee.jpg"]
    coffee, broken = body["coffee.jpg"], body["broken.jpg"]
    assert coffee[1:4] == ["efficientnet_lite0", "espresso", "967"]
    assert 0 < float(coffee[4]) <= 1 and coffee[8:] == ["", ""]
    assert broken[2:8] == [""] * 6 and broken[8] == "unsupported_format" and broken[9]


def test_one_bad_file_fails_only_its_row_and_exits_1(mixed_dir, tmp_path):
    missing = tmp_path / "missing.jpg"
    paths = [mixed_dir / "broken.jpg", mixed_dir / "coffee.jpg", missing]
    result = invoke("classify", *paths, "-m", "efficientnet_lite0", "-f", "json")
    assert_exit(result, 1)
    rows = json.loads(result.stdout)
    assert [r["path"] for r in rows] == [str(p) for p in paths]  # input order kept
    broken, coffee, gone = rows
    assert broken["predictions"] == [] and broken["error"]["code"] == "unsupported_format"
    assert broken["error"]["message"]
    assert coffee["error"] is None and coffee["predictions"][0]["label"] == "espresso"
    assert gone["predictions"] == [] and gone["error"]["code"] == "file_not_found"


def test_output_file_gets_the_results_and_stdout_stays_empty(photo_dir, tmp_path):
    target = tmp_path / "out.json"
    result = invoke("classify", photo_dir / "coffee.jpg", "-m", "efficientnet_lite0", "-f", "json",
                    "--output", target)  # fmt: skip
    assert_exit(result, 0)
    assert result.stdout == ""
    (row,) = json.loads(target.read_text())
    assert row["predictions"][0]["label"] == "espresso"


def test_paths_with_brackets_are_shown_as_given(tmp_path, photos):
    """File names are data, not rich markup: `[draft]` is kept and `[/]` does not crash."""
    odd = tmp_path / "a["
    odd.mkdir()
    kept = tmp_path / "holiday [draft].jpg"
    kept.write_bytes(photos["coffee"])
    crash = odd / "]x.jpg"  # its path contains "[/]"
    crash.write_bytes(b"not an image")
    result = invoke("classify", kept, crash, "-m", "efficientnet_lite0")
    assert_exit(result, 1)
    assert "holiday [draft].jpg" in result.stdout
    assert "a[/]x.jpg" in result.stdout


def test_error_messages_with_brackets_are_printed_verbatim(tmp_path, photo_dir):
    weights = f"{tmp_path / 'x['}/]w [v2].pth"  # contains "[/]" and "[v2]"
    result = invoke("classify", photo_dir / "coffee.jpg", "-m", "resnet18", "--weights", weights)
    assert_exit(result, 2)
    assert f"Weights file not found: {weights}" in result.stderr


# --- which files ----------------------------------------------------------------------------------
@pytest.fixture
def tree(tmp_path, photos) -> Path:
    """coffee.jpg and notes.txt at the top; sub/chelsea.JPG and sub/deeper/cat.png below."""
    root = tmp_path / "tree"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "coffee.jpg").write_bytes(photos["coffee"])
    (root / "notes.txt").write_text("not an image")
    (root / "sub" / "chelsea.JPG").write_bytes(photos["chelsea"])
    shutil.copyfile(chelsea_png(photos, tmp_path), root / "sub" / "deeper" / "cat.png")
    return root


@pytest.mark.parametrize(
    "recursive, expected",
    [(False, ["coffee.jpg"]), (True, ["coffee.jpg", "sub/chelsea.JPG", "sub/deeper/cat.png"])],
    ids=["flat", "recursive"],
)
def test_a_directory_means_its_images(tree, recursive, expected):
    result = invoke("classify", tree, "-m", "efficientnet_lite0", "-f", "json",
                    *(["--recursive"] if recursive else []))  # fmt: skip
    assert_exit(result, 0)
    rows = json.loads(result.stdout)
    assert sorted(Path(r["path"]).relative_to(tree).as_posix() for r in rows) == expected


@pytest.mark.parametrize(
    "pattern, recursive, expected",
    [
        ("*.jpg", False, ["coffee.jpg"]),
        ("sub/*", False, ["sub/chelsea.JPG"]),  # folders a glob matches are left out
        ("**/*.png", True, ["sub/deeper/cat.png"]),
        ("*.gif", False, ["*.gif"]),  # matches nothing: kept, so it gets its own error row
    ],
)
def test_globs_expand_to_files(tree, pattern, recursive, expected):
    found = cli.expand_paths([str(tree / pattern)], recursive)
    assert [Path(p).relative_to(tree).as_posix() for p in found] == expected


def test_a_glob_on_the_command_line_is_expanded(tree):
    result = invoke("classify", tree / "*.jpg", tree / "*.gif", "-m", "efficientnet_lite0",
                    "-f", "json")  # fmt: skip
    assert_exit(result, 1)
    rows = json.loads(result.stdout)
    assert [r["path"] for r in rows] == [str(tree / "coffee.jpg"), str(tree / "*.gif")]
    assert rows[0]["error"] is None and rows[1]["error"]["code"] == "file_not_found"


# --- progress -------------------------------------------------------------------------------------
@pytest.mark.parametrize("count, shown", [(3, False), (5, True)])
def test_progress_bar_goes_to_stderr_only_for_more_than_a_few_images(
    monkeypatch, photo_dir, count, shown
):
    """The bar is drawn on a terminal's stderr; stdout carries the results alone."""
    terminal = io.StringIO()
    monkeypatch.setattr(cli, "err", Console(file=terminal, force_terminal=True, width=100))
    files = sorted(photo_dir.glob("*.jpg"))[:count]
    assert len(files) == count
    result = invoke("classify", *files, "-m", "efficientnet_lite0", "-f", "json")
    assert_exit(result, 0)
    assert len(json.loads(result.stdout)) == count
    assert ("Classifying" in terminal.getvalue()) is shown


def test_every_golden_photo_through_the_cli(photo_dir):
    result = invoke("classify", photo_dir, "-m", "efficientnet_lite0", "-f", "json", "-k", "1")
    assert_exit(result, 0)
    top1 = {Path(r["path"]).stem: r["predictions"][0]["label"] for r in json.loads(result.stdout)}
    assert top1 == GOLDEN


# --- models and weights ---------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["env", "flag"])
def test_auto_offline_falls_back_with_a_one_line_warning(photo_dir, how):
    env = {"LOCALVISION_OFFLINE": "1" if how == "env" else None}
    flag = ["--offline"] if how == "flag" else []
    result = invoke("classify", photo_dir / "coffee.jpg", "-f", "json", *flag, env=env)
    assert_exit(result, 0)
    (row,) = json.loads(result.stdout)
    assert row["model"] == "efficientnet_lite0"
    (warning,) = stderr_lines(result)
    assert warning.startswith("warning:")
    assert "offline" in warning and FETCH_HINT in warning


def test_auto_falls_back_when_the_download_fails(monkeypatch, photo_dir):
    """Online, but the weights URL does not answer: efficientnet_lite0 answers, with a warning."""
    dead = f"http://127.0.0.1:{free_port()}/resnet18-f37072fd.pth"  # nothing listens there
    resnet18 = get_spec("resnet18")
    spec = dataclasses.replace(resnet18, weights=dataclasses.replace(resnet18.weights, url=dead))
    monkeypatch.setitem(registry._MODELS, "resnet18", spec)
    result = invoke("classify", photo_dir / "coffee.jpg", "-f", "json",
                    env={"LOCALVISION_OFFLINE": None})  # fmt: skip
    assert_exit(result, 0)
    (row,) = json.loads(result.stdout)
    assert row["model"] == "efficientnet_lite0"
    (warning,) = stderr_lines(result)
    assert warning.startswith("warning:") and "download" in warning and FETCH_HINT in warning


@pytest.mark.parametrize("how", ["env", "flag"])
def test_named_resnet18_offline_without_weights_exits_2(photo_dir, how):
    env = {"LOCALVISION_OFFLINE": "1" if how == "env" else None}
    flag = ["--offline"] if how == "flag" else []
    result = invoke("classify", photo_dir / "coffee.jpg", "--model", "resnet18", *flag, env=env)
    assert_exit(result, 2)
    assert result.stdout == ""
    assert "resnet18-f37072fd.pth" in result.stderr
    assert FETCH_HINT in result.stderr and IMPORT_HINT in result.stderr


def test_auto_uses_resnet18_from_the_cache_without_a_warning(
    empty_cache, resnet18_weights, photo_dir
):
    empty_cache.mkdir(parents=True)
    shutil.copyfile(resnet18_weights, empty_cache / "resnet18-f37072fd.pth")
    result = invoke("classify", photo_dir / "coffee.jpg", "-f", "json", "-k", "4")
    assert_exit(result, 0)
    (row,) = json.loads(result.stdout)
    assert row["model"] == "resnet18" and len(row["predictions"]) == 4
    assert result.stderr == ""


def test_weights_file_serves_resnet18(resnet18_weights, photo_dir):
    result = invoke("classify", photo_dir / "coffee.jpg", "-m", "resnet18", "--weights",
                    resnet18_weights)  # fmt: skip
    assert_exit(result, 0)
    assert "model resnet18" in result.stdout


@pytest.mark.parametrize("cached", [False, True], ids=["empty_cache", "cached"])
def test_models_lists_each_model_with_its_state_and_where(
    monkeypatch, tmp_path, empty_cache, resnet18_weights, cached
):
    if cached:  # under a TORCH_HOME whose path looks like rich markup: shown verbatim
        home = tmp_path / "x[" / "]home [old]"
        monkeypatch.setenv("TORCH_HOME", str(home))
        empty_cache = home / "hub" / "checkpoints"
        empty_cache.mkdir(parents=True)
        shutil.copyfile(resnet18_weights, empty_cache / "resnet18-f37072fd.pth")
    result = invoke("models")
    assert_exit(result, 0)
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines()
            if line.startswith("│") and line.split("│")[1].strip()}  # fmt: skip
    assert set(rows) == {"resnet18", "efficientnet_lite0"}
    if cached:
        assert "present" in rows["resnet18"]
        assert f"cache: {empty_cache / 'resnet18-f37072fd.pth'}" in rows["resnet18"]
    else:
        assert "missing" in rows["resnet18"] and FETCH_HINT in rows["resnet18"]
    assert "present" in rows["efficientnet_lite0"] and "package:" in rows["efficientnet_lite0"]


# --- usage errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, env, says",
    [
        (["--model", "vgg99"], {}, "Unknown model 'vgg99'"),
        (["--top-k", "0"], {}, "--top-k"),
        (["--format", "xml"], {}, "--format"),
        ([], {"LOCALVISION_TOP_K": "lots"}, "Invalid setting"),
    ],
    ids=["unknown_model", "top_k_zero", "bad_format", "bad_env_setting"],
)
def test_usage_errors_exit_2(photo_dir, args, env, says):
    result = invoke("classify", photo_dir / "coffee.jpg", *args, env=env)
    assert_exit(result, 2)
    assert says in result.stderr and result.stdout == ""


def test_no_paths_is_a_usage_error():
    result = invoke("classify")
    assert_exit(result, 2)
    assert "Missing argument 'paths'" in result.stderr


def test_an_empty_directory_exits_2(tmp_path):
    result = invoke("classify", tmp_path)
    assert_exit(result, 2)
    assert "No images found" in result.stderr


# --- the installed command, for real -------------------------------------------------------------
LOCALVISION = Path(sys.executable).parent / "localvision"


@pytest.mark.parametrize(
    "extra, code",
    [([], 0), (["BROKEN"], 1), (["--model", "resnet18"], 2)],
    ids=["all_ok", "one_failed", "weights_missing"],
)
def test_console_script_exit_codes_and_streams(tmp_path, photo_dir, extra, code):
    assert LOCALVISION.is_file(), "the localvision console script is not installed"
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    args = [str(broken) if a == "BROKEN" else a for a in extra]
    env = {**os.environ, "TORCH_HOME": str(tmp_path / "torch_home"), "LOCALVISION_OFFLINE": "1"}
    proc = subprocess.run(
        [str(LOCALVISION), "classify", str(photo_dir / "coffee.jpg"), *args, "--format", "json"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    if code == 2:
        assert proc.stdout == "" and FETCH_HINT in proc.stderr
        return
    rows = json.loads(proc.stdout)  # stdout is pure JSON: the warning went to stderr
    assert rows[0]["model"] == "efficientnet_lite0"
    assert rows[0]["predictions"][0]["label"] == "espresso"
    assert [r["error"] is not None for r in rows] == [False] + [True] * (code == 1)
    (warning,) = [line for line in proc.stderr.splitlines() if line.strip()]
    assert warning.startswith("warning:") and FETCH_HINT in warning
