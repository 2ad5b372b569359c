"""The Node-RED node (integrations/node-red): its own tests (`npm test`: node-red-node-test-helper,
a real Node-RED runtime, the example flow file) against the real service, run once from here so
CI runs them. npm installs into the package's node_modules only when package-lock.json changed
(a stamp in node_modules says which lock it installed), so a second run costs no install."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from corpus import sign_photo_bytes

PACKAGE = Path(__file__).resolve().parents[1] / "integrations" / "node-red"
STAMP = PACKAGE / "node_modules" / ".localvision-lock.sha256"


def npm_install() -> None:
    """`npm ci` when node_modules was installed from another package-lock.json (or never)."""
    want = hashlib.sha256((PACKAGE / "package-lock.json").read_bytes()).hexdigest()
    if STAMP.is_file() and STAMP.read_text() == want:
        return
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PACKAGE, check=True,
                   capture_output=True, timeout=600)  # fmt: skip
    STAMP.write_text(want)


@pytest.fixture(scope="module")
def npm():
    if shutil.which("npm") is None:
        if os.environ.get("CI"):
            pytest.fail("npm is not installed (apt install npm); CI runs the Node-RED node's tests")
        pytest.skip("npm is not installed")
    npm_install()


def test_the_node_red_node_against_the_service(npm, judge_server, photo_dir, tmp_path):
    url, keys = judge_server
    sign = tmp_path / "sign.jpg"
    sign.write_bytes(sign_photo_bytes())
    # ImageNet has no receipt: the stand-in rule accepts the coffee photo (a real deployment
    # trains a "receipt" class with Teach and accepts that)
    saved = httpx.put(f"{url}/api/v1/rules/receipts", json={"accept": ["espresso", "cup"]},
                      headers={"Authorization": f"Bearer {keys['ada']}"})  # fmt: skip
    assert saved.status_code in (200, 201), saved.text
    env = {**os.environ, "LOCALVISION_URL": url, "LOCALVISION_API_KEY": keys["bob"],
           "LOCALVISION_PHOTOS": str(photo_dir), "LOCALVISION_SIGN": str(sign)}  # fmt: skip
    done = subprocess.run(["npm", "test"], cwd=PACKAGE, env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert "# fail 0" in done.stdout and "# pass 8" in done.stdout
