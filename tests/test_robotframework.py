"""The Robot Framework library (integrations/robotframework): one real `robot` run of its two
suites against the real service (auth on, the library's API key argument), read back from
output.xml: every test of passing.robot passes, every test of failing.robot fails, each with the
sentence that says what the photo showed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from corpus import sign_photo_bytes

pytest.importorskip("robot", reason="robotframework is in the test extra (scripts/setup.sh test)")

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "integrations" / "robotframework"


@pytest.fixture(scope="module")
def robot_run(judge_server, photo_dir, tmp_path_factory):
    """One robot run over both suites; the parsed output.xml's suites, by name."""
    from robot.api import ExecutionResult

    url, keys = judge_server
    saved = httpx.put(
        f"{url}/api/v1/rules/drinks", json={"accept": ["espresso", "cup"]},
        headers={"Authorization": f"Bearer {keys['ada']}"},
    )  # fmt: skip
    assert saved.status_code in (200, 201), saved.text
    out = tmp_path_factory.mktemp("robot")
    sign = out / "sign.jpg"
    sign.write_bytes(sign_photo_bytes())
    variables = [f"URL:{url}", f"KEY:{keys['bob']}", f"PHOTOS:{photo_dir}", f"SIGN:{sign}"]
    done = subprocess.run(
        [sys.executable, "-m", "robot", "--pythonpath", str(LIBRARY / "src"),
         *(a for v in variables for a in ("--variable", v)), "--outputdir", str(out),
         "--log", "NONE", "--report", "NONE", "--console", "quiet", str(LIBRARY / "tests")],
        capture_output=True, text=True, timeout=300, env={**os.environ},
    )  # fmt: skip
    result = ExecutionResult(str(out / "output.xml"))
    suites = {s.name: {t.name: t for t in s.tests} for s in result.suite.suites}
    failed = sum(1 for tests in suites.values() for t in tests.values() if t.status == "FAIL")
    assert done.returncode == failed, done.stderr  # robot's exit code: how many failed
    return suites


def test_every_keyword_passes_against_the_service(robot_run):
    passing = robot_run["Passing"]
    assert {name: t.status for name, t in passing.items()} == dict.fromkeys(passing, "PASS")
    assert len(passing) == 5


def test_each_failure_says_what_was_seen(robot_run):
    messages = {name: t.message for name, t in robot_run["Failing"].items()}
    assert all(t.status == "FAIL" for t in robot_run["Failing"].values())
    assert messages["The Cat Photo Shows Espresso"].startswith(
        'chelsea.jpg: Failed: the photo shows tiger cat ('
    ) and messages["The Cat Photo Shows Espresso"].endswith('), not "espresso".')
    assert messages["The Cat Photo Does Not Show A Cat"].startswith(
        "chelsea.jpg: Failed: the photo shows cat ("
    ) and "which the rule rejects" in messages["The Cat Photo Does Not Show A Cat"]
    assert "not sure what the photo shows" in messages["A Photo The Service Is Not Sure About"]
    assert messages["A Label The Model Does Not Have"].startswith(
        "unknown_term: The model has no label or group named 'dgo'."
    )
    assert messages["A Rule Nobody Saved"].startswith("rule_not_found: No rule named")
    assert messages["The Sign Does Not Say Exit"] == (
        'sign.jpg: Failed: the photo does not show the text "EXIT".'
    )
