"""Typed errors: every failure a user can cause or meet has a stable code, an HTTP status and a
sentence a person understands. Each surface (JSON, web UI, CLI) renders them in one place."""

from __future__ import annotations


class LocalVisionError(Exception):
    """Base class. `code` is stable (clients branch on it); `message` is for people."""

    code = "internal_error"
    status = 500
    # A short hint telling the user what to do next; rendered by the CLI and the UI when present.
    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message}

    @staticmethod
    def from_dict(data: dict) -> "LocalVisionError":
        """Rebuild a typed error sent across a process boundary (by its stable code)."""
        cls = _by_code(LocalVisionError).get(data.get("code"), LocalVisionError)
        return cls(data.get("message", "unknown error"), hint=data.get("hint"))

    def __str__(self) -> str:
        return self.message


# --- inputs -------------------------------------------------------------------------------------
class InputError(LocalVisionError):
    """Something is wrong with one input; only that input's row fails."""

    code = "invalid_input"
    status = 400


class EmptyFile(InputError):
    code = "empty_file"
    status = 400


class UnsupportedFormat(InputError):
    code = "unsupported_format"
    status = 415


class CorruptImage(InputError):
    code = "corrupt_image"
    status = 422


class ImageTooLarge(InputError):
    """Too many pixels (decompression-bomb guard), refused before pixels are decoded."""

    code = "image_too_large"
    status = 413


class FileTooLarge(InputError):
    code = "file_too_large"
    status = 413


class FileNotFound(InputError):
    code = "file_not_found"
    status = 404


class InvalidArchive(InputError):
    code = "invalid_archive"
    status = 400


class InvalidArgument(LocalVisionError):
    code = "invalid_argument"
    status = 422


# --- models and weights -------------------------------------------------------------------------
class ModelError(LocalVisionError):
    """The model cannot be used; the CLI exits 2, the server answers 503."""

    code = "model_error"
    status = 503


class UnknownModel(ModelError):
    code = "unknown_model"
    status = 400


class WeightsMissing(ModelError):
    code = "weights_missing"


class WeightsInvalid(ModelError):
    code = "weights_invalid"


class WeightsDownloadFailed(ModelError):
    code = "weights_download_failed"


class BackendUnavailable(ModelError):
    code = "backend_unavailable"


class ModelNotReady(ModelError):
    code = "model_not_ready"


# --- serving ------------------------------------------------------------------------------------
class Overloaded(LocalVisionError):
    code = "overloaded"
    status = 503


class NotFound(LocalVisionError):
    code = "not_found"
    status = 404


def _by_code(base: type) -> dict[str, type]:
    found = {base.code: base}
    for sub in base.__subclasses__():
        found.update(_by_code(sub))
    return found
