"""The protocols other servers speak, against the real service on loopback with the real model:
KServe v2 through the real `tritonclient[http]` (binary and JSON, batched, OpenVINO Model
Server's unprefixed form by hand), TorchServe's documented curl commands through real curl, and
each protocol's error shape. The same photo gets the same top-1 on every route."""

from __future__ import annotations

import base64
import io
import json
import struct
import subprocess
import threading
import time

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from corpus import GOLDEN
from servers import LiveServer, users_with_keys
from tritonclient.utils import InferenceServerException

from localvision.config import Settings
from localvision.server.app import create_app

NAMES = ["coffee", "chelsea", "rocket"]


@pytest.fixture(scope="module")
def client(live_server) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(live_server.removeprefix("http://"))


@pytest.fixture(scope="module")
def api(live_server):
    with httpx.Client(base_url=live_server, timeout=60) as c:
        yield c


def image_input(photos: list[bytes], binary: bool = True) -> triton.InferInput:
    tensor = triton.InferInput("IMAGE", [len(photos)], "BYTES")
    if binary:
        tensor.set_data_from_numpy(np.array(photos, dtype=np.object_), binary_data=True)
    else:  # JSON carries BYTES as UTF-8 strings: the images go base64-encoded
        encoded = [base64.b64encode(p) for p in photos]
        tensor.set_data_from_numpy(np.array(encoded, dtype=np.object_), binary_data=False)
    return tensor


def text(value) -> str:
    """A BYTES element as tritonclient gives it: bytes from binary data, str from JSON."""
    return value.decode() if isinstance(value, bytes) else value


def top1_labels(result, k: int) -> list[str]:
    rows = result.as_numpy("PROBABILITIES")
    assert rows.shape[1] == k
    return [text(row[0]).split(":", 2)[2] for row in rows]


# --- KServe v2 through tritonclient -----------------------------------------------------------
def test_health_and_metadata_through_tritonclient(client):
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("efficientnet_lite0")
    server = client.get_server_metadata()
    assert server["name"] == "localvision" and "binary_tensor_data" in server["extensions"]
    meta = client.get_model_metadata("efficientnet_lite0")
    assert meta["inputs"] == [{"name": "IMAGE", "datatype": "BYTES", "shape": [-1]}]
    assert meta["outputs"] == [{"name": "PROBABILITIES", "datatype": "FP32", "shape": [-1, 1000]},
                               {"name": "TEXT", "datatype": "BYTES", "shape": [-1]}]  # fmt: skip
    assert "base64" in meta["parameters"]["input_note"]
    assert "JSON array" in meta["parameters"]["text_note"]
    assert client.get_model_metadata("efficientnet_lite0", "1")["versions"] == ["1"]


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_tritonclient_classifies_a_batch_of_real_photos(client, photos, binary):
    out = triton.InferRequestedOutput("PROBABILITIES", binary_data=binary, class_count=3)
    result = client.infer(
        "efficientnet_lite0", [image_input([photos[n] for n in NAMES], binary)], outputs=[out]
    )
    assert result.get_response()["model_name"] == "efficientnet_lite0"
    assert top1_labels(result, 3) == [GOLDEN[n] for n in NAMES]
    score, index, _ = text(result.as_numpy("PROBABILITIES")[0][0]).split(":", 2)
    assert 0.5 < float(score) <= 1 and int(index) == 967  # espresso


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_probabilities_are_the_models_whole_distribution(client, api, photos, binary):
    out = triton.InferRequestedOutput("PROBABILITIES", binary_data=binary)
    result = client.infer("efficientnet_lite0", [image_input([photos["chelsea"]], binary)],
                          outputs=[out])  # fmt: skip
    probs = result.as_numpy("PROBABILITIES")
    assert probs.shape == (1, 1000) and probs.dtype == np.float32
    assert probs.sum() == pytest.approx(1, abs=1e-4)
    native = api.post("/api/v1/classify", files={"file": ("chelsea.jpg", photos["chelsea"])})
    top = native.json()["results"][0]["predictions"][0]
    assert int(probs[0].argmax()) == top["index"]
    assert float(probs[0].max()) == pytest.approx(top["probability"], abs=1e-6)


# --- the TEXT output -----------------------------------------------------------------------------
def lines_of(element) -> list[str]:
    """A TEXT element (one image's lines as JSON) -> the strings read, checking each line."""
    lines = json.loads(text(element))
    assert all(len(line["box"]) == 4 and 0 < line["confidence"] <= 1 for line in lines)
    return [line["text"] for line in lines]


def test_tritonclient_reads_the_text_beside_the_labels_as_binary_data(client, photos):
    from corpus import SIGN, sign_photo_bytes

    outputs = [triton.InferRequestedOutput("PROBABILITIES", binary_data=True, class_count=1),
               triton.InferRequestedOutput("TEXT", binary_data=True)]  # fmt: skip
    result = client.infer("efficientnet_lite0", [image_input([sign_photo_bytes(),
                                                              photos["chelsea"]])],
                          outputs=outputs)  # fmt: skip
    sign, cat = result.as_numpy("TEXT")
    assert result.as_numpy("TEXT").shape == (2,) and lines_of(sign) == list(SIGN)
    assert "禁止吸烟" not in lines_of(cat)
    assert top1_labels(result, 1)[1] == GOLDEN["chelsea"]


def test_text_alone_in_json_reads_only_the_text(client, api):
    from corpus import SIGN, sign_photo_bytes

    sign = sign_photo_bytes()
    out = triton.InferRequestedOutput("TEXT", binary_data=False)
    result = client.infer("efficientnet_lite0", [image_input([sign], binary=False)],
                          outputs=[out])  # fmt: skip
    assert [o["name"] for o in result.get_response()["outputs"]] == ["TEXT"]
    assert lines_of(result.as_numpy("TEXT")[0]) == list(SIGN)
    # Without TEXT in `outputs`, no text is read; the history keeps what was read, as for
    # every other route.
    plain = client.infer("efficientnet_lite0", [image_input([sign])])
    assert [o["name"] for o in plain.get_response()["outputs"]] == ["PROBABILITIES"]
    unread, read = api.get("/api/v1/history", params={"limit": 2}).json()["items"]
    assert unread["text"] is None and [line["text"] for line in read["text"]] == list(SIGN)


def test_text_asked_where_the_reader_is_missing_is_a_typed_refusal(client, photos, monkeypatch):
    """As on an installation without rapidocr: None in sys.modules is how Python marks a module
    that cannot be imported, and importlib.util.find_spec (the reader's check) then finds none."""
    import sys

    monkeypatch.setitem(sys.modules, "rapidocr", None)
    out = triton.InferRequestedOutput("TEXT")
    with pytest.raises(InferenceServerException) as caught:
        client.infer("efficientnet_lite0", [image_input([photos["coffee"]])], outputs=[out])
    assert caught.value.status() == "501" and "rapidocr" in caught.value.message()
    meta = client.get_model_metadata("efficientnet_lite0")
    assert [o["name"] for o in meta["outputs"]] == ["PROBABILITIES"]
    assert "text_note" not in meta["parameters"]
    result = client.infer("efficientnet_lite0", [image_input([photos["coffee"]])])
    assert result.as_numpy("PROBABILITIES").shape == (1, 1000)  # the rest still answers


@pytest.mark.unit
@pytest.mark.parametrize(
    "outputs,asked",
    [(None, {"top_k": 1, "probabilities": True, "text": False}),
     ([{"name": "TEXT"}], {"top_k": 1, "probabilities": False, "text": True}),
     ([{"name": "PROBABILITIES", "parameters": {"classification": 3}}, {"name": "TEXT"}],
      {"top_k": 3, "probabilities": False, "text": True}),
     ([{"name": "PROBABILITIES"}], {"top_k": 1, "probabilities": True, "text": False})],
    ids=["none-named", "text-alone", "labels-and-text", "probabilities"],
)  # fmt: skip
def test_the_outputs_named_choose_what_the_road_does(outputs, asked):
    """Text is read only for TEXT, and asked for explicitly (False too): the server's `text`
    setting must not make every KServe request read text, nor fail where the reader is
    missing; with text=True, kit.ask refuses an installation without the reader."""
    from localvision.server.routes.kserve import answer_of
    from localvision.server.routes.kserve_request import wanted_of

    assert answer_of(wanted_of({"outputs": outputs}, {})) == asked


@pytest.mark.unit
def test_text_is_binary_by_its_own_flag_or_the_requests():
    from localvision.server.routes.kserve_request import Wanted, wanted_of

    doc = {"outputs": [{"name": "TEXT"}, {"name": "PROBABILITIES",
                                          "parameters": {"binary_data": False}}]}  # fmt: skip
    assert wanted_of(doc, {"binary_data_output": True}) == Wanted(None, False, True, True)
    doc = {"outputs": [{"name": "TEXT", "parameters": {"binary_data": True}}]}
    assert wanted_of(doc, {}) == Wanted(None, False, True, False)


def test_labels_come_in_the_language_asked(client, photos):
    out = triton.InferRequestedOutput("PROBABILITIES", class_count=1)
    result = client.infer("efficientnet_lite0", [image_input([photos["coffee"]])], outputs=[out],
                          parameters={"lang": "zh"})  # fmt: skip
    assert top1_labels(result, 1) == ["意式浓缩咖啡"]


def test_openvino_model_servers_unprefixed_binary_form(api, photos):
    head = json.dumps({
        "inputs": [{"name": "IMAGE", "shape": [1], "datatype": "BYTES",
                    "parameters": {"binary_data_size": len(photos["rocket"])}}],
        "outputs": [{"name": "PROBABILITIES", "parameters": {"classification": 2}}],
    }).encode()  # fmt: skip
    r = api.post("/v2/models/efficientnet_lite0/infer", content=head + photos["rocket"],
                 headers={"Inference-Header-Content-Length": str(len(head))})  # fmt: skip
    assert r.status_code == 200, r.text
    (out,) = r.json()["outputs"]
    assert out["datatype"] == "BYTES" and out["shape"] == [1, 2]
    assert out["data"][0].split(":", 2)[2] == GOLDEN["rocket"]


def test_one_bad_image_fails_the_request_naming_it(client, api, photos):
    with pytest.raises(InferenceServerException) as caught:
        client.infer("efficientnet_lite0", [image_input([photos["coffee"], b"not an image"])])
    assert "IMAGE[1]" in caught.value.message()
    body = {"inputs": [{"name": "IMAGE", "shape": [2], "datatype": "BYTES",
                        "data": [base64.b64encode(photos["coffee"]).decode(), "bm90IGFuIGltYWdl"]}]}
    r = api.post("/v2/models/efficientnet_lite0/infer", json=body)
    assert 400 <= r.status_code < 500
    assert r.json()["error"].startswith("IMAGE[1]: ") and r.json()["code"] == "unsupported_format"


def bytes_tensor(*elements: bytes) -> bytes:
    return b"".join(struct.pack("<I", len(e)) + e for e in elements)


BAD_REQUESTS = {
    "no JSON": (b"\xff\xfe", None, "cannot be read"),
    "no inputs": (b"{}", None, "no `inputs`"),
    "wrong datatype": (json.dumps({"inputs": [{"name": "IMAGE", "shape": [1], "datatype": "FP32",
                                              "data": [1.0]}]}).encode(), None, "send BYTES"),
    "wrong input name": (json.dumps({"inputs": [{"name": "input_1", "shape": [1],
                                                "datatype": "BYTES", "data": ["eA=="]}]}).encode(),
                         None, "one input, IMAGE"),
    "raw bytes in JSON": (json.dumps({"inputs": [{"name": "IMAGE", "shape": [1],
                                                 "datatype": "BYTES", "data": ["\u00ff\u00d8"]}]}).encode(),
                          None, "base64"),
    "shape and data disagree": (json.dumps({"inputs": [{"name": "IMAGE", "shape": [2],
                                                       "datatype": "BYTES", "data": ["eA=="]}]}).encode(),
                                None, "1 data elements"),
    "binary size beyond the body": (json.dumps({"inputs": [{"name": "IMAGE", "shape": [1],
                                                           "datatype": "BYTES",
                                                           "parameters": {"binary_data_size": 999}}]}).encode(),
                                    b"abc", "binary_data_size"),
    "two elements without lengths": (json.dumps({"inputs": [{"name": "IMAGE", "shape": [2],
                                                            "datatype": "BYTES",
                                                            "parameters": {"binary_data_size": 6}}]}).encode(),
                                     b"abcdef", "4-byte"),
    "two inputs": (json.dumps({"inputs": [{"name": "IMAGE", "shape": [1], "datatype": "BYTES",
                                          "data": ["eA=="]}] * 2}).encode(), None, "takes one"),
    "unknown output": (json.dumps({"inputs": [{"name": "IMAGE", "shape": [1], "datatype": "BYTES",
                                              "data": ["eA=="]}],
                                   "outputs": [{"name": "LOGITS"}]}).encode(), None, "LOGITS"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=list(BAD_REQUESTS))
def test_a_request_the_protocol_cannot_take_gets_400_in_its_shape(api, case):
    head, tail, words = BAD_REQUESTS[case]
    headers = {"Inference-Header-Content-Length": str(len(head))} if tail is not None else {}
    r = api.post("/v2/models/efficientnet_lite0/infer", content=head + (tail or b""), headers=headers)
    assert r.status_code == 400, r.text
    body = r.json()
    assert set(body) == {"error", "code"} and body["code"] == "invalid_request"
    assert words in body["error"]


def test_a_compressed_request_is_refused_with_what_to_do(client, photos):
    with pytest.raises(InferenceServerException) as caught:
        client.infer("efficientnet_lite0", [image_input([photos["coffee"]])],
                     request_compression_algorithm="gzip")  # fmt: skip
    assert caught.value.status() == "415" and "uncompressed" in caught.value.message()


def test_prefixed_binary_elements_round_trip_by_hand(api, photos):
    data = bytes_tensor(photos["coffee"], photos["chelsea"])
    head = json.dumps({"inputs": [{"name": "IMAGE", "shape": [2, 1], "datatype": "BYTES",
                                   "parameters": {"binary_data_size": len(data)}}],
                       "outputs": [{"name": "PROBABILITIES",
                                    "parameters": {"binary_data": True, "classification": 1}}]}).encode()  # fmt: skip
    r = api.post("/v2/models/efficientnet_lite0/versions/1/infer", content=head + data,
                 headers={"Inference-Header-Content-Length": str(len(head))})  # fmt: skip
    assert r.status_code == 200, r.text
    n = int(r.headers["inference-header-content-length"])
    meta = json.loads(r.content[:n])
    assert meta["outputs"][0]["parameters"]["binary_data_size"] == len(r.content) - n
    tail, labels = r.content[n:], []
    while tail:
        (size,) = struct.unpack_from("<I", tail)
        labels.append(tail[4 : 4 + size].decode().split(":", 2)[2])
        tail = tail[4 + size :]
    assert labels == [GOLDEN["coffee"], GOLDEN["chelsea"]]


def test_unknown_model_and_version_are_404_in_the_protocols_shape(client, api):
    with pytest.raises(InferenceServerException) as caught:
        client.get_model_metadata("no_such_model")
    assert "no_such_model" in caught.value.message() and caught.value.status() == "404"
    r = api.get("/v2/models/efficientnet_lite0/versions/7")
    assert r.status_code == 404 and r.json()["code"] == "not_found"


# --- KServe: JSON that is well-formed but wrong, or built to be expensive ---------------------
OK_INPUT = {"name": "IMAGE", "datatype": "BYTES", "shape": [1], "data": ["eA=="]}
OK_OUTPUT = {"name": "PROBABILITIES"}


def request_with(**changes) -> bytes:
    return json.dumps({"inputs": [OK_INPUT], **changes}).encode()


def input_with(**changes) -> bytes:
    return request_with(inputs=[{**OK_INPUT, **changes}])


def output_parameters(params) -> bytes:
    return request_with(outputs=[{**OK_OUTPUT, "parameters": params}])


WRONG_JSON = {
    "parameters an array": (request_with(parameters=[1]), "`parameters` of the request"),
    "an output's parameters an array": (output_parameters([1]), "`parameters` of output"),
    "data nested 900 deep": (input_with(data=None).replace(b"null", b"[" * 900 + b'"eA=="'
                                                          + b"]" * 900), "nests deeper than"),
    "100,000 [": (b"[" * 100_000, "more than"),
    "an input's parameters an array": (input_with(parameters=[1]), "`parameters` of input"),
    "outputs a string": (request_with(outputs="x"), "`outputs` must be an array"),
    "an output a string": (request_with(outputs=["PROBABILITIES"]), "outputs[0] must be an object"),
    "classification true": (output_parameters({"classification": True}), "whole number"),
    "binary_data an array": (output_parameters({"binary_data": [1]}), "true or false"),
    "binary_data_output a string": (request_with(parameters={"binary_data_output": "yes"}),
                                    "true or false"),
    "id an object": (request_with(id={"a": 1}), "`id` must be a string"),
    "lang an array": (request_with(parameters={"lang": ["zh"]}), "`lang` must be a string"),
    "an input an array": (request_with(inputs=[[OK_INPUT]]), "inputs[0] must be an object"),
    "shape [true]": (input_with(shape=[True]), "whole numbers"),
    "shape a string": (input_with(shape="1"), "send [N]"),
    "data a string": (input_with(data="eA=="), "`data` must be an array"),
    "data a row of two": (input_with(data=[["eA==", "eA=="]]), "IMAGE[0] is not a base64"),
    "a 5,000-digit number": (b'{"inputs": ' + b"1" * 5000 + b"}", "too large"),
    "binary_data_size true": (input_with(parameters={"binary_data_size": True}),
                              "binary_data_size is True"),
}  # fmt: skip


@pytest.mark.parametrize("case", WRONG_JSON, ids=list(WRONG_JSON))
def test_well_formed_but_wrong_json_is_a_400_in_the_protocols_shape(api, case):
    body, words = WRONG_JSON[case]
    r = api.post("/v2/models/efficientnet_lite0/infer", content=body)
    assert r.status_code == 400, r.text
    assert set(r.json()) == {"error", "code"} and r.json()["code"] == "invalid_request"
    assert words in r.json()["error"]


def test_data_as_n_rows_of_one_is_read_as_n_images(api, photos):
    rows = [[base64.b64encode(photos[n]).decode()] for n in ("coffee", "rocket")]
    body = {"inputs": [{"name": "IMAGE", "datatype": "BYTES", "shape": [2, 1], "data": rows}],
            "outputs": [{"name": "PROBABILITIES", "parameters": {"classification": 1}}],
            "id": "two-rows"}  # fmt: skip
    r = api.post("/v2/models/efficientnet_lite0/infer", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == "two-rows"
    labels = [s.split(":", 2)[2] for s in r.json()["outputs"][0]["data"]]
    assert labels == [GOLDEN["coffee"], GOLDEN["rocket"]]


MB = 1024 * 1024
INFER = "/v2/models/efficientnet_lite0/infer"


def tiny_values_request(size: int) -> bytes:
    """A request of about `size` bytes whose `data` is empty arrays: millions of JSON values."""
    head, tail = b'{"inputs":[{"name":"IMAGE","datatype":"BYTES","shape":[1],"data":[', b"[]]}]}"
    return head + b"[]," * ((size - len(head) - len(tail)) // 3) + tail


def test_a_body_of_tiny_json_values_is_refused_while_healthz_answers(live_server):
    body = tiny_values_request(int(Settings().max_json_mb * MB) - 1024)  # under the JSON limit
    hostile: dict = {}

    def send_hostile():
        def halves():  # the second half a moment later, as a network may deliver it
            yield body[: len(body) // 2]
            time.sleep(0.5)
            yield body[len(body) // 2 :]

        start = time.monotonic()
        r = httpx.post(live_server + INFER, content=halves(),
                       headers={"Content-Length": str(len(body))}, timeout=120)  # fmt: skip
        hostile.update(response=r, took=time.monotonic() - start)

    waits = []
    with httpx.Client(base_url=live_server, timeout=120) as probe:
        probe.get("/healthz")  # connected before the hostile request starts
        sender = threading.Thread(target=send_hostile)
        sender.start()
        while sender.is_alive():
            start = time.monotonic()
            assert probe.get("/healthz").status_code == 200
            waits.append(time.monotonic() - start)
        sender.join()
    r = hostile["response"]
    assert r.status_code == 400, r.text
    assert set(r.json()) == {"error", "code"} and r.json()["code"] == "invalid_request"
    assert "values" in r.json()["error"]
    # /healthz answered throughout: its slowest answer took a small part of the hostile
    # request's time (while the body was parsed on the event loop, it waited for all of it)
    assert waits and max(waits) < hostile["took"] / 2


@pytest.fixture(scope="module")
def big_photos() -> list[bytes]:
    """Two JPEGs of noise (which JPEG cannot shrink): each under max_upload_mb, together over
    max_json_mb."""
    from PIL import Image

    rng = np.random.default_rng(0)
    out = []
    for _ in range(2):
        buf = io.BytesIO()
        pixels = rng.integers(0, 256, (1500, 1500, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(buf, "JPEG", quality=100, subsampling=0)
        out.append(buf.getvalue())
    settings = Settings()
    assert all(len(p) < settings.max_upload_bytes for p in out)
    assert sum(len(p) for p in out) > settings.max_json_mb * MB
    return out


def test_binary_requests_keep_the_request_limit_and_json_ones_are_told_to_go_binary(
    client, big_photos
):
    out = triton.InferRequestedOutput("PROBABILITIES", class_count=1)
    result = client.infer("efficientnet_lite0", [image_input(big_photos)], outputs=[out])
    assert result.as_numpy("PROBABILITIES").shape == (2, 1)
    with pytest.raises(InferenceServerException) as caught:
        client.infer("efficientnet_lite0", [image_input(big_photos, binary=False)], outputs=[out])
    assert caught.value.status() == "413"
    assert "16 MB" in caught.value.message() and "binary" in caught.value.message()


def test_json_over_its_limit_is_refused_as_it_arrives(api):
    def pieces():  # chunked, no Content-Length: counted as it comes
        for _ in range(17):
            yield b" " * MB

    r = api.post(INFER, content=pieces())
    assert r.status_code == 413 and set(r.json()) == {"error", "code"}
    assert r.json()["code"] == "payload_too_large" and "binary" in r.json()["error"]


def test_a_binary_requests_json_header_has_the_json_limit(api):
    r = api.post(INFER, content=b"{}", headers={"Inference-Header-Content-Length": str(17 * MB)})
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    assert "JSON header is larger than 16 MB" in r.json()["error"]


# --- TorchServe's curl commands ---------------------------------------------------------------
def curl(*args: str) -> tuple[int, dict | list]:
    out = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", *args], capture_output=True,
                         text=True, check=True, timeout=60).stdout  # fmt: skip
    body, status = out.rsplit("\n", 1)
    return int(status), json.loads(body)


@pytest.fixture(scope="module")
def photo_files(tmp_path_factory, photos):
    d = tmp_path_factory.mktemp("torchserve")
    for name, data in photos.items():
        (d / f"{name}.jpg").write_bytes(data)
    (d / "notes.txt").write_text("not an image")
    return d


@pytest.mark.parametrize("form", ["upload", "multipart"], ids=["curl -T", "curl -F data=@"])
def test_torchserve_predictions_with_its_curl_commands(live_server, photo_files, form):
    for name in NAMES:
        path = str(photo_files / f"{name}.jpg")
        sent = ["-T", path] if form == "upload" else ["-F", f"data=@{path}"]
        status, body = curl(f"{live_server}/predictions/efficientnet_lite0", *sent)
        assert status == 200
        assert len(body) == 5 and next(iter(body)) == GOLDEN[name]
        values = list(body.values())
        assert values == sorted(values, reverse=True) and 0 < sum(values) <= 1 + 1e-6


def test_torchserve_ping_and_management_calls(live_server):
    assert curl(f"{live_server}/ping") == (200, {"status": "Healthy"})
    status, body = curl(f"{live_server}/models")
    assert status == 200 and body["models"][0]["modelName"] == "efficientnet_lite0"
    status, body = curl(f"{live_server}/models/efficientnet_lite0")
    assert status == 200 and body[0]["workers"][0]["status"] == "READY"
    assert body[0]["batchSize"] >= 1 and body[0]["modelVersion"] == "1.0"


def test_torchserve_errors_in_its_shape(live_server, photo_files):
    status, body = curl("-T", str(photo_files / "coffee.jpg"), f"{live_server}/predictions/nope")
    assert status == 404 and body["code"] == 404 and body["type"] == "ModelNotFoundException"
    assert "nope" in body["message"]
    status, body = curl("-T", str(photo_files / "notes.txt"), f"{live_server}/predictions/efficientnet_lite0")
    assert status == 415 and body["code"] == 415 and "not" in body["message"].lower()
    status, body = curl("-X", "POST", f"{live_server}/predictions/efficientnet_lite0")
    assert status == 400 and "body" in body["message"]


def test_the_same_photo_gets_the_same_top1_on_every_route(client, api, live_server, photo_files, photos):
    for name in GOLDEN:
        native = api.post("/api/v1/classify", files={"file": (f"{name}.jpg", photos[name])})
        top = native.json()["results"][0]["predictions"][0]["label"]
        _, ts = curl("-T", str(photo_files / f"{name}.jpg"), f"{live_server}/predictions/efficientnet_lite0")
        out = triton.InferRequestedOutput("PROBABILITIES", class_count=1)
        v2 = client.infer("efficientnet_lite0", [image_input([photos[name]])], outputs=[out])
        assert top == next(iter(ts)) == top1_labels(v2, 1)[0] == GOLDEN[name]


# --- auth, rate limits and history apply as on the other routes -------------------------------
@pytest.fixture(scope="module")
def guarded(tmp_path_factory, lite0):
    db = f"sqlite:///{tmp_path_factory.mktemp('guarded') / 'localvision.db'}"
    key = users_with_keys(db, {"ada": ("ada-password-1", "admin")})["ada"]
    settings = Settings(model="efficientnet_lite0", offline=True, db=db, auth="on",
                        rate_limit="4/minute")  # fmt: skip
    with LiveServer(create_app(settings, classifier=lite0)) as live:
        yield live.url, key


def test_keys_limits_and_history_apply_to_both_protocols(guarded, photos, photo_files):
    url, key = guarded
    client = triton.InferenceServerClient(url.removeprefix("http://"))
    assert client.is_server_ready()  # probes carry no key
    assert curl(f"{url}/ping")[0] == 200
    with pytest.raises(InferenceServerException) as caught:
        client.infer("efficientnet_lite0", [image_input([photos["coffee"]])])
    assert caught.value.status() == "401"
    status, body = curl("-T", str(photo_files / "coffee.jpg"), f"{url}/predictions/efficientnet_lite0")
    assert status == 401 and body["type"] == "unauthorized"

    auth = {"Authorization": f"Bearer {key}"}
    out = triton.InferRequestedOutput("PROBABILITIES", class_count=1)
    result = client.infer("efficientnet_lite0", [image_input([photos["rocket"]])], outputs=[out],
                          headers=dict(auth))  # fmt: skip (tritonclient adds to the dict it gets)
    assert top1_labels(result, 1) == [GOLDEN["rocket"]]
    status, _ = curl("-H", f"Authorization: Bearer {key}", "-T", str(photo_files / "chelsea.jpg"),
                     f"{url}/predictions/efficientnet_lite0")  # fmt: skip
    assert status == 200
    history = httpx.get(f"{url}/api/v1/history", headers=auth, params={"limit": 2}).json()["items"]
    assert [(h["filename"], h["predictions"][0]["label"], h["user"]) for h in history] == [
        ("upload", GOLDEN["chelsea"], "ada"), ("IMAGE[0]", GOLDEN["rocket"], "ada")]  # fmt: skip

    codes = []
    for _ in range(4):  # the limit is 4 a minute: the history call and these use it up
        r = httpx.get(f"{url}/v2/models/efficientnet_lite0", headers=auth)
        codes.append(r.status_code)
    assert codes[-1] == 429 and r.json()["code"] == "rate_limited" and "Retry-After" in r.headers
