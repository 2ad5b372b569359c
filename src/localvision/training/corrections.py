"""Limits on corrections (POST /api/v1/feedback): how many photos they may add to the Teach
store, counted from what is on disk, so a limit holds across restarts.

A correction is a photo whose sidecar says `source: feedback` (examples.py); its `user` and
`added_at` say who sent it and when. Two limits, checked before a new photo is kept:

- per user (`feedback_max_photos_per_user`): at most that many corrections stored by one user
  in any 24 hours, across every model -> 429 too_many_corrections, with Retry-After: when the
  oldest of them leaves the window. Admins (who may add any photo on the Teach page anyway)
  and auth off (the local user, trusted fully) are not limited by it.
- per model (`feedback_max_photos_per_model`): at most that many corrections in the model's
  Teach project, from everyone -> 507 corrections_full until an admin deletes some.

Photos added on the Teach page (upload, camera, paste, history) are not corrections and count
for neither. A photo already in the project (the same bytes, corrected again) adds nothing to
the disk and is not refused.

Counting reads every sidecar; to keep that cheap, a class folder's corrections are remembered
with the folder's modification time and read again only when it changed. A folder changed in
the last MTIME_TRUST_S seconds is always read again: a file system's clock is coarse, so a
change within the same tick as the last read would leave the time as it was (git's "racy"
index entries, the same cure).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..errors import CorrectionsFull, PhotoNotFound, TooManyCorrections
from .examples import TeachStore, example_id, read_json

WINDOW_S = 24 * 3600  # the per-user limit is per day: a person's pace, not a script's
MTIME_TRUST_S = 2.0


@dataclass(frozen=True)
class Correction:
    user: str | None
    added_at: float  # seconds since the epoch (0 when the sidecar does not say)


class Corrections:
    """The service's count of stored corrections (one per app, beside its TeachStore)."""

    def __init__(self, store: TeachStore, settings):
        self.store = store
        self.per_user = settings.feedback_max_photos_per_user
        self.per_model = settings.feedback_max_photos_per_model
        self._folders: dict[Path, tuple[int, list[Correction]]] = {}
        self._lock = threading.Lock()

    def check(self, project: str | None, data: bytes, user: str | None, limited: bool) -> None:
        """Refuse a new correction over a limit (the photo's typed error); called by
        TeachStore.add_feedback under its lock, before anything is written. `limited`: the
        sender is held to the per-user limit (a signed-in user who is not an admin)."""
        if project is not None and self._kept(project, data):
            return  # nothing new on disk: a correction of a photo already kept
        now = time.time()
        if limited:
            self._check_user(user, now)
        if project is not None and len(self.of_project(project)) >= self.per_model:
            raise CorrectionsFull(
                f"The Teach project {project!r} already holds {self.per_model} corrections, "
                "as many as this server keeps for one model.",
                hint="an admin can train it and delete corrections on the Teach page",
            )

    def _check_user(self, user: str | None, now: float) -> None:
        recent = sorted(c.added_at for c in self.everywhere()
                        if c.user == user and c.added_at > now - WINDOW_S)  # fmt: skip
        if len(recent) < self.per_user:
            return
        # the correction that must leave the window before there is room for one more
        frees = recent[len(recent) - self.per_user]
        wait = max(1, math.ceil(frees + WINDOW_S - now))
        raise TooManyCorrections(
            f"You have sent {len(recent)} corrections in the last 24 hours; this server keeps "
            f"at most {self.per_user} a day from one user.",
            retry_after=wait,
        )

    def _kept(self, project: str, data: bytes) -> bool:
        try:
            self.store.find(project, example_id(data))
        except PhotoNotFound:
            return False
        return True

    # --- counting ---
    def everywhere(self) -> list[Correction]:
        return [c for project in self.store.names() for c in self.of_project(project)]

    def of_project(self, project: str) -> list[Correction]:
        folder = self.store.path(project)
        try:
            classes = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
        except OSError:
            return []
        return [c for path in classes for c in self._of_class(path)]

    def _of_class(self, folder: Path) -> list[Correction]:
        try:
            mtime = folder.stat().st_mtime_ns
        except OSError:
            return []
        with self._lock:
            known = self._folders.get(folder)
        if known is not None and known[0] == mtime and time.time() - mtime / 1e9 > MTIME_TRUST_S:
            return known[1]
        found = _read_class(folder)
        with self._lock:
            self._folders[folder] = (mtime, found)
        return found


def _read_class(folder: Path) -> list[Correction]:
    """The corrections among a class folder's photos (their sidecars: `.<id>.json`)."""
    out = []
    try:
        photos = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    except OSError:
        return out
    for photo in photos:
        side = read_json(folder / f".{photo.stem}.json") or {}
        if side.get("source") == "feedback":
            out.append(Correction(side.get("user"), _epoch(side.get("added_at"))))
    return out


def _epoch(value) -> float:
    try:
        return datetime.fromisoformat(value).timestamp()
    except (TypeError, ValueError):
        return 0.0
