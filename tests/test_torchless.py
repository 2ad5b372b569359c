"""What the container image runs, run here: `localvision serve` with torch absent (tests/
torchless.py hides it), from a read-only built-in model store whose package has no torch
weights, only its OpenVINO export; auth on, with the first admin and API key made at start
from LOCALVISION_ADMIN_PASSWORD_FILE and LOCALVISION_API_KEY_FILE (first_start.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from corpus import GOLDEN
from servers import free_port

from localvision.errors import InvalidArgument
from localvision.models.store import ModelStore

TORCHLESS = Path(__file__).with_name("torchless.py")


@pytest.fixture(scope="module")
def builtin(tmp_path_factory, lite0_package) -> Path:
    """efficientnet_lite0 as the image bakes it: the package and its fp32 IR, no weights file."""
    root = tmp_path_factory.mktemp("builtin")
    # fp32 only: another test may have left a checked precision in the session's package
    leave_out = shutil.ignore_patterns("weights.safetensors", "*-int8", "*-bf16")
    shutil.copytree(lite0_package, root / "efficientnet_lite0", ignore=leave_out)
    root.chmod(0o555)  # read-only, as in the image
    yield root
    root.chmod(0o755)


def torchless(*args: str, env: dict, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TORCHLESS), *args], env=env, capture_output=True,
                          text=True, timeout=120, **kw)  # fmt: skip


def test_torch_is_hidden(tmp_path):
    code = "import tests.torchless, importlib.util as u; print(u.find_spec('torch')); import torch"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).parents[1])  # fmt: skip
    assert proc.stdout.strip() == "None" and "ModuleNotFoundError" in proc.stderr


def test_serves_the_builtin_artifact_without_torch(tmp_path, builtin, photos):
    port = free_port()
    (tmp_path / "password").write_text("correct horse battery\n")
    env = {**os.environ, "LOCALVISION_MODEL_DIR": str(tmp_path / "models"),
           "LOCALVISION_BUILTIN_MODEL_DIR": str(builtin), "LOCALVISION_OFFLINE": "1",
           "LOCALVISION_DB": f"sqlite:///{tmp_path / 'history.db'}",
           "LOCALVISION_ADMIN_PASSWORD_FILE": str(tmp_path / "password"),
           "LOCALVISION_API_KEY_FILE": str(tmp_path / "keys" / "admin.key")}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, str(TORCHLESS), "serve", "--model", "efficientnet_lite0", "--auth", "on",
         "--port", str(port), "--log-format", "text"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if httpx.get(url + "/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        assert server.poll() is None, server.stdout.read()
        key_file = tmp_path / "keys" / "admin.key"
        key = key_file.read_text().strip()
        assert key.startswith("lv_") and key_file.stat().st_mode & 0o777 == 0o600
        photo = {"file": ("grace_hopper.jpg", photos["grace_hopper"], "image/jpeg")}
        assert httpx.post(url + "/api/v1/classify", files=photo).status_code == 401
        r = httpx.post(url + "/api/v1/classify", files=photo,
                       headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.json()["results"][0]["predictions"][0]["label"] == GOLDEN["grace_hopper"]
        models = httpx.get(url + "/api/v1/models", headers={"Authorization": f"Bearer {key}"})
        (served,) = models.json()["models"]
        assert (served["backend"], served["precision"]) == ("openvino", "fp32")
        # `keys create` works without torch too
        made = torchless("keys", "create", "--name", "ci", env=env)
        assert made.returncode == 0 and made.stdout.strip().startswith("lv_"), made.stderr
        # Without PyAV a camera is refused when it is given, not accepted to fail later
        camera = httpx.post(url + "/api/v1/streams", json={"url": "rtsp://u:pw@127.0.0.1/cam"},
                            headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        assert camera.status_code == 501, camera.text
        assert camera.json()["error"]["code"] == "video_not_installed", camera.text
        streams = httpx.get(url + "/api/v1/streams", headers={"Authorization": f"Bearer {key}"})
        assert streams.json() == {"streams": []}
    finally:
        server.terminate()
        log = server.communicate(timeout=30)[0]
    assert "Created user admin" in log and f"Wrote an API key for admin to {key_file}" in log
    assert "Traceback" not in log
    from localvision.auth import AuthStore

    auth = AuthStore.open(env["LOCALVISION_DB"])
    try:  # the admin from the password file signs in with it (the trailing newline is not in it)
        assert auth.authenticate("admin", "correct horse battery")["role"] == "admin"
    finally:
        auth.close()


def test_video_without_pyav_is_one_clear_line(tmp_path):
    from videos import make_video

    video = make_video(tmp_path / "two.mp4", ["coffee"], seconds=0.5, size=(64, 48))
    proc = torchless("video", str(video), "-m", "efficientnet_lite0", env=dict(os.environ))
    assert proc.returncode == 2, proc.stderr
    assert "Video needs PyAV (FFmpeg), which is not installed here." in proc.stderr, proc.stderr
    assert "--with-video" in proc.stderr and "Traceback" not in proc.stderr


def test_builtin_store_is_read_only_and_loses_to_the_writable_one(tmp_path, builtin):
    store = ModelStore(tmp_path / "models", builtin)
    assert [p.path for p in store.packages()] == [builtin / "efficientnet_lite0"]
    with pytest.raises(InvalidArgument, match="built in"):
        store.remove("efficientnet_lite0")
    shutil.copytree(builtin / "efficientnet_lite0", tmp_path / "models" / "efficientnet_lite0")
    assert store.get("efficientnet_lite0").path == tmp_path / "models" / "efficientnet_lite0"
    assert len(store.packages()) == 1
    # a package with neither weights nor an export is not a package
    shutil.rmtree(tmp_path / "models" / "efficientnet_lite0" / "artifacts")
    assert store.get("efficientnet_lite0").path == builtin / "efficientnet_lite0"


def test_first_start_without_files_says_how_to_get_in(tmp_path):
    from localvision import first_start
    from localvision.auth import AuthStore
    from localvision.config import Settings

    store = AuthStore.open(f"sqlite:///{tmp_path / 'h.db'}")
    try:
        key_file = tmp_path / "admin.key"
        key_file.write_text("lv_not-a-key\n")
        said = first_start.provision(store, Settings(api_key_file=key_file))
        assert said and "does not work here" in said[0] and store.count_users() == 0
    finally:
        store.close()
    assert "localvision keys create" in first_start.how_to_get_in()


def test_first_start_files_that_do_not_work_are_one_clear_error(tmp_path):
    """A too-short password file is named; a key file that cannot be written leaves no working
    key behind (nobody holds it)."""
    from localvision import first_start
    from localvision.auth import AuthStore
    from localvision.config import Settings

    store = AuthStore.open(f"sqlite:///{tmp_path / 'h.db'}")
    try:
        short = tmp_path / "pw"
        short.write_text("short\n")
        with pytest.raises(InvalidArgument, match=f"admin password file {short}: .*too short"):
            first_start.provision(store, Settings(admin_password_file=short))
        assert store.count_users() == 0
        (tmp_path / "file").write_text("")
        unwritable = tmp_path / "file" / "admin.key"  # its folder is a file
        with pytest.raises(InvalidArgument, match="Cannot write the API key file"):
            first_start.provision(store, Settings(api_key_file=unwritable))
        assert store.count_keys() == 0 and not unwritable.exists()
    finally:
        store.close()
