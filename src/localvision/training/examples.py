"""The Teach photo store: projects, their classes and their example photos, on disk.

    <model_dir>/.teach/<project>/project.json        name, title, base, mode, model, created_by, created_at
    <model_dir>/.teach/<project>/<class>/<id>.<ext>  a photo, byte for byte as uploaded
    <model_dir>/.teach/<project>/<class>/.<id>.json  its sidecar: id, class, source, user, added_at,
                                                     filename, model, predicted
    <model_dir>/.teach/<project>/job.json            the project's last training job (server/training_jobs.py)

A project folder is an ImageFolder (one sub-folder per class; files starting with "." are not
examples), so `localvision train <model_dir>/.teach/P --name P` trains on it as it is. This is
the only place localvision keeps photos: uploads for teaching and corrections ("wrong, it is X").

- A photo is validated with the project's own decoder and limits (imaging.decode, max_upload_mb,
  max_pixels) before it is kept; one that is not an image gets its typed error, alone.
- Its id is the first 16 hex digits of its SHA-256: the same photo twice in a class is one
  example; the same photo in another class of the project is refused (an upload) or moved (a
  correction: the newest word on what it shows wins).
- Every file is written atomically (a temporary "." file, then a rename), so a crash never leaves
  half a photo or a half-written sidecar that training would read.
"""

from __future__ import annotations

import hashlib
import io
import re
import secrets
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image

from ..errors import (
    ClassExists,
    ClassNotFound,
    ExampleInOtherClass,
    FileTooLarge,
    InvalidArgument,
    InvalidClassName,
    PhotoNotFound,
    ProjectExists,
    ProjectNotFound,
)
from ..files import atomic_write, read_json, write_json  # noqa: F401 (read_json: teach_routes)
from ..imaging import FORMATS, MB, decode
from ..models.registry import model_names
from ..models.store import ModelStore, valid_name
from ..names import check_folder_name
from .dataset import TRAIN_DIRS, VAL_DIRS, normalise  # the trainer's own rule for class names
from .run import trained_project

TEACH_DIR = ".teach"
PROJECT_FILE = "project.json"
JOB_FILE = "job.json"
SOURCES = ("upload", "camera", "paste", "history", "feedback")
# The file's own format names its extension (never the uploaded name: "photo.png" may be a JPEG).
EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp", "BMP": "bmp",
              "GIF": "gif", "TIFF": "tif"}  # fmt: skip
MEDIA_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "bmp": "image/bmp",
               "gif": "image/gif", "tif": "image/tiff"}  # fmt: skip
MAX_CLASS_NAME = 100  # characters: a label on a button, not an essay
MAX_TITLE = 200
# A trained model's name when the project's own name is taken by a model that was not trained
# from it (a registry model after corrections on it, an imported package, another project's):
# never replaced by training.
CUSTOM_SUFFIX = "-custom"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- names ---------------------------------------------------------------------------------------
def check_class_name(name: str) -> str:
    """A class name as a folder name: the user's own words (any script), checked by the one
    rule for such names (names.check_folder_name: not a path, not hidden, no control
    characters, at most 255 bytes of UTF-8), and none of the project's own files."""
    name = check_folder_name(name)
    if len(name) > MAX_CLASS_NAME:
        raise InvalidClassName(f"A class name may have at most {MAX_CLASS_NAME} characters.")
    if name in (PROJECT_FILE, JOB_FILE) or name == "__MACOSX":
        raise InvalidClassName(f"{name!r} is the name of one of the project's own files.")
    if name.casefold() in TRAIN_DIRS + VAL_DIRS:  # the folder would mean a train/val split
        raise InvalidClassName(
            f"{name!r} cannot be a class name: a dataset's {name}/ folder holds a split, not a "
            f'class. Call it, for example, "{name} (the class)".'
        )
    return name


def example_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def image_extension(data: bytes, *, max_bytes: int, max_pixels: int) -> str:
    """Validate a photo with the decoder every entry point uses (typed errors: empty, not an
    image, damaged, too many pixels) and the upload limit; its extension from its content."""
    if len(data) > max_bytes:
        raise FileTooLarge(f"This file is larger than {max_bytes / MB:g} MB.")
    decode(data, max_pixels=max_pixels)  # the whole decode: a truncated photo is refused here
    with Image.open(io.BytesIO(data), formats=FORMATS) as im:
        return EXTENSIONS.get(im.format or "", "img")


# --- the store -------------------------------------------------------------------------------------
class TeachStore:
    """The projects under <model_dir>/.teach. One per service (its lock orders the writes)."""

    def __init__(self, settings):
        self.settings = settings
        self.root = Path(settings.model_dir).expanduser() / TEACH_DIR
        self._lock = threading.RLock()

    @property
    def models(self) -> ModelStore:
        return ModelStore.of(self.settings)

    # --- projects ---
    def path(self, project: str) -> Path:
        return self.root / project

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if not p.name.startswith(".") and (p / PROJECT_FILE).is_file())  # fmt: skip

    def project(self, project: str) -> dict:
        """project.json of a project; 404 project_not_found."""
        found = None
        if project and "/" not in project and not project.startswith("."):
            found = read_json(self.path(project) / PROJECT_FILE)
        if found is None:
            raise ProjectNotFound(f"There is no Teach project {project!r}.")
        found.setdefault("model", self.model_name(project))
        return found

    def model_name(self, project: str) -> str:
        """What the model trained from this project is called (see CUSTOM_SUFFIX)."""
        if project == "auto" or project in model_names():
            return project + CUSTOM_SUFFIX
        package = self.models.get(project)
        if package is not None and trained_project(package) != project:
            return project + CUSTOM_SUFFIX
        return project

    def create(self, name: str, *, title: str | None = None, base: str, mode: str,
               classes=(), user: str | None = None) -> dict:  # fmt: skip
        """A new project with its classes, whole (a temporary folder renamed into place)."""
        valid_name(name)
        if title is not None and len(title) > MAX_TITLE:
            raise InvalidArgument(f"A title may have at most {MAX_TITLE} characters.")
        names = [check_class_name(c) for c in classes]
        _no_duplicates(names)
        with self._lock:
            dest = self.path(name)
            if dest.exists():
                raise ProjectExists(f"There is already a Teach project {name!r}.")
            meta = {
                "name": name,
                "title": (title or "").strip() or name,
                "base": base,
                "mode": mode,
                "model": self.model_name(name),
                "created_by": user,
                "created_at": now_iso(),
            }
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = self.root / f".{name}-{secrets.token_hex(4)}"
            tmp.mkdir()
            try:
                for c in names:
                    (tmp / c).mkdir()
                write_json(tmp / PROJECT_FILE, meta)
                tmp.rename(dest)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return meta

    def update(self, project: str, **fields) -> dict:
        with self._lock:
            meta = {**self.project(project), **fields}
            write_json(self.path(project) / PROJECT_FILE, meta)
            return meta

    def delete(self, project: str) -> dict:
        """The project and its photos; a model trained from it stays in the store."""
        with self._lock:
            meta = self.project(project)
            # renamed first, so a half-finished removal is never seen as a (damaged) project
            doomed = self.root / f".deleted-{project}-{secrets.token_hex(4)}"
            self.path(project).rename(doomed)
        shutil.rmtree(doomed, ignore_errors=True)
        return meta

    # --- classes ---
    def classes(self, project: str) -> list[str]:
        folder = self.path(project)
        self.project(project)
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))

    def class_dir(self, project: str, name: str) -> Path:
        """A class of the project, by its exact name; 404 class_not_found."""
        if name in self.classes(project):
            return self.path(project) / name
        raise ClassNotFound(f"The project {project!r} has no class {name!r}.")

    def find_class(self, project: str, name: str) -> str | None:
        """The existing class that `name` means (the same after normalisation), if any."""
        key = normalise(name)
        return next((c for c in self.classes(project) if normalise(c) == key), None)

    def add_class(self, project: str, name: str) -> str:
        name = check_class_name(name)
        with self._lock:
            existing = self.find_class(project, name)
            if existing is not None:
                same = "" if existing == name else f" (as {existing!r})"
                raise ClassExists(f"The project {project!r} already has the class {name!r}{same}.")
            (self.path(project) / name).mkdir()
        return name

    def delete_class(self, project: str, name: str) -> int:
        """The class and its photos; how many photos went."""
        with self._lock:
            folder = self.class_dir(project, name)
            count = len(_photos(folder))
            doomed = self.path(project) / f".deleted-{secrets.token_hex(4)}"
            folder.rename(doomed)
        shutil.rmtree(doomed, ignore_errors=True)
        return count

    def counts(self, project: str) -> list[dict]:
        return [{"name": c, "count": len(_photos(self.path(project) / c))}
                for c in self.classes(project)]  # fmt: skip

    # --- photos ---
    def examples(self, project: str) -> list[dict]:
        """Every example of the project, class by class, newest first within a class."""
        out = []
        for c in self.classes(project):
            folder = self.path(project) / c
            rows = [self._describe(folder, c, photo) for photo in _photos(folder)]
            out += sorted(rows, key=lambda r: r.get("added_at") or "", reverse=True)
        return out

    def _describe(self, folder: Path, name: str, photo: Path) -> dict:
        side = read_json(folder / f".{photo.stem}.json") or {}
        return {
            "id": photo.stem,
            "class": name,
            "source": side.get("source"),
            "user": side.get("user"),
            "added_at": side.get("added_at"),
            "filename": side.get("filename") or photo.name,
            "model": side.get("model"),
            "predicted": side.get("predicted"),
        }

    def find(self, project: str, photo_id: str) -> tuple[str, Path]:
        """(class, file) of an example by its id; 404 photo_not_found."""
        for c in self.classes(project):
            for photo in _photos(self.path(project) / c):
                if photo.stem == photo_id:
                    return c, photo
        raise PhotoNotFound(f"The project {project!r} has no photo {photo_id!r}.")

    def add_photo(
        self, project: str, name: str, data: bytes, *, filename: str | None = None,
        source: str = "upload", user: str | None = None, model: str | None = None,
        predicted: str | None = None, move: bool = False, ext: str | None = None,
    ) -> dict:  # fmt: skip
        """Keep a photo as an example of class `name` (which must exist). Raises the photo's
        typed error when it is not an image the service can read. move: a photo already in
        another class moves here (a correction); else that is refused. ext: the photo has been
        checked already (image_extension's answer)."""
        if source not in SOURCES:
            raise InvalidArgument(f"Unknown source {source!r}; one of {', '.join(SOURCES)}.")
        s = self.settings
        ext = ext or image_extension(data, max_bytes=s.max_upload_bytes, max_pixels=s.max_pixels)
        photo_id = example_id(data)
        with self._lock:
            folder = self.class_dir(project, name)
            try:
                where, old = self.find(project, photo_id)
            except PhotoNotFound:
                where = old = None
            if where == name:
                return {"id": photo_id, "class": name, "duplicate": True}
            if where is not None and not move:
                raise ExampleInOtherClass(
                    f"This photo is already an example of {where!r}; delete it there first."
                )
            side = {
                "id": photo_id, "class": name, "source": source, "user": user,
                "added_at": now_iso(), "filename": _clean_filename(filename), "model": model,
                "predicted": predicted,
            }  # fmt: skip
            atomic_write(folder / f"{photo_id}.{ext}", data)
            write_json(folder / f".{photo_id}.json", side)
            if old is not None:  # moved: gone from the class it was in
                _remove_photo(old)
        return {"id": photo_id, "class": name, "duplicate": False,
                **({"moved_from": where} if where else {})}  # fmt: skip

    # --- corrections ---
    def project_for_model(self, model: str) -> str | None:
        """The project a correction on `model` goes to: the one it was trained from (its
        project.json names it), else the project of its own name; None when there is none."""
        for name in self.names():
            if (read_json(self.path(name) / PROJECT_FILE) or {}).get("model") == model:
                return name
        return model if model in self.names() else None

    def add_feedback(self, model: str, label: str, data: bytes, *, filename: str | None,
                     user: str | None, predicted: str | None, mode: str,
                     check=None) -> dict:  # fmt: skip
        """Keep a corrected photo ("wrong, it is `label`") as an example of class `label` in
        the project of `model`: the project is made on the first correction (its base: the
        model's own base for a trained model, else the model), the class when it is new (a
        class that is the same after normalisation is that class). check(project or None,
        data): raises to refuse it (the limits, corrections.py), before anything is made."""
        label = check_class_name(label)
        s = self.settings
        # checked first: a file that is not a photo makes no project and no class
        ext = image_extension(data, max_bytes=s.max_upload_bytes, max_pixels=s.max_pixels)
        with self._lock:
            project = self.project_for_model(model)
            if check is not None:
                check(project, data)
            if project is None:
                package = self.models.get(model)
                source = package.source if package is not None else {}
                base = source.get("base", model) if source.get("kind") == "trained" else model
                project = valid_name(model)
                self.create(project, base=base, mode=mode, user=user)
            name = self.find_class(project, label) or self.add_class(project, label)
            row = self.add_photo(project, name, data, filename=filename, source="feedback",
                                 user=user, model=model, predicted=predicted, move=True,
                                 ext=ext)  # fmt: skip
        return {"project": project, **row}

    def delete_photo(self, project: str, photo_id: str) -> dict:
        with self._lock:
            name, photo = self.find(project, photo_id)
            _remove_photo(photo)
        return {"id": photo_id, "class": name}


def _photos(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    except OSError:
        return []


def _remove_photo(photo: Path) -> None:
    photo.unlink(missing_ok=True)
    (photo.parent / f".{photo.stem}.json").unlink(missing_ok=True)


def _clean_filename(name: str | None) -> str | None:
    """The uploaded file's name, as a label only (never a path): its last component, short."""
    if not name:
        return None
    return re.split(r"[/\\]", name)[-1][:200] or None


def _no_duplicates(names: list[str]) -> None:
    seen: dict[str, str] = {}
    for n in names:
        key = normalise(n)
        if key in seen:
            raise ClassExists(f"The classes {seen[key]!r} and {n!r} are the same name.")
        seen[key] = n
