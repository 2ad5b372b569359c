"""Weight files: find them, verify them, fetch them, import them.

Resolution order for a model: an explicit `--weights FILE`, then the torch hub cache
($TORCH_HOME/hub/checkpoints), then the file a Python package ships, then a download from the
published URL with its SHA-256 check (unless offline). Downloads land atomically in the cache.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .config import torch_home
from .errors import WeightsDownloadFailed, WeightsInvalid, WeightsMissing
from .files import sha256_file
from .models.spec import ModelSpec

# Long enough for a slow proxy to answer, short enough that an offline machine is not kept waiting.
CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Located:
    path: Path
    origin: str  # "file" | "cache" | "package" | "download"


@dataclass(frozen=True)
class WeightsStatus:
    state: str  # "present" | "downloadable" | "missing"
    path: Path | None
    origin: str | None
    detail: str


def cache_dir() -> Path:
    return torch_home() / "hub" / "checkpoints"


def cache_path(spec: ModelSpec) -> Path:
    return cache_dir() / spec.weights.filename


def locate(spec: ModelSpec, weights_file: Path | None = None) -> Located | None:
    """Weights already on this machine, without downloading anything."""
    if weights_file is not None:
        path = Path(weights_file).expanduser()
        if not path.is_file():
            raise WeightsMissing(f"Weights file not found: {path}")
        return Located(path, "file")
    cached = cache_path(spec)
    if cached.is_file():
        return Located(cached, "cache")
    if spec.weights.locate_in_package is not None:
        try:
            path = Path(spec.weights.locate_in_package())
        except ImportError:
            return None
        if path.is_file():
            return Located(path, "package")
    return None


def resolve(
    spec: ModelSpec,
    weights_file: Path | None = None,
    offline: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
) -> Located:
    """The weights to load, downloading them if allowed; raises a ModelError otherwise."""
    found = locate(spec, weights_file)
    if found is not None:
        return found
    if offline or spec.weights.url is None:
        why = "offline mode is on" if offline and spec.weights.url else "they are not installed"
        raise WeightsMissing(
            f"{spec.name}'s weights ({spec.weights.filename}) are not on this machine and "
            f"{why}.",
            hint=spec.weights_hint,
        )
    return Located(fetch(spec, progress=progress), "download")


def fetch(
    spec: ModelSpec,
    progress: Callable[[int, int | None], None] | None = None,
    timeout: float = CONNECT_TIMEOUT_S,
) -> Path:
    """Download the published weights into the cache, checking their SHA-256 prefix."""
    url = spec.weights.url
    if url is None:
        raise WeightsDownloadFailed(
            f"{spec.name} has no download URL; its weights come with "
            f"the package {spec.weights.package}.",
            hint=spec.weights_hint,
        )
    target = cache_path(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".download-", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=timeout)
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise WeightsDownloadFailed(
                    f"Could not download {spec.name}'s weights from {url}: {reason}.",
                    hint=(
                        f"check the network, or download the file elsewhere and run "
                        f"localvision weights import {spec.name} FILE"
                    ),
                ) from None
            with response:
                total = response.length
                done = 0
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
        if total is not None and done != total:
            raise WeightsDownloadFailed(
                f"The download of {spec.name}'s weights ended after {done} of {total} bytes."
            )
        _check_hash(spec, digest.hexdigest(), url)
        os.replace(tmp, target)
        return target
    except (OSError, TimeoutError) as exc:
        raise WeightsDownloadFailed(
            f"Downloading {spec.name}'s weights from {url} failed: {exc}."
        ) from None
    finally:
        tmp.unlink(missing_ok=True)


def import_file(spec: ModelSpec, source: Path) -> Path:
    """Copy a weights file obtained elsewhere into the cache, after checking its SHA-256."""
    source = Path(source).expanduser()
    if not source.is_file():
        raise WeightsMissing(f"No such file: {source}")
    _check_hash(spec, sha256_file(source), str(source))
    target = cache_path(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".import-", suffix=".part")
    os.close(fd)
    try:
        shutil.copyfile(source, tmp_name)
        os.replace(tmp_name, target)
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    return target


def _check_hash(spec: ModelSpec, hexdigest: str, where: str) -> None:
    if not hexdigest.startswith(spec.weights.sha256_prefix):
        raise WeightsInvalid(
            f"{where} is not {spec.name}'s published weights: its SHA-256 starts with "
            f"{hexdigest[:8]}, expected {spec.weights.sha256_prefix}."
        )


def probe_download(spec: ModelSpec, timeout: float = 3.0) -> str | None:
    """None when the weights URL answers, else the reason it does not (for status displays)."""
    if spec.weights.url is None:
        return "no download URL"
    request = urllib.request.Request(spec.weights.url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return None
    except (urllib.error.URLError, OSError) as exc:
        return str(getattr(exc, "reason", exc))


def status(spec: ModelSpec, weights_file: Path | None = None, offline: bool = False) -> WeightsStatus:
    try:
        found = locate(spec, weights_file)
    except WeightsMissing as exc:
        return WeightsStatus("missing", None, None, exc.message)
    if found is not None:
        return WeightsStatus("present", found.path, found.origin, f"{found.origin}: {found.path}")
    if spec.weights.url is None:
        return WeightsStatus("missing", None, None, f"install {spec.weights.package}")
    if offline:
        return WeightsStatus("missing", None, None, "offline; " + spec.weights_hint)
    reason = probe_download(spec)
    if reason is None:
        return WeightsStatus("downloadable", None, None, spec.weights.url)
    return WeightsStatus("missing", None, None, f"cannot reach {spec.weights.url} ({reason})")
