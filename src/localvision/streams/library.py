"""What a photo library gets from an answer, besides its row: `--write-xmp` (a sidecar with the
labels as keywords, and with --text the text read as its description: xmp.py) and `--sort-into`
(a folder per top label: sorting.py). Used by `classify` and `watch` alike, after the road has
answered.

The sidecar is written first, next to the image; sorting then takes it along (copied beside a
link or a copy, moved with --move), named after the image's new name.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..errors import LocalVisionError
from ..results import text_of
from . import sorting, xmp


class Library:
    """The side effects the settings ask for, for one model's answers."""

    def __init__(self, settings, spec, model: str):
        self.settings = settings
        self.spec = spec
        self.model = model
        self.placed: Counter[str] = Counter()  # how many were placed how ("hard link", ...)
        self.sidecars = 0

    @classmethod
    def from_settings(cls, settings, clf) -> "Library | None":
        """A Library when --sort-into or --write-xmp is on, else None."""
        if settings.sort_into is None and not settings.write_xmp:
            return None
        return cls(settings, clf.spec, clf.name)

    def file(self, result) -> list[LocalVisionError]:
        """Sidecar and folder for one answered image; an error row gets neither. Returns what
        failed (typed), so the caller can say so and go on with the next image."""
        if not result.ok:
            return []
        s = self.settings
        image = Path(result.source)
        failed: list[LocalVisionError] = []
        if s.write_xmp:
            flat, tree = xmp.keywords(result, self.spec, s.lang, s.min_confidence)
            text = text_of(result.text)  # "" without --text or where none was read
            if flat or text.strip():  # a "not sure" answer claims no keyword; its text stays
                try:
                    xmp.write(image, flat, tree, self.model, s.xmp_sidecar, text)
                    self.sidecars += 1
                except LocalVisionError as exc:
                    failed.append(exc)
        if s.sort_into is not None:
            try:
                placed = sorting.place(image, s.sort_into, sorting.folder_for(result, s.lang),
                                       s.sort_mode, self._companions(image))  # fmt: skip
                self.placed[placed.how] += 1
            except LocalVisionError as exc:
                failed.append(exc)
        return failed

    def _companions(self, image: Path) -> list:
        """The sidecars that go along with an image: ours when we wrote one; with --move, any
        sidecar of either form, so a move never leaves someone's sidecar behind."""
        s = self.settings
        forms = list(xmp.SIDECARS) if s.sort_mode == "move" else [s.xmp_sidecar] * s.write_xmp
        return [
            (image.with_name(xmp.sidecar_name(image.name, form)),
             lambda name, form=form: xmp.sidecar_name(name, form))
            for form in forms
        ]  # fmt: skip

    def summary(self) -> str | None:
        """e.g. "sorted 4 images into out (3 hard links, 1 symlink); 4 XMP sidecars written"."""
        parts = []
        if self.settings.sort_into is not None:
            n = sum(self.placed.values())
            hows = ", ".join(f"{c} {how}" for how, c in sorted(self.placed.items()))
            parts.append(f"sorted {n} image{'s' * (n != 1)} into {self.settings.sort_into}"
                         + (f" ({hows})" if hows else ""))  # fmt: skip
        if self.settings.write_xmp:
            n = self.sidecars
            parts.append(f"{n} XMP sidecar{'s' * (n != 1)} written")
        return "; ".join(parts) or None
