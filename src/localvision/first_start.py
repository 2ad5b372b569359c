"""Who can get in when `localvision serve` starts with auth on: the first admin and key.

A service reachable from other machines is never open by accident (cli/admin.py: serve_auth), so
a fresh one has nobody to let in. At start, with no users yet:
- `admin_password_file` (LOCALVISION_ADMIN_PASSWORD_FILE, e.g. a Docker/Podman secret): the
  user `admin` is created with that password, for the web sign-in;
- `api_key_file` (LOCALVISION_API_KEY_FILE): when the file does not exist, an API key for
  `admin` (created, keys only, when missing) is made and written there (mode 0600), as
  TorchServe writes its key file; an existing file is left alone, and said so when its key is
  no longer valid;
- otherwise the log says how to make the first key or admin, inside a container with the
  `docker exec` / `podman exec` command for this very container.
"""

from __future__ import annotations

import socket
from pathlib import Path

from .errors import InvalidArgument, LocalVisionError
from .files import atomic_write

ADMIN = "admin"


def read_secret(path: Path, what: str) -> str:
    """A secret file's content without the newline editors and `echo` leave at its end."""
    try:
        return Path(path).read_text("utf-8").rstrip("\r\n")
    except (OSError, UnicodeError) as exc:
        raise InvalidArgument(f"Cannot read {what} {path}: {exc}") from None


def in_container() -> bool:
    return Path("/.dockerenv").exists() or Path("/run/.containerenv").exists()


def how_to_get_in() -> str:
    """The commands that make the first admin or key, runnable where the operator is."""
    if in_container():
        # docker and podman name a container's hostname after its id, which `exec` accepts
        host = socket.gethostname()
        return (f"`docker exec {host} localvision keys create` (or podman exec), or "
                f"`docker exec -it {host} localvision users add NAME --admin`; or start it with "
                "LOCALVISION_ADMIN_PASSWORD_FILE / LOCALVISION_API_KEY_FILE")  # fmt: skip
    return "`localvision users add NAME --admin` or `localvision keys create`"


def provision(store, settings) -> list[str]:
    """Create the first admin and key the settings ask for; returns what to tell the operator."""
    said = []
    if settings.admin_password_file and store.count_users() == 0:
        password = read_secret(settings.admin_password_file, "the admin password file")
        try:
            store.add_user(ADMIN, password, role="admin")
        except InvalidArgument as exc:  # too short: say which file it came from
            raise InvalidArgument(f"The admin password file {settings.admin_password_file}: "
                                  f"{exc.message}") from None  # fmt: skip
        said.append(f"Created user {ADMIN} (role admin) with the password in "
                    f"{settings.admin_password_file}.")  # fmt: skip
    key_file = settings.api_key_file
    if key_file and not Path(key_file).exists():
        if store.get_user(ADMIN) is None:
            store.add_user(ADMIN, None, role="admin")
        key_id, key = store.create_key(ADMIN, "first start")
        try:
            write_private(Path(key_file), key + "\n")
        except OSError as exc:  # a folder this user cannot write: no key nobody has
            store.revoke_key(key_id)
            raise InvalidArgument(
                f"Cannot write the API key file {key_file}: {exc.strerror or exc}.",
                hint="LOCALVISION_API_KEY_FILE must be in a folder this user can write "
                "(in the image: under /data, e.g. /data/keys/admin.key)",
            ) from None
        said.append(f"Wrote an API key for {ADMIN} to {key_file}.")
    elif key_file:
        try:
            store.verify_key(read_secret(key_file, "the API key file"))
        except LocalVisionError as exc:
            said.append(f"warning: the API key in {key_file} does not work here ({exc.message}); "
                        "delete the file and restart to get a new one.")  # fmt: skip
    return said


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text, mode=0o600)
