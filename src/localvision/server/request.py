"""The request kit: how every route reads what a request asks, written once.

A recognition route is three steps: read the request with this kit (`ask`, and the upload
readers), hand the items to `Service.recognize` (`Ask.recognize`), render the results in the
route's own shape. The kit holds what the routes used to copy:

- who is asking (`caller`: the client's address and the signed-in user, for the history);
- the language: `?lang=` when given (checked: `check_language`, the one check), else the first
  of the browser's Accept-Language that we have, else the server's `lang`;
- the answer options with the server's settings as defaults, and the one `top_k` clamp: no
  more labels than the model has classes (`Answer.top_k` also sizes a CSV's columns, so the
  clamp happens here, once, before anything is sized by it);
- an upload read within its limit (`read_upload`, `check_size`, `upload_item`): never more than
  limit + 1 bytes are read, so a file over the limit costs no more than one at it;
- one image where one is expected: a ZIP or several files refused with a sentence that says
  where to send them (`one_image`, `one_file`); `the_image` reads it from a raw body or from a
  multipart body's one file part (TorchServe's routes, the judge).

It works on any Starlette connection (an HTTP request or a WebSocket): the live camera's socket
reads its language and caller the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from starlette.datastructures import UploadFile
from starlette.requests import HTTPConnection, Request

from ..archive import is_zip
from ..errors import EmptyFile, FileTooLarge, InvalidArgument, TooManyFiles, UnsupportedFormat
from ..imaging import MB
from ..models.labels import LANGUAGES
from ..results import Answer, Result
from ..road import Item
from ..text.reader import require_reader
from .guards.gate import user_of
from .service.state import ModelState, Service

# Where several images, or a ZIP of them, may be sent instead of a one-image route.
MANY_IMAGES = "/api/v1/classify (one row each)"
ZIP_ROUTES = "/api/v1/classify/zip or /api/v1/classify"


def service(conn: HTTPConnection) -> Service:
    """The running service (the app's lifespan made it)."""
    return conn.app.state.service


# --- who is asking ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Caller:
    """Who made a request, as the history records it."""

    client: str | None  # the client's address
    user: str | None  # the signed-in user or API key's user; None with auth off


def caller(conn: HTTPConnection) -> Caller:
    return Caller(conn.client.host if conn.client else None, user_of(conn))


# --- the language -------------------------------------------------------------------------------
def check_language(lang: str) -> str:
    """A language the labels come in, or a typed 422 naming the ones there are."""
    if lang not in LANGUAGES:
        raise InvalidArgument(f"Unknown language {lang!r}; choose {', '.join(LANGUAGES)}.")
    return lang


def language(conn: HTTPConnection, lang: str | None, default: str) -> str:
    """?lang= if given, else the first of the browser's languages that we have, else default."""
    if lang:
        return check_language(lang)
    for part in conn.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag == "*" or not tag:
            continue
        base = tag.split("-")[0]
        if base in LANGUAGES:
            return base
    return default


# --- what to answer -----------------------------------------------------------------------------
def clamp_top_k(top_k: int, state: ModelState) -> int:
    """The one clamp: no more labels than the model has classes (a model still loading is
    clamped when it answers, by results.top_predictions)."""
    clf = state.classifier
    return min(top_k, clf.spec.num_classes) if clf is not None else top_k


@dataclass(frozen=True)
class Ask:
    """One recognition request, read: the service, which model, what to answer, for whom."""

    service: Service
    model: str | None  # None: the default model
    answer: Answer
    caller: Caller

    @property
    def state(self) -> ModelState:
        return self.service.state(self.model)

    async def recognize(self, items: Sequence[Item], record: bool = True) -> list[Result]:
        """The road for these items (Service.recognize), as this caller."""
        c = self.caller
        return await self.service.recognize(
            items, self.answer, c.client, c.user, self.model, record=record
        )


def ask(
    conn: HTTPConnection,
    model: str | None = None,
    *,
    top_k: int | None = None,
    lang: str | None = None,
    min_confidence: float | None = None,
    groups: bool | None = None,
    probabilities: bool | None = None,
    text: bool | None = None,
    ready: bool = True,
) -> Ask:
    """What this request asks back, with the server's settings as the defaults (None: not
    given). ready: the model must be able to answer now (else 503 model_not_ready, before any
    upload is read); the live camera's socket opens while a model loads and says so per frame.
    An unknown model is always refused (404 unknown_model); text asked of an installation
    without the text reader, always too (501 text_reading_unavailable)."""
    svc = service(conn)
    state = svc.state(model)
    if ready:
        state.require()
    s = svc.settings
    answer = Answer.from_settings(
        s, top_k=clamp_top_k(top_k or s.top_k, state), lang=language(conn, lang, s.lang),
        min_confidence=min_confidence, groups=groups, probabilities=probabilities, text=text,
    )  # fmt: skip
    if answer.text:
        require_reader()
    return Ask(svc, model, answer, caller(conn))


# --- uploads ------------------------------------------------------------------------------------
def too_large(
    size: int, limit: int, what: str = "This file", advice: str = ""
) -> FileTooLarge | None:
    """The refusal for `size` bytes over `limit` (None: within it). what: the sentence's
    subject ("This file", "The ZIP", "IMAGE[2]"); advice: what to do instead, if anything."""
    if size <= limit:
        return None
    return FileTooLarge(f"{what} is larger than {limit / MB:.4g} MB{advice}.")


def check_size(data: bytes, limit: int, what: str = "This file") -> bytes:
    """The data, or 413 file_too_large when it is over the limit."""
    error = too_large(len(data), limit, what)
    if error is not None:
        raise error
    return data


async def read_upload(upload: UploadFile, limit: int, what: str = "This file") -> bytes:
    """An uploaded file's bytes, read no further than one byte past the limit; 413 over it."""
    return check_size(await upload.read(limit + 1), limit, what)


async def upload_item(upload: UploadFile, limit: int) -> Item:
    """An uploaded file as an item of the road; one over the limit fails only its own row."""
    name = upload.filename or "upload"
    data = await upload.read(limit + 1)
    return Item(name, data if len(data) <= limit else None, too_large(len(data), limit))


# --- one image where one is expected ------------------------------------------------------------
def one_file(count: int, route: str) -> None:
    """400 too_many_files when a one-image route was sent several files (rather than answering
    for the last one only)."""
    if count > 1:
        raise TooManyFiles(
            f"{route} classifies one image per request; send several to {MANY_IMAGES}, or a "
            "ZIP to /api/v1/classify/zip."
        )


def one_image(data: bytes | None, route: str) -> None:
    """415 unsupported_format for a ZIP sent to a route that classifies one image (recognised
    by its content, whatever its name)."""
    if is_zip(data):
        raise UnsupportedFormat(
            f"This is a ZIP archive; {route} classifies one image. Send ZIPs to {ZIP_ROUTES}."
        )


async def the_image(request: Request, limit: int, route: str, part: str = "file") -> Item:
    """The one image of a request: the raw body (`curl -T photo.jpg`, `--data-binary @...`), or
    the multipart body's one file part (whatever its name; `part` is the name the messages
    suggest). No image, several, or a ZIP: refused, naming what to send instead."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        files = [(k, v) for k, v in form.multi_items() if isinstance(v, UploadFile)]
        if not files:
            raise EmptyFile(
                f'No file was sent: send the image as the body, or as a part named "{part}".'
            )
        one_file(len(files), route)
        upload = files[0][1]
        name, data = upload.filename or files[0][0], await read_upload(upload, limit)
    else:  # a raw body has no file name; guards/body.py held it to the limit as it came
        name, data = "upload", check_size(await request.body(), limit)
    if not data:
        raise EmptyFile("The request has no image: send it as the body (curl -T photo.jpg).")
    one_image(data, route)
    return Item(name, data)
