"""Typed errors: every failure a user can cause or meet has a stable code, an HTTP status and a
sentence a person understands. Each surface (JSON, web UI, CLI) renders them in one place."""

from __future__ import annotations


class LocalVisionError(Exception):
    """Base class, and by itself an unexpected failure of the service. `code` is stable
    (clients branch on it); `message` is for people."""

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
    """A file or upload with no bytes at all."""

    code = "empty_file"
    status = 400


class UnsupportedFormat(InputError):
    """Not an image format the decoder reads, judged by the content, not the name."""

    code = "unsupported_format"
    status = 415


class CorruptImage(InputError):
    """An image that is truncated or damaged: refused, never predicted on half an image."""

    code = "corrupt_image"
    status = 422


class ImageTooLarge(InputError):
    """Too many pixels (decompression-bomb guard), refused before pixels are decoded."""

    code = "image_too_large"
    status = 413


class FileTooLarge(InputError):
    """An uploaded file over its size limit (max_upload_mb; a ZIP: max_zip_mb)."""

    code = "file_too_large"
    status = 413


class FileNotFound(InputError):
    """A file named on the command line (or a video file) that does not exist."""

    code = "file_not_found"
    status = 404


class InvalidArchive(InputError):
    """A ZIP that cannot be read as one (damaged, or with overlapping entries)."""

    code = "invalid_archive"
    status = 400


class NestedArchive(InputError):
    """An archive inside a ZIP: not opened (a bomb's favourite trick)."""

    code = "nested_archive"
    status = 422


class EncryptedMember(InputError):
    """A password-protected member of a ZIP: not opened."""

    code = "encrypted_member"
    status = 422


class ArchiveTooLarge(InputError):
    """A ZIP past its limits (members, bytes), or a member compressed suspiciously well."""

    code = "archive_too_large"
    status = 413


class InvalidArgument(LocalVisionError):
    """An option or request parameter with a value it cannot take."""

    code = "invalid_argument"
    status = 422


class ConfirmationRequired(InvalidArgument):
    """A request that would delete everything, sent without saying so (all=true)."""

    code = "confirmation_required"
    status = 422


class TooManyFiles(InvalidArgument):
    """Several files sent where one is taken (the classic /predict)."""

    code = "too_many_files"
    status = 400


# --- models and weights -------------------------------------------------------------------------
class ModelError(LocalVisionError):
    """The model cannot be used; the CLI exits 2, the server answers 503."""

    code = "model_error"
    status = 503


class UnknownModel(ModelError):
    """A model name that is neither in the registry nor in the store (nor served)."""

    code = "unknown_model"
    status = 404


class WeightsMissing(ModelError):
    """The model's weights are not here, and may not or could not be downloaded."""

    code = "weights_missing"


class WeightsInvalid(ModelError):
    """A weights file that is corrupt, truncated, of the wrong shapes or unsafe."""

    code = "weights_invalid"


class WeightsDownloadFailed(ModelError):
    """The weights could not be downloaded, or their SHA-256 did not match."""

    code = "weights_download_failed"


class BackendUnavailable(ModelError):
    """A backend or device that is not installed here or cannot run this."""

    code = "backend_unavailable"


class ModelNotReady(ModelError):
    """The model is still loading, or failed to load (the service is degraded)."""

    code = "model_not_ready"


class PrecisionUnavailable(ModelError):
    """A precision this backend, device or CPU cannot run, or one not yet checked against fp32
    for these weights (bf16, fp16 and int8 are used only once their agreement check passed)."""

    code = "precision_unavailable"


class LabelsInvalid(InvalidArgument):
    """A label file that cannot be read, or that does not fit the model's classes."""

    code = "labels_invalid"
    status = 422


class ExportRefused(ModelError):
    """An export that cannot be made or kept (a reduced precision below its agreement bar)."""

    code = "export_refused"


class ConverterMissing(ModelError):
    """An export format whose converter is not installed here (the hint names the extra)."""

    code = "converter_missing"
    status = 501


class ConverterNotSetUp(ModelError):
    """An export format whose converter runs in an environment of its own that is not made yet
    (or was made for other versions); the hint names the command that makes it."""

    code = "converter_not_set_up"
    status = 501


class InferenceFailed(LocalVisionError):
    """The backend failed on a batch in a way of its own (not the inputs' fault)."""

    code = "inference_failed"
    status = 500


# --- serving ------------------------------------------------------------------------------------
class Overloaded(LocalVisionError):
    """The model's queue is full; try again after Retry-After."""

    code = "overloaded"
    status = 503


class NotFound(LocalVisionError):
    """Something the request names does not exist."""

    code = "not_found"
    status = 404


class DeadlineExceeded(LocalVisionError):
    """The model could not serve the request within the per-request deadline (a 503 with
    Retry-After: the client may try again, the server is only busy)."""

    code = "timeout"
    status = 503


class RayUnavailable(LocalVisionError):
    """--ray was asked for and Ray is not installed (the CLI exits 2)."""

    code = "ray_unavailable"
    status = 501
    hint = "pip install 'localvision[ray]' (Ray Serve and Ray Data)"


# --- whole requests (size, shape, speed): refused before anything in them is processed -----------
class RequestError(LocalVisionError):
    """A request the service cannot take as a whole (bytes that are not HTTP)."""

    code = "bad_request"
    status = 400


class PayloadTooLarge(RequestError):
    """A request body over its limit, refused before (or as) it arrives."""

    code = "payload_too_large"
    status = 413


class TooManyParts(RequestError):
    """A multipart upload with more parts than max_parts."""

    code = "too_many_parts"
    status = 413


class FieldTooLarge(RequestError):
    """A multipart part that is not a file (a text field) over the field limit."""

    code = "field_too_large"
    status = 413


class InvalidMultipart(RequestError):
    """Missing or malformed boundary, or a body that is not the multipart it claims to be."""

    code = "invalid_multipart"
    status = 400


class InvalidRequest(RequestError):
    """A KServe v2 request the protocol cannot take: its JSON, shapes, datatypes, framing."""

    code = "invalid_request"
    status = 400


class UnsupportedEncoding(RequestError):
    """A compressed request body (Content-Encoding), which the service does not inflate."""

    code = "unsupported_media_type"
    status = 415


class RequestTimeout(RequestError):
    """The client sent its request (head or body) too slowly."""

    code = "request_timeout"
    status = 408


class HeadersTooLarge(RequestError):
    """A request line and headers over max_header_kb."""

    code = "headers_too_large"
    status = 431


class HostNotAllowed(RequestError):
    """The Host header names no name this server answers to (a DNS-rebinding page, a
    misconfigured proxy)."""

    code = "host_not_allowed"
    status = 400


class RateLimited(LocalVisionError):
    """One client (API key or address) sent more requests than `rate_limit` allows."""

    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: int = 1, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.retry_after = retry_after  # seconds until the client's window has room again


# --- auth ---------------------------------------------------------------------------------------
class Unauthorized(LocalVisionError):
    """No credentials, or ones that do not check out (wrong/revoked key, tampered cookie)."""

    code = "unauthorized"
    status = 401


class InvalidCredentials(Unauthorized):
    """A sign-in with a wrong user name or password (which of the two is not said)."""

    code = "invalid_credentials"


class Forbidden(LocalVisionError):
    """Signed in, but not allowed to do this (an admin's task)."""

    code = "forbidden"
    status = 403


class CsrfFailed(Forbidden):
    """A state-changing request with the session cookie but without its X-CSRF-Token."""

    code = "csrf_failed"


class CrossOrigin(Forbidden):
    """A state-changing request a browser sent from another web site."""

    code = "cross_origin"


class TooManyAttempts(LocalVisionError):
    """Too many sign-in attempts (failed, or still being checked) for one user name or from one
    address; `retry_after` seconds."""

    code = "too_many_attempts"
    status = 429

    def __init__(self, message: str, *, retry_after: int = 60, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class SignInBusy(Overloaded):
    """More sign-ins at once than the server checks passwords for (`password_checks`), for longer
    than `password_check_wait_s`; `retry_after` seconds."""

    code = "sign_in_busy"
    status = 503

    def __init__(self, message: str, *, retry_after: int = 5, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class UserExists(InvalidArgument):
    """A user of that name already exists."""

    code = "user_exists"
    status = 409


class UnknownUser(InvalidArgument):
    """No user of that name."""

    code = "unknown_user"
    status = 404


class UnknownKey(InvalidArgument):
    """No API key with that id."""

    code = "unknown_key"
    status = 404


# --- the database's schema (migrate.py) ---------------------------------------------------------
class DatabaseTooNew(LocalVisionError):
    """The database was migrated by a newer localvision: its schema is not one this one knows."""

    code = "database_too_new"
    status = 503


# --- the history database -----------------------------------------------------------------------
class HistoryUnavailable(LocalVisionError):
    """The history database cannot be reached (not there yet, stopped, the network between): a
    request that must be recorded, or whose API key or session must be looked up, is refused
    with 503 and Retry-After until it is back; the CLI names the server and exits 2."""

    code = "history_unavailable"
    status = 503

    def __init__(self, message: str, *, retry_after: int = 2, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.retry_after = retry_after  # seconds: about how often the service checks it again


# --- watched folders and photo libraries (streams/) ---------------------------------------------
class FolderNotFound(InvalidArgument):
    """The folder to watch does not exist, or is not a folder."""

    code = "folder_not_found"
    status = 404


class SortLoop(InvalidArgument):
    """--sort-into inside the folder watched recursively: each sorted image would arrive again."""

    code = "sort_loop"
    status = 422


class SortFailed(LocalVisionError):
    """An image was classified but could not be linked, copied or moved into its folder."""

    code = "sort_failed"
    status = 500


class SidecarFailed(LocalVisionError):
    """An image was classified but its XMP sidecar could not be read or written."""

    code = "sidecar_failed"
    status = 500


# --- video and camera streams (streams/) -------------------------------------------------------
class StreamError(LocalVisionError):
    """A video file, stream or camera that cannot be read."""

    code = "stream_error"
    status = 422


class BadStreamUrl(StreamError):
    """A URL that is malformed or has a scheme that is not allowed (only rtsp, rtsps, http,
    https; never file: or FFmpeg's other protocols)."""

    code = "bad_stream_url"
    status = 400


class StreamUnavailable(StreamError):
    """A stream that could not be opened (refused, unreachable, not found on the server)."""

    code = "stream_unavailable"
    status = 502


class StreamLost(StreamError):
    """A live stream that dropped and did not come back within the reconnect attempts."""

    code = "stream_lost"
    status = 502


class CameraNotFound(StreamError):
    """A local camera (webcam:N, /dev/videoN) that does not exist or cannot be opened."""

    code = "camera_not_found"
    status = 404


class NotAVideo(StreamError):
    """A file that FFmpeg cannot read as a video, or one with no video track."""

    code = "not_a_video"
    status = 415


class UnsupportedCodec(StreamError):
    """A video track in a codec this FFmpeg build cannot decode."""

    code = "unsupported_codec"
    status = 415


def _by_code(base: type) -> dict[str, type]:
    found = {base.code: base}
    for sub in base.__subclasses__():
        found.update(_by_code(sub))
    return found


# --- cameras watched by the service (POST /api/v1/streams) -------------------------------------
class TooManyStreams(LocalVisionError):
    """The service already watches as many cameras as `max_streams` allows."""

    code = "too_many_streams"
    status = 409


class VideoNotInstalled(StreamError):
    """Videos and camera streams need PyAV (FFmpeg), which this installation leaves out (the
    default container image does, for its size): refused before anything is opened."""

    code = "video_not_installed"
    status = 501


# --- training datasets (localvision train, the Teach page) -------------------------------------
class DatasetInvalid(InvalidArgument):
    """A training dataset that cannot be trained on (a damaged ZIP, a CSV that is not `path,label`);
    the subclasses below are the refusals of training/dataset.py, each naming the classes and the
    numbers concerned."""

    code = "dataset_invalid"
    status = 422


class DatasetNotFound(DatasetInvalid):
    """The path does not exist, or is not a folder, a ZIP or a CSV."""

    code = "dataset_not_found"
    status = 422


class DatasetNoImages(DatasetInvalid):
    """A training dataset with no readable image at all."""

    code = "dataset_no_images"
    status = 422


class DatasetDuplicateClasses(DatasetInvalid):
    """Two class names that differ only in case, width, spaces, "_" or "-" ("Cat" and "cat ")."""

    code = "dataset_duplicate_classes"
    status = 422


class DatasetOneClass(DatasetInvalid):
    """A training dataset with a single class: nothing to tell apart."""

    code = "dataset_one_class"
    status = 422


class DatasetMoreClassesThanImages(DatasetInvalid):
    """A training dataset with more classes than readable images."""

    code = "dataset_more_classes_than_images"
    status = 422


class DatasetEmptyClass(DatasetInvalid):
    """A class of a training dataset with no readable image."""

    code = "dataset_empty_class"
    status = 422


class DatasetClassTooSmall(DatasetInvalid):
    """A class with fewer than 2 readable images: one to train on, one to validate with."""

    code = "dataset_class_too_small"
    status = 422


# --- teaching: the Teach photo store and training jobs (training/examples.py, server/) ----------
class ProjectNotFound(NotFound):
    """No Teach project of that name."""

    code = "project_not_found"


class ClassNotFound(NotFound):
    """No class of that name in the Teach project."""

    code = "class_not_found"


class PhotoNotFound(NotFound):
    """No photo with that id in the Teach project."""

    code = "photo_not_found"


class ReportNotFound(NotFound):
    """A model with no training report (not a trained model), or a file not in its report."""

    code = "report_not_found"


class NoTrainingJob(NotFound):
    """No training has been started on this server yet."""

    code = "no_training_job"


class ProjectExists(InvalidArgument):
    """A Teach project of that name already exists."""

    code = "project_exists"
    status = 409


class ClassExists(InvalidArgument):
    """A class whose name is another's after normalisation ("Cat" and "cat ")."""

    code = "class_exists"
    status = 409


class InvalidClassName(InvalidArgument):
    """A class name too long, a project file's name, or a split's (train, val)."""

    code = "invalid_class_name"
    status = 422


class ExampleInOtherClass(InputError):
    """The same photo (same bytes) is already an example of another class of the project."""

    code = "example_in_other_class"
    status = 409


class TooManyCorrections(RateLimited):
    """A user (not an admin) has stored `feedback_max_photos_per_user` corrections in the last
    24 hours; Retry-After says when the oldest of them leaves that window."""

    code = "too_many_corrections"
    status = 429


class CorrectionsFull(LocalVisionError):
    """The Teach project of a model holds `feedback_max_photos_per_model` corrections: its
    store is full for corrections (from anyone) until an admin deletes some. Not a rate: no
    Retry-After."""

    code = "corrections_full"
    status = 507


class TrainingBusy(LocalVisionError):
    """A training is already running (one at a time, server-wide), or the project it trains
    cannot be changed until it ends."""

    code = "training_busy"
    status = 409


class TrainingFailed(LocalVisionError):
    """The training process stopped without finishing, and said no more than its exit code."""

    code = "training_failed"
    status = 500


class TrainingInterrupted(TrainingFailed):
    """The server stopped while a training ran; the training's process went with it."""

    code = "training_interrupted"


# --- training (`localvision train`, training/) ----------------------------------------------------
class ModelNameReserved(InvalidArgument):
    """A trained or imported model may not take a registry model's name (or `auto`): the
    registry's name must keep meaning the registry's model."""

    code = "model_name_reserved"
    status = 409


class ModelExists(InvalidArgument):
    """A model of that name is already in the store (an import or a training without
    --replace)."""

    code = "model_exists"
    status = 409


class ModelNotFromProject(ModelExists):
    """Training a Teach project would replace a model of that name that was not trained from
    that project (an imported model, another project's, one trained from other data): only a
    project's own model is trained again in place."""

    code = "model_not_from_project"
    status = 409


class InvalidModelName(InvalidArgument):
    """Not a model name: lower-case letters, digits, "_", "-" and "." only."""

    code = "invalid_model_name"
    status = 422


class TrainingOptionInvalid(InvalidArgument):
    """A training option out of its choices or range (a mode that does not exist, say)."""

    code = "training_option_invalid"
    status = 422


# --- judgements (`POST /api/v1/judge`, judge.py, rules.py) ------------------------------------------
class InvalidRule(InvalidArgument):
    """A judgement rule that cannot be used: no label or group to accept or reject, an unknown
    field, a term that is not text, or a confidence outside 0 to 1."""

    code = "invalid_rule"
    status = 422


class InvalidRuleName(InvalidArgument):
    """Not a rule name: lower-case letters, digits, "_", "-" and "." only."""

    code = "invalid_rule_name"
    status = 422


class UnknownTerm(InvalidRule):
    """A rule names a label or group the model answering it does not have (a typo, or another
    model's class)."""

    code = "unknown_term"
    status = 422


class RuleNotFound(NotFound):
    """No rule of that name has been saved."""

    code = "rule_not_found"


class TextReadingUnavailable(LocalVisionError):
    """Text in a photo was asked for, and this installation cannot read text: the optional
    reader (rapidocr, the `text` extra) is not installed."""

    code = "text_reading_unavailable"
    status = 501
    hint = "Install the text reader: pip install 'localvision[text]'."


class TextReadingFailed(LocalVisionError):
    """The text reader failed on this photo in a way of its own (not a decoding error, which
    has its own code): this photo's row only."""

    code = "text_reading_failed"
    status = 422


class TextModelDamaged(ModelError):
    """The text reader's package in the store does not match its manifest (a part missing, or
    its SHA-256 changed): it is not used."""

    code = "text_model_damaged"
    status = 503
