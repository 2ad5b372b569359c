"""Stage what the container image is built from, into a folder of the build context.

Run by scripts/build-image.sh with the repository's own venv (scripts/setup.sh), where torch
installs from local disk: the models are exported here, before the image build, because a
container build cannot install torch without downloading a multi-GB CUDA wheel. The image then
serves them without torch. What this writes (the Containerfile's stages read it):

    <stage>/requirements.txt  what serving needs: pyproject's dependencies minus the packages
                              named in [tool.localvision.image] serve-without (torch & co), plus
                              the PostgreSQL driver
    <stage>/wheels/           those as wheels, and localvision's own wheel
    <stage>/models/           the model store baked into the image: efficientnet_lite0 as an
                              OpenVINO IR (fp32; int8 too where its agreement check passes on the
                              calibration photos), resnet18 when a weights file is given; the
                              packages' torch weights are left out (the image has no torch)

Each part is redone only when what it is made from changed (a key file next to it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PSYCOPG = "psycopg[binary]>=3.1"  # compose.yaml's PostgreSQL; the binary build needs no libpq


def say(msg: str) -> None:
    print(f"stage: {msg}", file=sys.stderr, flush=True)


def dist_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


VIDEO = "av"  # PyAV: the service's camera streams; --with-video keeps it (about +100 MB)


def serving_requirements(pyproject: Path, video: bool = False) -> list[str]:
    """pyproject's runtime dependencies without the ones only the export needs. Derived, not
    listed again by hand, so a dependency added to pyproject reaches the image by itself."""
    data = tomllib.loads(pyproject.read_text("utf-8"))
    without = {n.lower() for n in data["tool"]["localvision"]["image"]["serve-without"]}
    if video:
        without.discard(VIDEO)
    reqs = [r for r in data["project"]["dependencies"] if dist_name(r) not in without]
    psycopg = [r for r in reqs if dist_name(r) == "psycopg"]
    if not psycopg:
        reqs.append(PSYCOPG)
    elif "binary" not in psycopg[0]:
        binary = re.sub(r"^psycopg(\[[^\]]*\])?", "psycopg[binary]", psycopg[0])
        reqs[reqs.index(psycopg[0])] = binary
    return reqs


def sha(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(hashlib.sha256(p).digest())
    return h.hexdigest()


def tree_bytes(path: Path) -> bytes:
    """The contents of every file under `path` (names and bytes), in a stable order."""
    if path.is_file():
        return path.read_bytes()
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest = hashlib.sha256(f.read_bytes()).digest()
        h.update(str(f.relative_to(path)).encode() + b"\0" + digest)
    return h.digest()


def fresh(key_file: Path, key: str) -> bool:
    return key_file.is_file() and key_file.read_text().strip() == key


def run(*cmd: str) -> None:
    subprocess.run(cmd, check=True)


def stage_wheels(stage: Path, python: str, video: bool) -> None:
    reqs = serving_requirements(ROOT / "pyproject.toml", video)
    (stage / "requirements.txt").write_text("\n".join(reqs) + "\n")
    wheels = stage / "wheels"
    pyproject = (ROOT / "pyproject.toml").read_bytes()
    key = sha("\n".join(reqs).encode(), tree_bytes(ROOT / "src"), pyproject)
    if fresh(wheels / ".key", key):
        say("wheels: up to date")
        return
    shutil.rmtree(wheels, ignore_errors=True)
    wheels.mkdir(parents=True)
    say(f"wheels: {len(reqs)} serving requirements (pyproject's, without torch & co)")
    # The versions this venv has (the ones the tests ran with), as constraints.
    frozen = subprocess.run([python, "-m", "pip", "freeze", "--exclude-editable"], check=True,
                            capture_output=True, text=True).stdout  # fmt: skip
    pins = [line for line in frozen.splitlines() if "==" in line]
    (stage / "constraints.txt").write_text("\n".join(pins) + "\n")
    # binary wheels only: the image's build stage has no compiler
    run(python, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "-d", str(wheels),
        "-r", str(stage / "requirements.txt"), "-c", str(stage / "constraints.txt"))
    run(python, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(ROOT))
    (wheels / ".key").write_text(key)


def localvision(python: str, *args: str, check: bool = True) -> int:
    return subprocess.run([python, "-m", "localvision", *args], check=check).returncode


def export(python: str, store: Path, model: str, calibration: Path | None, *extra: str) -> None:
    """fp32, then int8 where the project's agreement check passes (else it is not written)."""
    common = ["--model-dir", str(store), "--offline", *extra]
    localvision(python, "export", model, "--precision", "fp32", *common)
    if calibration is None:
        say(f"{model}: no calibration photos (--calibration DIR), fp32 only")
        return
    rc = localvision(python, "export", model, "--int8", "--calibration", str(calibration),
                     *common, check=False)  # fmt: skip
    say(f"{model}: int8 " + ("passed its check: baked in" if rc == 0 else
                             "not exported (the line above says why): fp32 only"))


def stage_models(stage: Path, python: str, resnet18: Path | None, calibration: Path | None) -> None:
    models = stage / "models"
    key = sha(tree_bytes(ROOT / "src"), resnet18.read_bytes() if resnet18 else b"",
              tree_bytes(calibration) if calibration else b"")  # fmt: skip
    if fresh(stage / "models.key", key):
        say("models: up to date")
        return
    shutil.rmtree(models, ignore_errors=True)
    (stage / "models.key").unlink(missing_ok=True)
    work = stage / "models-work"
    shutil.rmtree(work, ignore_errors=True)
    export(python, work, "efficientnet_lite0", calibration)
    if resnet18 is not None:
        export(python, work, "resnet18", calibration, "--weights", str(resnet18))
        # --weights packages live under .weights/<name>-<sha>; the image serves it as resnet18
        (done,) = (work / ".weights").glob("resnet18-*")
        done.rename(work / "resnet18")
    shutil.rmtree(work / ".weights", ignore_errors=True)
    for package in work.iterdir():
        # the torch weights stay out: the image has no torch, it serves the exported artifacts
        manifest = json.loads((package / "manifest.json").read_text("utf-8"))
        (package / manifest["weights"]["file"]).unlink()
    for path in [work, *work.rglob("*")]:  # readable by the image's user, whoever wrote them
        path.chmod(0o755 if path.is_dir() else 0o644)
    work.rename(models)
    (stage / "models.key").write_text(key)


# What the image is made from; build-image.sh skips the build when the image has this hash.
INPUTS = ("Containerfile", ".dockerignore", "pyproject.toml", "src", "scripts/build-image.sh",
          "scripts/image")  # fmt: skip


def inputs_hash(base: str, resnet18: Path | None, calibration: Path | None, video: bool) -> str:
    parts = [tree_bytes(ROOT / p) for p in INPUTS]
    parts += [base.encode(), sys.version.encode(), b"video" if video else b""]
    parts += [resnet18.read_bytes() if resnet18 else b""]
    parts += [tree_bytes(calibration) if calibration else b""]
    frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
                            capture_output=True, text=True).stdout  # the versions staged
    return sha(*parts, frozen.encode())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stage", type=Path)
    ap.add_argument("--resnet18-weights", type=Path)
    ap.add_argument("--calibration", type=Path)
    ap.add_argument("--requirements-only", action="store_true")
    ap.add_argument("--inputs-hash", action="store_true", help="print the hash of every input")
    ap.add_argument("--base", default="")
    ap.add_argument("--with-video", action="store_true", help="keep PyAV: camera streams")
    a = ap.parse_args()
    if a.inputs_hash:
        print(inputs_hash(a.base, a.resnet18_weights, a.calibration, a.with_video))
        return
    a.stage.mkdir(parents=True, exist_ok=True)
    if a.requirements_only:
        print("\n".join(serving_requirements(ROOT / "pyproject.toml", a.with_video)))
        return
    stage_wheels(a.stage, sys.executable, a.with_video)
    stage_models(a.stage, sys.executable, a.resnet18_weights, a.calibration)


if __name__ == "__main__":
    main()
