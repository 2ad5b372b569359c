"""The request kit (server/request.py) as units: no server, no model. Every route reads the
caller, the language, the answer options (with the one top_k clamp), its uploads and the
one-image rule through it, so these are the rules of every route at once."""

from __future__ import annotations

import asyncio
import io
import zipfile
from types import SimpleNamespace

import pytest
from starlette.datastructures import Headers, UploadFile

from localvision.config import Settings
from localvision.errors import (
    FileTooLarge,
    InvalidArgument,
    ModelNotReady,
    TooManyFiles,
    UnknownModel,
    UnsupportedFormat,
)
from localvision.server import request as kit
from localvision.server.routes.results_csv import parse_results, results_csv_text
from localvision.server.service.state import ModelState

pytestmark = pytest.mark.unit


class FakeService:
    """What the kit reads of the service: its settings and its models' states."""

    def __init__(self, classes: int | None = 5, **settings):
        self.settings = Settings(**settings)
        spec = SimpleNamespace(num_classes=classes)
        clf = None if classes is None else SimpleNamespace(spec=spec)
        self.states = {"m": ModelState("m", classifier=clf, status="ready" if clf else "loading")}

    def state(self, name):
        if name in (None, "", "auto"):
            return self.states["m"]
        if name not in self.states:
            raise UnknownModel(f"no {name}")
        return self.states[name]


def conn(svc=None, accept_language: str = "", client=("10.0.0.7", 5000)):
    """A connection as the kit reads one (headers, client, app.state.service, the gate's scope)."""
    headers = Headers({"accept-language": accept_language} if accept_language else {})
    app = SimpleNamespace(state=SimpleNamespace(service=svc or FakeService()))
    return SimpleNamespace(headers=headers, client=SimpleNamespace(host=client[0]), app=app,
                           scope={})  # fmt: skip


@pytest.mark.parametrize(
    "lang, header, default, expected",
    [("zh", "", "en", "zh"), (None, "zh-CN,zh;q=0.9,en;q=0.8", "en", "zh"),
     (None, "fr-FR, *, en-GB;q=0.5", "zh", "en"), (None, "fr, *", "zh", "zh"),
     (None, "", "en", "en"), ("", "zh", "en", "zh")],
)  # fmt: skip
def test_the_language_is_asked_then_the_browsers_then_the_servers(lang, header, default, expected):
    assert kit.language(conn(accept_language=header), lang, default) == expected


def test_an_unknown_language_is_one_typed_error_naming_the_choices():
    with pytest.raises(InvalidArgument, match="choose en, zh"):
        kit.language(conn(accept_language="zh"), "fr", "en")
    with pytest.raises(InvalidArgument):
        kit.check_language("EN")
    assert kit.check_language("en") == "en"


def test_the_caller_is_the_client_address_and_no_user_with_auth_off():
    assert kit.caller(conn()) == kit.Caller("10.0.0.7", None)


def test_the_answer_has_the_settings_as_defaults_and_clamps_top_k_once():
    svc = FakeService(classes=5, top_k=4, min_confidence=0.3, lang="zh")
    ask = kit.ask(conn(svc))
    assert (ask.answer.top_k, ask.answer.lang, ask.answer.min_confidence) == (4, "zh", 0.3)
    assert not ask.answer.groups and not ask.answer.probabilities
    assert kit.ask(conn(svc), top_k=10**20).answer.top_k == 5  # past 64 bits: every class
    given = kit.ask(conn(svc), "m", top_k=2, lang="en", min_confidence=0.9, groups=True,
                    probabilities=True).answer  # fmt: skip
    assert (given.top_k, given.lang, given.min_confidence, given.groups, given.probabilities) == (
        2, "en", 0.9, True, True)  # fmt: skip


def test_a_model_not_ready_is_refused_unless_the_route_says_each_answer_will_tell():
    svc = FakeService(classes=None)
    with pytest.raises(ModelNotReady):
        kit.ask(conn(svc))
    ask = kit.ask(conn(svc), top_k=7, ready=False)  # the live camera's socket
    assert ask.answer.top_k == 7  # not clamped: nothing known to clamp to yet
    with pytest.raises(UnknownModel):
        kit.ask(conn(svc), "other", ready=False)


def upload(data: bytes, name: str | None = "photo.jpg") -> UploadFile:
    return UploadFile(io.BytesIO(data), filename=name)


def test_an_upload_is_read_within_its_limit():
    assert asyncio.run(kit.read_upload(upload(b"x" * 10), 10)) == b"x" * 10
    with pytest.raises(FileTooLarge, match=r"^The ZIP is larger than 9.537e-06 MB\.$"):
        asyncio.run(kit.read_upload(upload(b"x" * 11), 10, "The ZIP"))
    stream = io.BytesIO(b"x" * 1000)
    with pytest.raises(FileTooLarge):
        asyncio.run(kit.read_upload(UploadFile(stream), 10))
    assert stream.tell() == 11  # never read further than one byte past the limit


def test_an_upload_over_its_limit_fails_only_its_own_row():
    item = asyncio.run(kit.upload_item(upload(b"x" * 11, None), 10))
    assert item.name == "upload" and item.source is None and isinstance(item.error, FileTooLarge)
    ok = asyncio.run(kit.upload_item(upload(b"abc"), 10))
    assert (ok.name, ok.source, ok.error) == ("photo.jpg", b"abc", None)


def test_sizes_are_said_in_mb_and_advice_is_kept():
    mb = 1024 * 1024
    assert kit.too_large(10 * mb, 10 * mb) is None
    error = kit.too_large(10 * mb + 1, 10 * mb, "This frame", "; send smaller frames")
    assert error.message == "This frame is larger than 10 MB; send smaller frames."
    assert kit.check_size(b"ab", 2) == b"ab"
    with pytest.raises(FileTooLarge, match=r"IMAGE\[3\] is larger"):
        kit.check_size(b"abc", 2, "IMAGE[3]")


def test_one_image_routes_refuse_a_zip_and_several_files():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.jpg", b"x")
    with pytest.raises(UnsupportedFormat, match="/predict classifies one image"):
        kit.one_image(buf.getvalue(), "/predict")
    kit.one_image(b"\xff\xd8\xff not a zip", "/predict")
    kit.one_image(None, "/predict")  # a row that already failed: its own error stands
    with pytest.raises(TooManyFiles, match="/predictions classifies one image per request"):
        kit.one_file(2, "/predictions")
    kit.one_file(1, "/predictions")


# --- the results CSV's reading, without a server ------------------------------------------------
def test_the_results_csv_reads_rows_as_classify_writes_them():
    body = (b'{"results": [{"filename": "=1+1", "predictions": [{"label": "cat", "label_en": "cat",'
            b' "index": 3, "probability": 0.5}], "uncertain": true, "error": null, "extra": 1}]}')
    text = results_csv_text(parse_results(body, 1000), "en", 3)
    assert text.splitlines() == [
        "filename,label_1,index_1,probability_1,uncertain,error_code,error_message",
        "'=1+1,cat,3,0.500000,true,,",
    ]


def test_the_results_csv_bounds_its_json_before_parsing_it():
    rows = b",".join([b'{"filename": "a"}'] * 100)
    with pytest.raises(InvalidArgument, match="larger or nested deeper"):
        parse_results(b'{"results": [' + rows + b"]}", 50)
    assert len(parse_results(b'{"results": [' + rows + b"]}", 500).results) == 100
