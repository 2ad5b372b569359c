"""compose.yaml (localvision + PostgreSQL) read by a real Compose implementation.

No registry answers here, so postgres:16 cannot be pulled and the stack cannot run; podman-compose
(PyPI) parses and interpolates the file as `up` would, and the test checks what it made of it.
Docker's compose plugin is a separate Go binary that Debian does not package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
# the venv's own (the test extra), else one on the PATH
VENV_BIN = str(Path(sys.executable).parent)
PODMAN_COMPOSE = shutil.which("podman-compose", path=VENV_BIN) or shutil.which("podman-compose")


def compose_config(**env: str) -> subprocess.CompletedProcess:
    if PODMAN_COMPOSE is None:
        pytest.fail("podman-compose is not installed (it is in localvision's test extra)")
    if shutil.which("podman") is None:  # podman-compose asks podman for its version first
        pytest.fail("podman is not installed (scripts/test.sh installs it: apt-get install podman)")
    clean = {k: v for k, v in os.environ.items() if k != "POSTGRES_PASSWORD"}
    return subprocess.run([PODMAN_COMPOSE, "-f", str(ROOT / "compose.yaml"), "config"],
                          env={**clean, **env}, capture_output=True, text=True, cwd=ROOT,
                          timeout=60)  # fmt: skip


def test_compose_file_is_localvision_and_postgres_with_volumes_and_health_checks():
    proc = compose_config(POSTGRES_PASSWORD="pw-from-env")
    assert proc.returncode == 0, proc.stderr
    config = yaml.safe_load(proc.stdout)
    lv, pg = config["services"]["localvision"], config["services"]["postgres"]
    assert pg["image"].endswith("postgres:16") and "ports" not in pg  # not published
    assert lv["build"]["dockerfile"] == "Containerfile" and Path(lv["build"]["context"]) == ROOT
    assert lv["environment"]["LOCALVISION_DB"] == (
        "postgresql+psycopg://localvision:pw-from-env@postgres:5432/localvision"
    )
    assert pg["environment"]["POSTGRES_PASSWORD"] == "pw-from-env"
    assert lv["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    assert "/readyz" in " ".join(lv["healthcheck"]["test"])
    assert lv["volumes"] == ["localvision:/data"] and pg["volumes"][0].startswith("postgres:")
    assert set(config["volumes"]) == {"localvision", "postgres"}
    assert lv["ports"] == ["8000:8000"]


def test_compose_file_refuses_to_start_without_a_database_password():
    proc = compose_config()
    assert proc.returncode != 0 and "POSTGRES_PASSWORD" in proc.stderr
