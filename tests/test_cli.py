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
import re
import shutil
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from corpus import GOLDEN
from rich.console import Console
from servers import free_port
from typer.testing import CliRunner

from localvision import inputs
from localvision.cli import app
from localvision.cli import render as cli_render
from localvision.config import Settings
from localvision.models import get_spec, registry

runner = CliRunner()
FETCH_HINT = "localvision weights fetch resnet18"
IMPORT_HINT = "localvision weights import resnet18 FILE"


pytestmark = pytest.mark.usefixtures("empty_cache")


def invoke(*args: str, env: dict | None = None, input: str | None = None):
    """Run the CLI in-process; a wide terminal so table cells are not folded."""
    env = {"COLUMNS": "400", **(env or {})}
    return runner.invoke(app, [str(a) for a in args], env=env, input=input, prog_name="localvision")


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
    assert set(row) == {"path", "model", "predictions", "uncertain", "error"}
    preds = row["predictions"]
    assert len(preds) == 5 and row["uncertain"] is False
    assert all(set(p) == {"label", "label_en", "index", "probability"} for p in preds)
    assert all(p["label"] == p["label_en"] for p in preds)  # English asked for
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
        "label_2", "index_2", "probability_2", "uncertain", "error_code", "error_message",
    ]  # fmt: skip
    body = {Path(r[0]).name: r for r in rows[1:]}
    assert sorted(body) == ["broken.jpg", "chelsea.png", "coffee.jpg"]
    coffee, broken = body["coffee.jpg"], body["broken.jpg"]
    assert coffee[1:4] == ["efficientnet_lite0", "espresso", "967"]
    assert 0 < float(coffee[4]) <= 1 and coffee[8:] == ["false", "", ""]
    assert broken[2:8] == [""] * 6 and broken[9] == "unsupported_format" and broken[10]


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


def test_unwritable_output_is_a_typed_error_before_the_model(photo_dir, tmp_path):
    """-o in a folder that does not exist, or naming a folder: said before anything is
    classified (exit 2, no 'unexpected' error), so a long run is not lost at its end."""
    for output, said in [
        (tmp_path / "missing" / "out.csv", "does not exist"),
        (tmp_path, "is a folder"),
    ]:
        result = invoke("classify", photo_dir / "coffee.jpg", "-m", "efficientnet_lite0",
                        "-o", output)  # fmt: skip
        assert_exit(result, 2)
        assert said in result.stderr and "unexpected" not in result.stderr, result.stderr
        assert "efficientnet_lite0" not in result.stderr  # before the model loads


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
    found = inputs.expand_paths([str(tree / pattern)], recursive)
    assert [Path(p).relative_to(tree).as_posix() for p in found.paths] == expected
    assert not found.skipped  # a glob's matches, like files named directly, are never skipped


def test_a_glob_on_the_command_line_is_expanded(tree):
    result = invoke("classify", tree / "*.jpg", tree / "*.gif", "-m", "efficientnet_lite0",
                    "-f", "json")  # fmt: skip
    assert_exit(result, 1)
    rows = json.loads(result.stdout)
    assert [r["path"] for r in rows] == [str(tree / "coffee.jpg"), str(tree / "*.gif")]
    assert rows[0]["error"] is None and rows[1]["error"]["code"] == "file_not_found"


@pytest.fixture
def folder_with_others(tmp_path, photos) -> Path:
    """Two photos among files that are not images: notes.txt, scan.pdf and README (no suffix)."""
    d = tmp_path / "others"
    d.mkdir()
    (d / "coffee.jpg").write_bytes(photos["coffee"])
    shutil.copyfile(chelsea_png(photos, tmp_path), d / "chelsea.png")
    (d / "notes.txt").write_text("not an image")
    (d / "scan.pdf").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    (d / "README").write_text("photos from the trip")
    return d


def test_a_directory_says_how_many_files_it_skipped_and_why(folder_with_others):
    result = invoke("classify", folder_with_others, "-m", "efficientnet_lite0", "-f", "json")
    assert_exit(result, 0)  # the images all succeeded; the others were not inputs
    rows = json.loads(result.stdout)
    assert sorted(Path(r["path"]).name for r in rows) == ["chelsea.png", "coffee.jpg"]
    assert stderr_lines(result) == [
        "note: skipped 3 files that are not images (.pdf, .txt, no extension); "
        "--strict reports each as an error"
    ]


def test_strict_reports_each_skipped_file_as_its_own_error_row(folder_with_others):
    result = invoke("classify", folder_with_others, "-m", "efficientnet_lite0", "-f", "json",
                    "--strict")  # fmt: skip
    assert_exit(result, 1)
    rows = json.loads(result.stdout)
    names = [Path(r["path"]).name for r in rows]
    assert names == ["README", "chelsea.png", "coffee.jpg", "notes.txt", "scan.pdf"]  # in order
    by_name = dict(zip(names, rows))
    for name in ("README", "notes.txt", "scan.pdf"):
        assert by_name[name]["predictions"] == []
        assert by_name[name]["error"]["code"] == "unsupported_format"
    assert "'.txt' is not an image file extension" in by_name["notes.txt"]["error"]["message"]
    assert "no file extension" in by_name["README"]["error"]["message"]
    assert by_name["coffee.jpg"]["predictions"][0]["label"] == "espresso"
    assert result.stderr == ""  # every skipped file is in the results instead


def test_strict_error_rows_are_in_the_table_too(folder_with_others):
    result = invoke("classify", folder_with_others, "-m", "efficientnet_lite0", "--strict")
    assert_exit(result, 1)
    assert "unsupported_format: Skipped: '.pdf' is not an image file extension" in result.stdout


def test_a_file_named_directly_is_read_whatever_its_name(tmp_path, photos):
    """Only a directory's files are skipped by name; a file given by name is decoded by content."""
    named = tmp_path / "holiday.photo"
    named.write_bytes(photos["coffee"])
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    result = invoke("classify", named, text, "-m", "efficientnet_lite0", "-f", "json")
    assert_exit(result, 1)
    photo_row, text_row = json.loads(result.stdout)
    assert photo_row["predictions"][0]["label"] == "espresso"
    assert text_row["error"]["code"] == "unsupported_format"
    assert result.stderr == ""  # nothing skipped


def test_a_directory_of_no_images_says_what_it_skipped(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    result = invoke("classify", tmp_path, "-m", "efficientnet_lite0")
    assert_exit(result, 2)
    lines = stderr_lines(result)
    assert lines[0].startswith("note: skipped 1 file that is not an image (.txt)")
    assert lines[1] == "error: No images found in the given paths."
    strict = invoke("classify", tmp_path, "-m", "efficientnet_lite0", "-f", "json", "--strict")
    assert_exit(strict, 1)  # with --strict the file is a failed input, not a usage error
    (row,) = json.loads(strict.stdout)
    assert row["error"]["code"] == "unsupported_format"


# --- local files: limited by pixels, not bytes ------------------------------------------------
def test_a_local_photo_over_10_mb_is_classified_and_one_over_max_pixels_is_refused(tmp_path):
    """max_upload_mb limits HTTP uploads; a local file is limited by its pixels (max_pixels)."""
    from corpus import photo

    im = photo("chelsea")
    big = tmp_path / "chelsea-6x.png"
    im.resize((im.width * 6, im.height * 6), 3).save(big, "PNG", compress_level=0)
    assert big.stat().st_size > 10 * 1024 * 1024  # over the 10 MB upload limit
    pixels = im.width * 6 * im.height * 6

    result = invoke("classify", big, "-m", "efficientnet_lite0", "-f", "json")
    assert_exit(result, 0)
    (row,) = json.loads(result.stdout)
    assert row["error"] is None and row["predictions"][0]["label"] == GOLDEN["chelsea"]

    refused = invoke("classify", big, "-m", "efficientnet_lite0", "-f", "json",
                     "--max-pixels", pixels - 1)  # fmt: skip
    assert_exit(refused, 1)
    (row,) = json.loads(refused.stdout)
    assert row["predictions"] == [] and row["error"]["code"] == "image_too_large"


# --- progress -------------------------------------------------------------------------------------
@pytest.mark.parametrize("count, shown", [(3, False), (5, True)])
def test_progress_bar_goes_to_stderr_only_for_more_than_a_few_images(
    monkeypatch, photo_dir, count, shown
):
    """The bar is drawn on a terminal's stderr; stdout carries the results alone."""
    terminal = io.StringIO()
    monkeypatch.setattr(cli_render, "err", Console(file=terminal, force_terminal=True, width=100))
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
    monkeypatch.setenv("LOCALVISION_MODEL_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("COLUMNS", "250")  # wide enough that no cell is folded
    if cached:  # under a TORCH_HOME whose path looks like rich markup: shown verbatim
        home = tmp_path / "x[" / "]home [old]"
        monkeypatch.setenv("TORCH_HOME", str(home))
        empty_cache = home / "hub" / "checkpoints"
        empty_cache.mkdir(parents=True)
        shutil.copyfile(resnet18_weights, empty_cache / "resnet18-f37072fd.pth")

    def rows():
        result = invoke("models")
        assert_exit(result, 0)
        return {line.split("│")[1].strip(): line for line in result.stdout.splitlines()
                if line.startswith("│") and line.split("│")[1].strip()}  # fmt: skip

    listed = rows()
    assert set(listed) == {"resnet18", "efficientnet_lite0", "mobilenet_v3_large", "resnet50"}
    if cached:
        assert "present" in listed["resnet18"]
        assert f"cache: {empty_cache / 'resnet18-f37072fd.pth'}" in listed["resnet18"]
    else:
        assert "missing" in listed["resnet18"] and FETCH_HINT in listed["resnet18"]
    lite = listed["efficientnet_lite0"]
    assert "present" in lite and "package:" in lite
    # once used, it is in the store: ready, with its size and its exports
    from localvision import load_classifier

    load_classifier("efficientnet_lite0", offline=True, precision="fp32")
    lite = rows()["efficientnet_lite0"]
    assert "ready" in lite and "MB" in lite and "openvino fp32" in lite and "1000" in lite


# --- usage errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, env, says",
    [
        (["--model", "vgg99"], {}, "Unknown model 'vgg99'"),
        (["--top-k", "0"], {}, "--top-k"),
        (["--format", "xml"], {}, "--format"),
        ([], {"LOCALVISION_TOP_K": "lots"}, "Invalid value for LOCALVISION_TOP_K"),
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
    assert "Missing argument 'PATHS'" in result.stderr


def test_an_empty_directory_exits_2(tmp_path):
    result = invoke("classify", tmp_path)
    assert_exit(result, 2)
    assert "No images found" in result.stderr


# --- help reads like click's ----------------------------------------------------------------------
def _all_commands():
    """Every command path, e.g. ("classify",), ("keys", "create"), with its click command."""
    import typer.main

    def walk(prefix, cmd):
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                yield from walk((*prefix, name), sub)
        else:
            yield prefix, cmd

    return list(walk((), typer.main.get_command(app)))


TYPER_TYPE_LABELS = re.compile(r"<(bool|str|int|float|file|dir|path|list\[\w+\])>|\{\w+\}")


@pytest.mark.parametrize(
    "command",
    [c for c, _ in _all_commands()] + [()],
    ids=[" ".join(c) for c, _ in _all_commands()] + ["localvision"],
)
def test_help_shows_click_metavars_and_no_python_types(command):
    result = invoke(*command, "--help")
    assert_exit(result, 0)
    assert not TYPER_TYPE_LABELS.search(result.stdout), result.stdout
    assert re.search(r"--help +Show this message and exit\.", result.stdout)  # a flag: no type


def _option_row(help_text: str, option: str) -> str:
    (row,) = [line for line in help_text.splitlines() if re.search(rf"\s{option}\s", line)]
    return row


def test_classify_usage_and_option_metavars():
    result = invoke("classify", "--help")
    assert_exit(result, 0)
    assert "Usage: localvision classify [OPTIONS] PATHS..." in result.stdout
    rows = {o: _option_row(result.stdout, o) for o in (
        "--format", "--backend", "--device", "--precision", "--top-k", "--weights", "--offline",
    )}  # fmt: skip
    assert "[table|json|csv]" in rows["--format"]
    for name in ("backend", "device", "precision"):  # the choices are the setting's own
        choices = "|".join(typing.get_args(Settings.model_fields[name].annotation))
        assert f"[{choices}]" in rows[f"--{name}"]
    assert "INTEGER [x>=1]" in rows["--top-k"] and "FILE" in rows["--weights"]
    assert re.search(r"--offline\s+Never download", rows["--offline"])


def test_serve_lists_the_choices_of_log_format_and_auth():
    result = invoke("serve", "--help")
    assert_exit(result, 0)
    assert "[auto|json|text]" in _option_row(result.stdout, "--log-format")
    assert "[auto|on|off]" in _option_row(result.stdout, "--auth")
    assert "INTEGER [0<=x<=65535]" in _option_row(result.stdout, "--port")  # from the setting


def test_usage_lines_follow_click_conventions():
    assert "Usage: localvision weights fetch [OPTIONS] [MODEL]" in invoke(
        "weights", "fetch", "--help").stdout  # fmt: skip
    assert "Usage: localvision keys revoke [OPTIONS] KEY_ID" in invoke(
        "keys", "revoke", "--help").stdout  # fmt: skip


def _setting_options(cmd) -> list:
    """A command's options that stand for a setting (named as its Settings field)."""
    return [p for p in cmd.params
            if p.name in Settings.model_fields and p.param_type_name == "option"]  # fmt: skip


def _commands_and_groups():
    """Every command path with its click command, groups too (`models` has options of its
    own), the top level left out (it has none)."""
    import typer.main

    def walk(prefix, cmd):
        if prefix:
            yield prefix, cmd
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            yield from walk((*prefix, name), sub)

    return list(walk((), typer.main.get_command(app)))


# Only commands that have options with settings: a case with none would check nothing.
WITH_SETTINGS = [(p, c) for p, c in _commands_and_groups() if _setting_options(c)]


@pytest.mark.parametrize("path, cmd", WITH_SETTINGS, ids=[" ".join(p) for p, _ in WITH_SETTINGS])
def test_every_option_with_a_setting_shares_its_help_and_choices(path, cmd):
    """tests/test_docs.py checks help against `click.Option`, which typer 0.29's own (vendored)
    click classes are not; this checks the options typer really builds."""
    options = _setting_options(cmd)
    assert options, path  # listed in WITH_SETTINGS for them
    for param in options:
        field = Settings.model_fields[param.name]
        assert param.help == field.description, (path, param.name)
        if typing.get_origin(field.annotation) is typing.Literal:
            assert param.type_descriptor.choices == typing.get_args(field.annotation)


@pytest.mark.unit
def test_no_parametrized_case_checks_nothing():
    """Each case of the test above has options to check, and every command whose options are
    made from the settings is one of its cases (`weights fetch` and `weights import` have none,
    so they are not)."""
    assert all(_setting_options(cmd) for _, cmd in WITH_SETTINGS)
    listed = {" ".join(p) for p, _ in WITH_SETTINGS}
    declared = {" ".join(p) for p, c in _commands_and_groups()
                if getattr(c.callback, "settings_names", None)}  # fmt: skip
    assert declared and declared <= listed, declared - listed
    assert {"classify", "watch", "video", "serve", "bench", "export", "train", "models",
            "keys create", "db upgrade"} <= listed  # fmt: skip
    assert not {"weights fetch", "weights import"} & listed


@pytest.mark.unit
@pytest.mark.parametrize("path, cmd", WITH_SETTINGS, ids=[" ".join(p) for p, _ in WITH_SETTINGS])
def test_a_command_has_the_options_of_the_settings_it_names(path, cmd):
    """The settings a command names (options.settings_options) are its options, spelled as
    options.flags says; an option with a setting's name that it does not name shares only the
    help (`models import --labels`: that model's labels, not LOCALVISION_LABELS)."""
    from localvision.cli.options import flags

    named = getattr(cmd.callback, "settings_names", ())
    options = {p.name: p for p in _setting_options(cmd)}
    assert set(named) <= set(options), path
    for name in named:
        assert tuple(options[name].opts) == flags(name), (path, name)
        assert options[name].default is None  # not given: the environment or the default
    assert set(options) - set(named) <= {"labels"}, path


# --- a bad value says which option, the value and what is allowed ---------------------------------
@pytest.mark.parametrize(
    "args, env, says",
    [
        (["classify", "P", "--format", "xml"], {},
         "error: Invalid value for '--format' / '-f': 'xml' is not one of 'table', 'json', 'csv'."),
        (["classify", "P", "--backend", "tensorrt"], {},
         "error: Invalid value for '--backend': 'tensorrt' is not one of 'auto', 'torch', "
         "'openvino', 'onnxruntime'."),
        (["classify", "P", "--device", "tpu"], {},
         "error: Invalid value for '--device': 'tpu' is not one of 'cpu', 'cuda'."),
        (["bench", "--precision", "int4"], {},
         "error: Invalid value for '--precision': 'int4' is not one of 'auto', 'fp32', 'bf16', "
         "'fp16', 'int8'."),
        (["serve", "--log-format", "xml"], {},
         "error: Invalid value for '--log-format': 'xml' is not one of 'auto', 'json', 'text'."),
        (["serve", "--auth", "maybe"], {},
         "error: Invalid value for '--auth': 'maybe' is not one of 'auto', 'on', 'off'."),
        (["classify", "P", "--top-k", "0"], {},
         "error: Invalid value for '--top-k' / '-k': 0 is not in the range x>=1."),
        (["classify", "P", "--batch-size", "0"], {},
         "error: Invalid value for '--batch-size': 0 is not in the range 1<=x<=1024."),
        (["classify", "P", "--top-k", "lots"], {},
         "error: Invalid value for '--top-k' / '-k': 'lots' is not a valid integer."),
        (["classify", "P", "--max-pixels", "0"], {},
         "error: Invalid value for '--max-pixels': 0 is not in the range x>=1."),
        (["classify", "P"], {"LOCALVISION_BACKEND": "tensorrt"},
         "error: Invalid value for LOCALVISION_BACKEND: 'tensorrt' is not one of 'auto', "
         "'torch', 'openvino' or 'onnxruntime'."),
        (["classify", "P"], {"LOCALVISION_BATCH_SIZE": "many"},
         "error: Invalid value for LOCALVISION_BATCH_SIZE: 'many' is not a valid integer."),
    ],
    ids=["format", "backend", "device", "precision", "log_format", "auth", "top_k_range",
         "batch_size_range", "top_k_type", "max_pixels_range", "env_backend", "env_batch_size"],
)  # fmt: skip
def test_a_bad_value_names_the_option_the_value_and_what_is_allowed(photo_dir, args, env, says):
    args = [str(photo_dir / "coffee.jpg") if a == "P" else a for a in args]
    result = invoke(*args, env=env)
    assert_exit(result, 2)
    assert result.stdout == ""
    lines = stderr_lines(result)
    assert says in lines, lines
    assert "Value error" not in result.stderr and "pydantic" not in result.stderr
    if not env:  # a command-line mistake: the usage line first, then where to read more
        assert lines[0].startswith(f"Usage: localvision {args[0]} [OPTIONS]")
        assert lines[-1] == f"  to fix: see 'localvision {args[0]} --help'"


# --- one renderer: every error the CLI ends with looks the same -----------------------------------
@pytest.mark.parametrize(
    "args, env, hint",
    [
        (["classify", "P", "--format", "xml"], {}, True),
        (["classify", "P", "--model", "resnet18"], {}, True),  # weights missing (offline)
        (["classify", "P", "--model", "vgg99"], {}, False),
        (["classify", "P"], {"LOCALVISION_TOP_K": "lots"}, True),
        (["keys", "revoke", "999"], {"LOCALVISION_DB": "DB"}, True),
        (["users", "add", "bad name!", "--password-stdin"], {"LOCALVISION_DB": "DB"}, False),
        (["serve", "--host", "0.0.0.0", "--auth", "off"], {"LOCALVISION_DB": "DB"}, True),
    ],
    ids=["usage", "weights_missing", "unknown_model", "bad_env", "unknown_key", "bad_username",
         "public_without_auth"],
)  # fmt: skip
def test_every_error_is_one_error_line_and_its_hint(photo_dir, tmp_path, args, env, hint):
    args = [str(photo_dir / "coffee.jpg") if a == "P" else a for a in args]
    env = {k: f"sqlite:///{tmp_path / 'auth.db'}" if v == "DB" else v for k, v in env.items()}
    result = invoke(*args, env=env, input="a-long-enough-password\n")
    assert_exit(result, 2)
    lines = [line for line in stderr_lines(result) if not line.startswith("Usage: ")]
    assert len(lines) == 1 + hint, lines
    assert lines[0].startswith("error: ")
    assert not hint or lines[1].startswith("  to fix: ")
    assert not set("╭╰│") & set(result.stderr)  # no panels: lines a person and grep can read


# --- a failing backend never prints a traceback ---------------------------------------------------
class FailingBackend:
    """A backend whose framework fails on every call, as a driver error or an out-of-memory does.
    (A real backend cannot be made to fail on demand, so this one stands in for it; everything
    around it, the Classifier, the road and the CLI, is the real code.)"""

    name, device, precision = "torch", "cpu", "fp32"

    def infer(self, batch):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")


@pytest.fixture
def failing_model(monkeypatch):
    """The CLI loads a real efficientnet_lite0 Classifier around the failing backend."""
    import localvision.classifier as classifier_module
    from localvision.classifier import Classifier

    def from_settings(settings):
        return Classifier(get_spec("efficientnet_lite0"), FailingBackend(), settings)

    monkeypatch.setattr(classifier_module, "from_settings", from_settings)


def test_a_backend_failing_in_classify_is_one_error_line(failing_model, photo_dir):
    result = invoke("classify", photo_dir / "coffee.jpg", "-f", "json")
    assert_exit(result, 2)
    assert result.stdout == ""
    assert stderr_lines(result) == [
        "error: The model failed on a batch of 1 (RuntimeError: CUDA error: an illegal memory "
        "access was encountered)."
    ]


def test_a_backend_failing_in_bench_is_one_error_line(failing_model):
    result = invoke("bench", "--iterations", "1")
    assert_exit(result, 2)
    assert result.stdout == ""
    assert stderr_lines(result) == [
        "error: The model failed while being timed (RuntimeError: CUDA error: an illegal memory "
        "access was encountered)."
    ]


@pytest.mark.parametrize("command", [["classify", "P"], ["bench"]])
def test_an_unexpected_error_is_one_readable_line(monkeypatch, photo_dir, command):
    """Not a LocalVisionError (here: a backend's native library missing at load): one line that
    names it, exit 2, no traceback."""
    import localvision.classifier as classifier_module

    def from_settings(settings):
        raise ImportError("libopenvino.so.2540: cannot open shared object file")

    monkeypatch.setattr(classifier_module, "from_settings", from_settings)
    args = [str(photo_dir / "coffee.jpg") if a == "P" else a for a in command]
    result = invoke(*args)
    assert_exit(result, 2)
    assert stderr_lines(result) == [
        "error: unexpected ImportError: libopenvino.so.2540: cannot open shared object file",
        "  to fix: this is a bug in localvision; please report it with the command that you ran",
    ]


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


# --- options made from the settings (cli/options.py) ----------------------------------------------
def _toy_app(receiver: str = "settings"):
    """A one-command app whose options are made from three settings; it prints what it got."""
    import typer

    from localvision.cli.base import App
    from localvision.cli.options import Given, settings_options

    toy = App()

    @toy.command()
    @settings_options("top_k", "backend", "video_fps")
    def show(name: str = typer.Argument(...), *, settings: Settings):
        print(name, settings.top_k, settings.backend, settings.video_fps)

    @toy.command()
    @settings_options("top_k")
    def later(*, given: Given):
        print(given.values, given.settings().top_k)

    @toy.command()
    def other():  # two commands, so each is called by its name
        pass

    return toy


@pytest.mark.unit
def test_a_command_receives_the_settings_its_options_make(monkeypatch):
    monkeypatch.delenv("LOCALVISION_TOP_K", raising=False)
    toy = _toy_app()
    result = runner.invoke(toy, ["show", "x", "-k", "5", "--fps", "0.5"])
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == ["x", "5", "auto", "0.5"]  # not given: the default
    result = runner.invoke(toy, ["show", "x"], env={"LOCALVISION_BACKEND": "torch"})
    assert result.stdout.split() == ["x", "3", "torch", "2.0"]  # the environment, then the default
    result = runner.invoke(toy, ["later", "--top-k", "7"])
    assert result.stdout.strip() == "{'top_k': 7} 7"  # `given`: the values, built when asked


@pytest.mark.unit
@pytest.mark.parametrize(
    "args, env, says",
    [
        (["show", "x", "--backend", "tpu"], {}, "Invalid value for '--backend': 'tpu'"),
        (["show", "x", "-k", "0"], {}, "Invalid value for '--top-k' / '-k': 0 is not in the range"),
        (["show", "x", "--fps", "0"], {}, "Invalid value for '--fps'"),  # gt=0: Settings says it
        (["show", "x"], {"LOCALVISION_TOP_K": "0"}, "Invalid value for LOCALVISION_TOP_K"),
    ],
    ids=["choice", "bound", "settings_check", "env"],
)  # fmt: skip
def test_a_refused_value_names_its_option_or_variable(args, env, says):
    result = runner.invoke(_toy_app(), args, env=env)
    assert result.exit_code == 2, result.output
    assert says in result.stderr, result.stderr


@pytest.mark.unit
def test_options_are_spelled_typed_and_bounded_from_the_settings():
    from localvision.cli import options

    assert options.flags("top_k") == ("--top-k", "-k")
    assert options.flags("model_dir") == ("--model-dir",)
    assert options.flags("video_every") == ("--every",)  # a command's own subject: short
    assert options.flags("stream_timeout_s") == ("--timeout-s",)
    assert options.flags("train_label_smoothing") == ("--label-smoothing",)
    assert options.flags("rtsp_transport") == ("--rtsp-transport",)
    assert options.annotation("weights") == typing.Optional[Path]  # Path | None
    assert options.annotation("batch_size") == typing.Optional[int]
    assert typing.get_args(options.annotation("lang"))[0] == typing.Literal["en", "zh"]
    batch = options.option("batch_size")
    assert (batch.min, batch.max, batch.default) == (1, 1024, None)
    assert batch.help == Settings.model_fields["batch_size"].description
    assert options.option("weights").dir_okay is False
    assert options.option("model_dir").file_okay is False


@pytest.mark.unit
def test_a_setting_that_does_not_exist_fails_when_the_command_is_made():
    from localvision.cli.options import settings_options

    with pytest.raises(ValueError, match="'top_kk' is not a setting"):
        settings_options("top_kk")
    with pytest.raises(ValueError, match="named twice"):
        settings_options("top_k", "top_k")
