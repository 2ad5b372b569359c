"""files.py and the model store's swap: every file written into a user's folder or the store is
whole or not there, and never written through a link someone planted; a package replaced by a
training or an import is the old one or the new one, even after a SIGKILL between the renames."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from localvision.cli import app
from localvision.files import atomic_copy, atomic_write, recover_replaced, replace_dir
from localvision.models.store import ModelStore

LITE0 = ["--model", "efficientnet_lite0", "--backend", "torch"]


# --- atomic writes --------------------------------------------------------------------------------
@pytest.mark.unit
def test_a_link_planted_at_the_target_is_replaced_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    target = tmp_path / "out" / "photo.jpg.xmp"
    target.parent.mkdir()
    target.symlink_to(victim)
    atomic_write(target, b"<x/>")
    assert victim.read_text() == "precious"
    assert not target.is_symlink() and target.read_bytes() == b"<x/>"


@pytest.mark.unit
def test_the_temporary_name_is_fresh_so_a_planted_one_is_never_opened(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    folder = tmp_path / "out"
    folder.mkdir()
    # the names a fixed-name writer would use (the old sorting.py and xmp.py ones among them)
    for planted in (".photo.jpg.xmp.localvision-tmp", ".photo.jpg.xmp.tmp", ".photo.jpg.xmp."):
        (folder / planted).symlink_to(victim)
    atomic_write(folder / "photo.jpg.xmp", "new")
    source = tmp_path / "sidecar.xmp"
    source.write_text("copied")
    atomic_copy(source, folder / "photo.jpg.xmp")
    assert victim.read_text() == "precious"
    assert (folder / "photo.jpg.xmp").read_text() == "copied"
    assert sorted(p.name for p in folder.iterdir() if not p.is_symlink()) == ["photo.jpg.xmp"]


@pytest.mark.unit
def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path):
    path = tmp_path / "report.csv"
    path.write_text("old")

    class Boom:
        def encode(self, _):
            raise RuntimeError("disk gone")

    with pytest.raises(Exception):
        atomic_write(path, Boom())
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["report.csv"]


@pytest.mark.unit
def test_a_file_keeps_its_permissions_and_a_new_one_follows_the_umask(tmp_path):
    old = tmp_path / "key"
    old.write_text("a")
    old.chmod(0o600)
    atomic_write(old, "b")
    assert old.stat().st_mode & 0o777 == 0o600
    mask = os.umask(0o022)
    try:
        atomic_write(tmp_path / "new", "c")
    finally:
        os.umask(mask)
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o644


def test_sort_into_with_write_xmp_never_writes_through_a_planted_link(tmp_path, photo_dir,
                                                                     lite0_package):  # fmt: skip
    """The review's case: a shared output folder where someone planted links under the names
    the sidecar's copy would use."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "sorted"
    (out / "espresso").mkdir(parents=True)
    (out / "espresso" / ".coffee.jpg.xmp.localvision-tmp").symlink_to(victim)
    src = tmp_path / "in"
    src.mkdir()
    (src / "coffee.jpg").write_bytes((photo_dir / "coffee.jpg").read_bytes())
    result = CliRunner().invoke(app, ["classify", str(src / "coffee.jpg"), *LITE0, "--sort-into",
                                      str(out), "--write-xmp"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert victim.read_text() == "precious"
    sidecar = out / "espresso" / "coffee.jpg.xmp"
    assert not sidecar.is_symlink() and "espresso" in sidecar.read_text("utf-8")


# --- replacing a folder -------------------------------------------------------------------------
def _folder(path: Path, text: str) -> Path:
    path.mkdir()
    (path / "manifest.json").write_text(text)
    return path


@pytest.mark.unit
def test_replace_dir_swaps_and_leaves_nothing_behind(tmp_path):
    _folder(tmp_path / "m", "old")
    replace_dir(_folder(tmp_path / ".m-new", "new"), tmp_path / "m")
    assert (tmp_path / "m" / "manifest.json").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


@pytest.mark.unit
def test_a_swap_cut_between_its_renames_is_undone_and_one_cut_after_is_finished(tmp_path):
    # cut after dest -> backup: no dest; the old folder comes back
    _folder(tmp_path / ".a.replaced", "old a")
    # cut after new -> dest: both there; the backup goes
    _folder(tmp_path / ".b.replaced", "old b")
    _folder(tmp_path / "b", "new b")
    assert recover_replaced(tmp_path) == ["a"]
    assert (tmp_path / "a" / "manifest.json").read_text() == "old a"
    assert (tmp_path / "b" / "manifest.json").read_text() == "new b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


@pytest.mark.unit
def test_a_link_in_the_store_is_moved_as_a_link(tmp_path):
    """Replacing a package that is a symbolic link (the tests link the session's package in, an
    operator may too) never deletes what the link points to."""
    real = _folder(tmp_path / "real", "shared")
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "m").symlink_to(real, target_is_directory=True)
    replace_dir(_folder(tmp_path / "store" / ".m-new", "new"), tmp_path / "store" / "m")
    assert (real / "manifest.json").read_text() == "shared"
    assert (tmp_path / "store" / "m" / "manifest.json").read_text() == "new"


KILL_AT_SWAP = textwrap.dedent("""
    # Packages {name} again, and SIGKILLs itself at the moment the new folder is about to take
    # the old one's place (whatever call the store makes for it: os.replace or Path.rename).
    import os, signal, sys
    from pathlib import Path
    from localvision.config import Settings
    from localvision.models.importing import import_model

    real_replace, real_rename = os.replace, Path.rename

    def dying(src, dst):
        if Path(dst).name == sys.argv[1] and Path(src).name.startswith("." + sys.argv[1] + "-"):
            os.kill(os.getpid(), signal.SIGKILL)

    def replace(src, dst, **kw):
        dying(src, dst)
        return real_replace(src, dst, **kw)

    def rename(self, target):
        dying(self, target)
        return real_rename(self, target)

    os.replace, Path.rename = replace, rename
    import_model(Settings(), sys.argv[1], "resnet18", Path(sys.argv[2]), None, None, True)
""")


def test_a_replacement_killed_between_its_renames_keeps_the_model(r18_store, resnet18_weights,
                                                                  tmp_path, monkeypatch):  # fmt: skip
    """SIGKILL while `models import --replace` swaps r18-random: the model is still there (found
    where the swap left it), and the next start puts it back in place."""
    before = json.loads((r18_store / "r18-random" / "manifest.json").read_text())
    script = tmp_path / "kill_at_swap.py"
    script.write_text(KILL_AT_SWAP)
    proc = subprocess.run([sys.executable, str(script), "r18-random", str(resnet18_weights)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == -9, proc.stderr
    store = ModelStore(r18_store)
    package = store.get("r18-random")
    assert package is not None and package.manifest == before
    assert "r18-random" in [p.name for p in store.packages()]
    assert store.recover() == ["r18-random"]
    assert json.loads((r18_store / "r18-random" / "manifest.json").read_text()) == before
    assert not (r18_store / ".r18-random.replaced").exists()


def test_the_service_finishes_a_cut_swap_when_it_starts(r18_store, tmp_path):
    from fastapi.testclient import TestClient

    from localvision.config import Settings
    from localvision.server.app import create_app

    os.replace(r18_store / "r18-random", r18_store / ".r18-random.replaced")
    settings = Settings(model="r18-random", model_dir=r18_store, offline=True,
                        db=f"sqlite:///{tmp_path}/h.db", backend="torch")  # fmt: skip
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        assert (r18_store / "r18-random" / "manifest.json").is_file()
        assert client.get("/api/v1/models/r18-random/labels").status_code == 200
