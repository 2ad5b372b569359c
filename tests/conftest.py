"""Shared fixtures: real photos, the real bundled model, seeded ResNet-18 weights, a live server.

Every test runs with an empty, private torch cache (TORCH_HOME) and offline, so nothing here
ever touches the network or the user's own cache.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from corpus import GOLDEN, real_photo_bytes
from servers import LiveServer, users_with_keys

# --- tiers ---------------------------------------------------------------------------------------
# Every test gets one tier (pyproject.toml names them): unit (tests/unit/), system (needs one of
# the parts below, named by its own marker as well), or service (the rest: the real model, the
# service on loopback, the CLI). `pytest -m unit` is the quick check; `-m "not system"` skips
# what needs a browser, PostgreSQL, an RTSP stream, a container, Ray or Node.js.
SYSTEM_FILES = {
    "test_browser.py": "browser", "test_teach_page.py": "browser", "test_i18n.py": "browser",
    "test_camera_page.py": "browser", "test_model_picker.py": "browser",
    "test_page_scripts.py": "browser", "test_postgres.py": "postgres", "test_image.py": "container",
    "test_compose.py": "container", "test_ray.py": "ray", "test_streams.py": "rtsp",
    "test_node_red.py": "node", "test_text_corpus.py": "ocr", "test_text.py": "ocr",
}  # fmt: skip
SYSTEM_FIXTURES = {"pg_server": "postgres", "free_pg_url": "postgres", "rtsp": "rtsp",
                   "browser": "browser"}  # fmt: skip


def _system_part(item) -> str | None:
    part = SYSTEM_FILES.get(item.path.name)
    if part is None:
        part = next((p for f, p in SYSTEM_FIXTURES.items() if f in item.fixturenames), None)
    params = getattr(getattr(item, "callspec", None), "params", {})
    if part is None and params.get("db_backend") == "postgresql":
        part = "postgres"
    return part


def pytest_collection_modifyitems(config, items):
    unit = Path(__file__).parent / "unit"
    for item in items:
        if item.path.is_relative_to(unit):
            item.add_marker(pytest.mark.unit)
        elif item.get_closest_marker("unit") is not None:  # a pure test beside service ones
            continue
        elif (part := _system_part(item)) is not None:
            item.add_marker(pytest.mark.system)
            item.add_marker(getattr(pytest.mark, part))
        else:
            item.add_marker(pytest.mark.service)


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium for a module's page tests (tests/chromium.py: under CI, a missing or
    broken Chromium fails the suite instead of skipping it)."""
    from chromium import launched

    with launched() as b:
        yield b


@pytest.fixture(scope="session", autouse=True)
def private_torch_home(tmp_path_factory):
    """Empty weight and artifact caches of our own, and offline."""
    home = tmp_path_factory.mktemp("torch_home")
    env = {
        "TORCH_HOME": str(home),
        "LOCALVISION_MODEL_DIR": str(tmp_path_factory.mktemp("localvision_models")),
        "LOCALVISION_OFFLINE": "1",
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield home
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def lite0_package(private_torch_home) -> Path:
    """efficientnet_lite0 packaged once for the session (with its OpenVINO fp32 export)."""
    from localvision import load_classifier

    clf = load_classifier("efficientnet_lite0", offline=True, precision="fp32")
    return clf.package.path


@pytest.fixture
def empty_cache(tmp_path, monkeypatch, lite0_package) -> Path:
    """A private, empty TORCH_HOME and model store for one test, offline; returns the hub
    checkpoints folder. (A registry model packaged into the store carries its weights, so a test
    that finds weights in its own cache must not leave that model ready for the others.) The
    bundled efficientnet_lite0 is linked in ready, as its weights are always here anyway."""
    home = tmp_path / "torch_home"
    store = tmp_path / "models"
    store.mkdir()
    (store / "efficientnet_lite0").symlink_to(lite0_package, target_is_directory=True)
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.setenv("LOCALVISION_MODEL_DIR", str(store))
    monkeypatch.setenv("LOCALVISION_OFFLINE", "1")
    return home / "hub" / "checkpoints"


LOOPBACK = {"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "::1", "localhost"}


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """A host name other than loopback fails to resolve, so a regression cannot reach out."""
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host not in LOOPBACK and host is not None:
            raise OSError(f"network access in tests: {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(scope="session")
def photos() -> dict[str, bytes]:
    """Real photos as JPEG files (grace_hopper is matplotlib's original file)."""
    return {name: real_photo_bytes(name) for name in GOLDEN}


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory, photos) -> Path:
    d = tmp_path_factory.mktemp("photos")
    for name, data in photos.items():
        (d / f"{name}.jpg").write_bytes(data)
    return d


@pytest.fixture(scope="session")
def lite0():
    from localvision import load_classifier

    # eager torch: the reference every other backend is compared with
    return load_classifier("efficientnet_lite0", offline=True, exact_decode=True, backend="torch")


@pytest.fixture(scope="session")
def resnet18_weights(tmp_path_factory) -> Path:
    """A seeded random ResNet-18 state dict: the real architecture, not the real weights (those
    cannot be downloaded here)."""
    import torch
    from torchvision.models import resnet18

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "resnet18-random.pth"
    torch.save(resnet18().state_dict(), path)
    return path


@pytest.fixture(scope="module")
def r18_store(tmp_path_factory, resnet18_weights, lite0_package) -> Path:
    """A private model store for one module, LOCALVISION_MODEL_DIR while it runs: the session's
    efficientnet_lite0 package linked in (not packaged again), and r18-random (seeded ResNet-18
    weights) imported as a user would."""
    from localvision.config import Settings
    from localvision.models.importing import import_model

    root = tmp_path_factory.mktemp("store")
    (root / "efficientnet_lite0").symlink_to(lite0_package, target_is_directory=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LOCALVISION_MODEL_DIR", str(root))
        import_model(Settings(), "r18-random", "resnet18", resnet18_weights, None, None, False)
        yield root


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, lite0):
    """Base URL of the real service (efficientnet_lite0, temp SQLite history) on loopback."""
    from localvision.config import Settings
    from localvision.server.app import create_app

    db = tmp_path_factory.mktemp("db") / "history.db"
    settings = Settings(model="efficientnet_lite0", offline=True, db=f"sqlite:///{db}")
    with LiveServer(create_app(settings, classifier=lite0)) as server:
        yield server.url


@pytest.fixture(scope="session")
def judge_server(tmp_path_factory, lite0):
    """The real service with auth on (an admin `ada` and a user `bob`, one API key each), for the
    judge route and the automation integrations (Robot Framework, Node-RED) that call it.
    Yields (url, keys by user)."""
    from localvision.config import Settings
    from localvision.server.app import create_app

    db = f"sqlite:///{tmp_path_factory.mktemp('judge') / 'history.db'}"
    people = {"ada": ("ada-password-1", "admin"), "bob": ("bob-password-1", "user")}
    keys = users_with_keys(db, people)
    settings = Settings(model="efficientnet_lite0", offline=True, db=db, auth="on")
    with LiveServer(create_app(settings, classifier=lite0)) as server:
        yield server.url, keys


# --- databases: SQLite and a real PostgreSQL server (tests/pgserver.py) --------------------------
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg_server():
    """One real PostgreSQL server for the whole session (started on first use)."""
    from pgserver import PostgresServer

    server = PostgresServer()
    server.start()
    yield server
    server.cleanup()


def _new_db(request, backend: str, folder: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{folder}/localvision.db"
    server = request.getfixturevalue("pg_server")
    url = server.create_schema()  # as empty as a new database, and made in milliseconds
    # dropped afterwards (ending connections a test left open), so the server stays lean
    request.addfinalizer(lambda: server.drop_schema(url))
    return url


@pytest.fixture(scope="module", params=BACKENDS)
def db_backend(request) -> str:
    """The database a module's tests run on: the module runs once on an SQLite file, then once
    on the session's PostgreSQL server (only the tests that use a database fixture)."""
    return request.param


@pytest.fixture
def db_url(request, db_backend, tmp_path) -> str:
    """A fresh, empty database for one test (an SQLite file, or a schema of its own on the
    PostgreSQL server, named in the URL): its SQLAlchemy URL, as --db takes it."""
    return _new_db(request, db_backend, tmp_path)


@pytest.fixture(scope="module")
def new_db(request, db_backend, tmp_path_factory):
    """Makes fresh databases on the module's backend, for module-scoped servers."""
    return lambda: _new_db(request, db_backend, tmp_path_factory.mktemp("db"))
