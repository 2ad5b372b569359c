"""The docs (README.md and docs/**/*.md) tell the truth about the code:

- the two reference pages made from the code (error codes, settings) are what
  scripts/gen_docs.py prints today, so a new error class or setting fails here until they are
  regenerated; every setting is on the settings page, and no other;
- every CLI option that has a setting shares its help; the environment reaches the CLI;
- the README names the two set-up commands, and CI runs the test one;
- every relative link resolves, anchors included;
- every command a page shows names real commands and options, and every shell or Python block
  is either run here, in a sandbox (a checkout-like folder with real photos, a video, the real
  model and a real server on loopback), or tagged `<!-- not run: REASON -->` just before it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer.main

from localvision.cli import app
from localvision.config import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text("utf-8")
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SETTINGS_PAGE = ROOT / "docs" / "reference" / "settings.md"


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def gen_docs():
    """scripts/gen_docs.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the generated reference pages ---------------------------------------------------------------
@pytest.mark.parametrize("page", ["error-codes.md", "settings.md"])
def test_generated_reference_page_is_up_to_date(page):
    path = ROOT / "docs" / "reference" / page
    assert path.read_text("utf-8") == gen_docs().pages()[path], (
        f"{rel(path)} is out of date: run python scripts/gen_docs.py"
    )


def test_every_error_class_says_what_it_means_and_has_its_own_code():
    classes = gen_docs().error_classes()
    assert len(classes) > 50  # the walk found errors.py's classes
    assert [c.__name__ for c in classes if not c.__dict__.get("__doc__")] == []
    codes = [c.code for c in classes]
    assert sorted({c for c in codes if codes.count(c) > 1}) == []


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_every_setting_is_on_the_settings_page(name):
    page = SETTINGS_PAGE.read_text("utf-8")
    assert re.search(rf"^\| `LOCALVISION_{name.upper()}` \|", page, re.M), name


def test_the_settings_page_documents_no_setting_that_does_not_exist():
    page = SETTINGS_PAGE.read_text("utf-8")
    documented = set(re.findall(r"^\| `LOCALVISION_([A-Z0-9_]+)` \|", page, re.M))
    assert documented == {n.upper() for n in Settings.model_fields}


# --- the CLI and the settings ---------------------------------------------------------------------
def _commands() -> dict[str, object]:
    """'classify', 'models import', ... -> the click command."""
    # typer ships its own copy of click: walk by duck type, not isinstance(click.Group)
    found = {}
    for name, cmd in typer.main.get_command(app).commands.items():
        if hasattr(cmd, "commands"):
            found.update({f"{name} {n}": c for n, c in cmd.commands.items()})
        found[name] = cmd
    return found


COMMANDS = _commands()
WITH_SETTINGS = {
    name: cmd for name, cmd in COMMANDS.items()
    if any(p.name in Settings.model_fields and p.param_type_name == "option" for p in cmd.params)
}  # fmt: skip


@pytest.mark.parametrize("command", sorted(WITH_SETTINGS))
def test_cli_options_with_a_setting_share_its_help(command):
    checked = 0
    for param in WITH_SETTINGS[command].params:
        if param.name in Settings.model_fields and param.param_type_name == "option":
            assert param.help == Settings.model_fields[param.name].description, param.name
            checked += 1
    assert checked >= (5 if command in ("classify", "serve", "bench") else 1)


def test_environment_variables_reach_the_cli(monkeypatch):
    monkeypatch.setenv("LOCALVISION_TOP_K", "7")
    monkeypatch.setenv("LOCALVISION_PORT", "9123")
    from localvision.cli import settings_from

    s = settings_from(port=None)
    assert (s.top_k, s.port) == (7, 9123)
    assert settings_from(port=9000).port == 9000  # the command line wins


def test_readme_names_the_two_setup_commands_and_ci_runs_the_test_one():
    assert "bash scripts/serve.sh" in README and "bash scripts/test.sh" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in ci


def test_readme_stays_a_front_door():
    assert len(README.splitlines()) <= 200


# --- links ---------------------------------------------------------------------------------------
def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"(?ms)^ *```.*?^ *```", "", path.read_text("utf-8"))
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


LINKS = [
    (page, target)
    for page in PAGES
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text("utf-8"))
    if not re.match(r"[a-z]+:", target)  # http:, https:, mailto: are not ours to check
]


@pytest.mark.parametrize("page,target", LINKS, ids=[f"{rel(p)}->{t}" for p, t in LINKS])
def test_relative_link_resolves(page, target):
    file, _, anchor = target.partition("#")
    path = (page.parent / file).resolve() if file else page
    assert path.exists(), f"{rel(page)} links to {target}, which does not exist"
    if anchor:
        assert anchor in anchors(path), f"{rel(page)} links to #{anchor}, not a heading there"


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(ROOT / t.partition("#")[0]).resolve() for p, t in LINKS if p.name == "README.md"}
    assert [rel(p) for p in PAGES[1:] if p.resolve() not in linked] == []


# --- code blocks --------------------------------------------------------------------------------
@dataclass
class Block:
    page: Path
    line: int
    lang: str
    code: str
    not_run: str | None  # the reason, when tagged

    @property
    def id(self) -> str:
        return f"{rel(self.page)}:{self.line}"


def blocks() -> list[Block]:
    found = []
    fence = re.compile(r"^( *)```(\w*)\n(.*?)^\1```$", re.M | re.S)
    for page in PAGES:
        text = page.read_text("utf-8")
        for m in fence.finditer(text):
            before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
            tag = re.fullmatch(r"<!-- not run: (.+) -->", before)
            code = re.sub(rf"(?m)^{m.group(1)}", "", m.group(3))  # a block in a list item
            line = text[: m.start()].count("\n") + 1
            found.append(Block(page, line, m.group(2), code, tag and tag.group(1).strip()))
    return found


BLOCKS = blocks()
SHELL, PYTHON = ("bash", "sh", "shell"), ("python",)
RUN = [b for b in BLOCKS if b.lang in SHELL + PYTHON and not b.not_run]
COMMAND = re.compile(r"^\s*(localvision|curl|docker|podman|bash|python|pip|sudo|\.venv/)\b")


def test_blocks_were_found():
    assert len(BLOCKS) > 20 and len(RUN) > 10


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_block_has_a_language_and_commands_are_marked_as_shell(block):
    assert block.lang, f"{block.id}: say the block's language (text for plain text)"
    if block.lang not in SHELL:
        assert not any(COMMAND.match(line) for line in block.code.splitlines()), (
            f"{block.id}: a block of commands is ```bash, so that it is run or tagged"
        )


def shell_commands(code: str):
    """Each `localvision ...` command of a shell block, as words (comments, pipes dropped)."""
    code = re.sub(r"\\\n|\n\s+(?=\[)", " ", code)  # continued lines, a synopsis's too
    for line in code.splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line.startswith(".venv/bin/localvision "):
            line = line.removeprefix(".venv/bin/")
        if line.startswith("localvision "):
            yield shlex.split(line)[1:]


SHELL_COMMANDS = [
    (b, words) for b in BLOCKS if b.lang in SHELL for words in shell_commands(b.code)
]  # fmt: skip


@pytest.mark.parametrize(
    "block,words", SHELL_COMMANDS, ids=[f"{b.id} {' '.join(w[:2])}" for b, w in SHELL_COMMANDS]
)
def test_shown_command_and_options_exist(block, words):
    if words[0].startswith("-"):  # localvision --help
        root = typer.main.get_command(app)
        assert words[0] in {o for p in root.params for o in p.opts} | {"--help"}
        return
    name = " ".join(words[:2]) if " ".join(words[:2]) in COMMANDS else words[0]
    assert name in COMMANDS, f"{block.id}: no command `localvision {name}`"
    cmd = COMMANDS[name]
    options = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}
    words = [w.strip("[]") for w in words]  # a synopsis: [--seed N]
    shown = {w.split("=")[0] for w in words if w.startswith("-") and w != "-"}
    assert shown <= options, f"{block.id}: `localvision {name}` has no {shown - options}"


# --- running the blocks ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sandbox(tmp_path_factory, photos, lite0_package, lite0):
    """A folder like a checkout a reader works in: the photos and video the examples name,
    `localvision` in .venv/bin (and on PATH), an offline model store with the bundled model,
    a private history database, and the real service on loopback. Yields (folder, env, url)."""
    from corpus import sign_photo_bytes
    from PIL import Image
    from servers import LiveServer
    from videos import make_video

    from localvision.server.app import create_app

    root = tmp_path_factory.mktemp("checkout")
    home = root / "home"
    files = {
        "photo.jpg": "coffee", "coffee.jpg": "coffee", "chelsea.jpg": "chelsea",
        "mug.jpg": "coffee", "new-photo.jpg": "coffee", "holidays/beach.jpg": "grace_hopper",
        "holidays/rocket.jpg": "rocket", "home/Pictures/2024/cat.jpg": "chelsea",
        "home/photos/shop/mug/1.jpg": "coffee", "home/photos/shop/mug/2.jpg": "coffee",
        "home/photos/shop/mug/3.jpg": "coffee", "home/photos/shop/cat/1.jpg": "chelsea",
        "home/photos/shop/cat/2.jpg": "chelsea", "home/photos/shop/cat/3.jpg": "chelsea",
    }  # fmt: skip
    for name, photo in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(photos[photo])
    (root / "sign.jpg").write_bytes(sign_photo_bytes())  # 禁止吸烟 / No Smoking, for docs/guide/text.md
    for name in ("cat.png", "scans/page.png"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.open(root / "chelsea.jpg").save(root / name)
    make_video(root / "clip.mp4", ["coffee", "chelsea"], seconds=1.0, rate=5)

    # curl exits 0 on a 4xx or 5xx unless told: a documented request that fails must fail here
    (home / ".curlrc").write_text("--fail-with-body\n--silent\n--show-error\n")
    venv = root / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "localvision").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m localvision "$@"\n')
    (venv / "localvision").chmod(0o755)
    (venv / "activate").write_text(f'export PATH="{venv}:$PATH"\n')
    store = root / "models"
    store.mkdir()
    (store / "efficientnet_lite0").symlink_to(lite0_package, target_is_directory=True)
    db = f"sqlite:///{root / 'history.db'}"
    env = {
        **os.environ, "HOME": str(home), "TORCH_HOME": str(root / "torch"),
        "LOCALVISION_MODEL_DIR": str(store), "LOCALVISION_OFFLINE": "1", "LOCALVISION_DB": db,
        "PATH": f"{venv}:{os.environ['PATH']}",
    }  # fmt: skip
    env.pop("LOCALVISION_MODEL", None)
    settings = Settings(model="efficientnet_lite0", offline=True, db=db, model_dir=store)
    with LiveServer(create_app(settings, classifier=lite0)) as server:
        yield root, env, server.url


@pytest.mark.parametrize("block", RUN, ids=[b.id for b in RUN])
def test_block_runs(block, sandbox):
    """The block as a reader would paste it, with the service's address made this one's."""
    root, env, url = sandbox
    code = re.sub(r"(127\.0\.0\.1|localhost):8000", url.removeprefix("http://"), block.code)
    if block.lang in SHELL:
        argv = ["bash", "-euo", "pipefail", "-c", code]
    else:
        argv = [sys.executable, "-c", code]
    done = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{block.id} failed:\n{code}\n{done.stdout}\n{done.stderr}"
