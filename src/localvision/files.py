"""Files and folders written whole or not at all, and never through a link planted in their place.

Every file the project writes into a user's folders (XMP sidecars, sorted copies, CSV reports,
key files) or into the model store goes through here:

    atomic_write(path, data)        bytes or text, via a fresh temporary file in the same folder
    atomic_copy(source, path)       the same, with a file's bytes (and times) as the data
    write_json(path, obj)           atomic_write of JSON (UTF-8, not ASCII-escaped)
    replace_dir(new, dest)          a finished folder takes dest's place by renames
    recover_replaced(root)          finishes or undoes a replace_dir a crash cut short
    sha256_file(path)               a file's SHA-256, read a MB at a time (weights, packages)

Why a fresh temporary file (`mkstemp`: O_CREAT|O_EXCL, a random name) and not a fixed name like
`.photo.xmp.tmp`: in a shared folder someone may plant a symbolic link under the fixed name, and
opening it for writing would write through the link into its target. `os.replace` then swaps
the name itself, so a reader sees the old file or the new one, never half of one; a link that
stands at `path` is replaced, not followed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

# replace_dir keeps dest under this name while the new folder takes its place; a crash between
# the two renames leaves it there for recover_replaced.
REPLACED = ".{name}.replaced"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(
    path: Path, data: bytes | str, *, sync: bool = True, mode: int | None = None
) -> None:
    """Write `data` to `path` whole or not at all. mode: the file's permissions (default: those
    of the file it replaces, else what the umask gives a new file, as open() would).
    sync=False: still whole for a crash of this process, not for a power cut (a file rewritten
    many times a minute). Raises OSError; callers turn it into their own typed error."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if mode is None:
        try:
            mode = path.stat(follow_symlinks=False).st_mode & 0o7777
            if path.is_symlink():
                mode = None
        except OSError:
            mode = None
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:200]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(temp, mode if mode is not None else 0o666 & ~_umask())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def atomic_copy(source: Path, path: Path, *, sync: bool = True) -> None:
    """Copy `source`'s bytes to `path` as atomic_write does (never through a link at `path` or
    at a temporary name), keeping its modification time."""
    fd, temp = tempfile.mkstemp(dir=Path(path).parent, prefix=f".{Path(path).name[:200]}.",
                                suffix=".tmp")  # fmt: skip
    try:
        with open(source, "rb") as src, os.fdopen(fd, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
            if sync:
                dst.flush()
                os.fsync(dst.fileno())
        shutil.copystat(source, temp)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj, *, sync: bool = True) -> None:
    atomic_write(path, json.dumps(obj, ensure_ascii=False, indent=1), sync=sync)


def read_json(path: Path) -> dict | None:
    """A JSON object from a file, or None when it is missing, unreadable or not an object."""
    try:
        found = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def replace_dir(new: Path, dest: Path) -> None:
    """Put the finished folder `new` (a sibling of `dest`) at `dest`, replacing what is there, so
    that at every moment either the old folder or the new one can be found after recovery:
    dest -> .dest.replaced, new -> dest, then the old one is removed. A crash between the two
    renames leaves `.dest.replaced` and no dest: `recover_replaced` puts it back."""
    new, dest = Path(new), Path(dest)
    backup = dest.with_name(REPLACED.format(name=dest.name))
    _recover_one(backup, dest)  # a swap cut short earlier goes first: no backup is left
    if dest.exists() or dest.is_symlink():  # a link is moved as a link, never followed
        os.replace(dest, backup)
    os.replace(new, dest)
    _remove(backup)


def recover_replaced(root: Path) -> list[str]:
    """Finish every replace_dir under `root` that a crash cut short: an old folder whose new one
    never arrived is put back; one whose new one did is removed. Returns the names put back."""
    restored = []
    try:
        backups = [p for p in Path(root).iterdir() if p.name.endswith(".replaced")]
    except OSError:
        return restored
    for backup in backups:
        name = backup.name[1 : -len(".replaced")]
        if name and _recover_one(backup, backup.with_name(name)):
            restored.append(name)
    return restored


def _recover_one(backup: Path, dest: Path) -> bool:
    if not (backup.exists() or backup.is_symlink()):
        return False
    if dest.exists() or dest.is_symlink():  # the new folder arrived: the old one is garbage
        _remove(backup)
        return False
    os.replace(backup, dest)
    return True


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def sha256_file(path: Path) -> str:
    """A file's SHA-256 (hex), read a MB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
