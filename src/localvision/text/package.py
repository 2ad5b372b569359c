"""The text reader's package in the store: its models, their versions and SHA-256, together.

    <model_dir>/.text/<name>/
        manifest.json   kind "text", the engine (rapidocr and its version), the languages, and
                        per part (detector, orientation, recogniser): file, model, SHA-256
        detector.onnx, orientation.onnx, recogniser.onnx

rapidocr ships PP-OCR's Chinese + English models inside its wheel; the package is made from
them at first use, by copying (nothing is downloaded, ever), and written whole or not at all
(a temporary folder swapped in by files.replace_dir). Every load checks each part against the
manifest's SHA-256, so a damaged or swapped file is refused (text_model_damaged) rather than
read. A package of another name can be put in the store by hand with the same layout.
It lives under the hidden `.text/` folder: the classification store lists only classifiers.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import TextModelDamaged, TextReadingUnavailable
from ..files import read_json, replace_dir, sha256_file, write_json
from ..names import check_model_name

FORMAT_VERSION = 1
TEXT_DIR = ".text"
# part -> how its file is named in the rapidocr wheel's models folder
PARTS = {"detector": "_det_", "orientation": "_cls_", "recogniser": "_rec_"}
ENGINE = "rapidocr"


@dataclass(frozen=True)
class TextPackage:
    path: Path
    manifest: dict

    @property
    def name(self) -> str:
        return self.manifest["name"]

    def file(self, part: str) -> Path:
        return self.path / self.manifest["parts"][part]["file"]

    def verify(self) -> "TextPackage":
        """Each part's bytes against the manifest's SHA-256 (TextModelDamaged if one differs)."""
        for part, entry in self.manifest["parts"].items():
            path = self.path / entry["file"]
            if not path.is_file() or sha256_file(path) != entry["sha256"]:
                raise TextModelDamaged(
                    f"The text reader's {part} ({path}) is missing or does not match its "
                    "SHA-256 in the package's manifest.",
                    hint=f"Remove {self.path} and it is made again from the rapidocr wheel.",
                )
        return self


def engine_version() -> str:
    """The installed rapidocr's version; TextReadingUnavailable when it is not installed."""
    if importlib.util.find_spec(ENGINE) is None:
        raise TextReadingUnavailable(
            "Reading text needs the optional text reader (rapidocr), which is not installed."
        )
    return importlib.metadata.version(ENGINE)


def wheel_models() -> dict[str, Path]:
    """The part -> model file that the installed rapidocr ships (one of each)."""
    engine_version()
    folder = Path(importlib.util.find_spec(ENGINE).origin).parent / "models"
    found = {}
    for part, marker in PARTS.items():
        files = sorted(folder.glob(f"*{marker}*.onnx"))
        if len(files) != 1:
            raise TextReadingUnavailable(
                f"The installed rapidocr does not ship exactly one {part} model in {folder} "
                f"(found {len(files)}); reinstall it: pip install 'localvision[text]'."
            )
        found[part] = files[0]
    return found


def package_path(model_dir: Path, name: str) -> Path:
    return Path(model_dir).expanduser() / TEXT_DIR / check_model_name(name)


def read_text_package(path: Path) -> TextPackage | None:
    manifest = read_json(path / "manifest.json")
    if not manifest or manifest.get("format_version") != FORMAT_VERSION:
        return None
    if manifest.get("kind") != "text" or set(manifest.get("parts", {})) != set(PARTS):
        return None
    return TextPackage(path, manifest)


def text_package(model_dir: Path, name: str) -> TextPackage:
    """The package of that name, verified; made from the rapidocr wheel when it is not there."""
    path = package_path(model_dir, name)
    package = read_text_package(path) or write_text_package(path, name)
    return package.verify()


def write_text_package(dest: Path, name: str) -> TextPackage:
    """Copy the wheel's models into a new package at `dest`, whole or not at all."""
    version = engine_version()
    parts = {}
    dest.parent.mkdir(parents=True, exist_ok=True)
    new = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.new-"))
    try:
        for part, source in wheel_models().items():
            file = f"{part}.onnx"
            shutil.copyfile(source, new / file)
            parts[part] = {"file": file, "model": source.stem, "sha256": sha256_file(new / file),
                           "source": f"{ENGINE} {version} wheel"}  # fmt: skip
        manifest = {
            "format_version": FORMAT_VERSION,
            "kind": "text",
            "name": name,
            "title": "PP-OCR (Chinese and English)",
            "engine": {"name": ENGINE, "version": version},
            "languages": ["zh", "en"],
            "parts": parts,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        write_json(new / "manifest.json", manifest)
        replace_dir(new, dest)
    finally:
        shutil.rmtree(new, ignore_errors=True)
    return TextPackage(dest, manifest)


def state_line(model_dir: Path, name: str) -> str:
    """One line on the text reader's package for `localvision models`: ready (its models and
    size), made at first use, or not installed (and how to install it)."""
    path = package_path(model_dir, name)
    package = read_text_package(path)
    if package is not None:
        size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
        models = ", ".join(p["model"] for p in package.manifest["parts"].values())
        engine = package.manifest["engine"]
        return (f"text reader {name}: ready, {size / 2**20:.0f} MB ({models}; "
                f"{engine['name']} {engine['version']}) in {path}")  # fmt: skip
    try:
        version = engine_version()
    except TextReadingUnavailable:
        return f"text reader {name}: not installed (pip install 'localvision[text]')"
    return f"text reader {name}: made from the {ENGINE} {version} wheel at its first use"
