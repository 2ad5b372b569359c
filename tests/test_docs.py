"""The README is the front door: every setting is documented there, and every CLI option that
has a setting shares its help text and environment variable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main

from localvision.cli import app
from localvision.config import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_every_setting_is_in_the_readme_table(name):
    assert re.search(rf"\| `LOCALVISION_{name.upper()}` \|", README), name


def test_readme_documents_no_setting_that_does_not_exist():
    documented = set(re.findall(r"\| `LOCALVISION_([A-Z0-9_]+)` \|", README))
    assert documented == {n.upper() for n in Settings.model_fields}


def _commands():
    # typer ships its own copy of click: walk by duck type, not isinstance(click.Group)
    group = typer.main.get_command(app)
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from ((f"{name} {n}", c) for n, c in cmd.commands.items())
        else:
            yield name, cmd


# only commands with options that have a setting: a case with none would check nothing
WITH_SETTINGS = [
    (c, cmd) for c, cmd in _commands()
    if any(p.name in Settings.model_fields and p.param_type_name == "option" for p in cmd.params)
]  # fmt: skip


@pytest.mark.parametrize("command,cmd", WITH_SETTINGS, ids=[c for c, _ in WITH_SETTINGS])
def test_cli_options_with_a_setting_share_its_help(command, cmd):
    checked = 0
    for param in cmd.params:
        if param.name in Settings.model_fields and param.param_type_name == "option":
            assert param.help == Settings.model_fields[param.name].description, param.name
            checked += 1
    if command in ("classify", "serve", "bench"):
        assert checked >= 5  # the check really ran


def test_environment_variables_reach_the_cli(monkeypatch):
    monkeypatch.setenv("LOCALVISION_TOP_K", "7")
    monkeypatch.setenv("LOCALVISION_PORT", "9123")
    from localvision.cli import settings_from

    s = settings_from(port=None)
    assert (s.top_k, s.port) == (7, 9123)
    assert settings_from(port=9000).port == 9000  # the command line wins


def test_readme_names_the_two_setup_commands_and_ci_runs_the_test_one():
    assert "bash scripts/serve.sh" in README and "bash scripts/test.sh" in README
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in ci
