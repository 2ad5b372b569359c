"""Scale out on Ray (localvision/scale/): `serve --ray` and `classify --ray`, on a real local Ray
cluster with the real EfficientNet-Lite0.

One cluster for the module (2 CPUs, 200 MB of object store), one Serve application of two
replicas at half a CPU each. Specified here: both replicas answer; the images of concurrent
requests are merged into one model call (@serve.batch); every concurrent request gets its own,
right answer; an answer through Ray equals the in-process service's; the Ray Data job writes
the rows `localvision classify --format csv` prints for the same folder (a broken file's row
too), as CSV and as Parquet.

The cluster runs on loopback (127.0.0.1), so the `no_network` guard (non-loopback names fail
to resolve) holds for the test process; Ray's own processes resolve nothing. Token auth is
disabled for this private, loopback-only cluster (RAY_AUTH_MODE=disabled), which also
silences Ray's notice about it.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter

import httpx
import pytest
from corpus import GOLDEN
from servers import LiveServer, free_port, wait_ready

ray = pytest.importorskip("ray", reason="the ray extra is not installed")

MODEL = "efficientnet_lite0"
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def cluster(lite0_package, tmp_path_factory):
    """A local Ray cluster for the module, shut down (every process of it) at the end. Its
    workers inherit this process's environment: the private model store, offline."""
    os.environ["RAY_AUTH_MODE"] = "disabled"
    ray.init(
        num_cpus=2,
        object_store_memory=200 * 1024 * 1024,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        log_to_driver=False,
        _temp_dir=str(tmp_path_factory.mktemp("ray")),
    )
    yield ray
    from ray import serve

    serve.shutdown()
    ray.shutdown()


def _settings(**given):
    from localvision.config import Settings

    base = dict(
        model=MODEL, offline=True, precision="fp32", host="127.0.0.1", auth="off",
        rate_limit="off", ray=True, replicas=2, ray_cpus_per_replica=0.5,
    )  # fmt: skip
    return Settings(**{**base, **given})


@pytest.fixture(scope="module")
def served(cluster, tmp_path_factory):
    """Base URL of `serve --ray`: two replicas of efficientnet_lite0; a batch waits up to
    300 ms for company, so that concurrent requests are merged however the host is loaded."""
    from localvision.scale.serve import deploy

    db = tmp_path_factory.mktemp("ray_db") / "history.db"
    settings = _settings(port=free_port(), db=f"sqlite:///{db}", max_batch=8, max_wait_ms=300)
    url = deploy(settings).rstrip("/")
    yield url


def _classify(client: httpx.Client, url: str, name: str, data: bytes) -> httpx.Response:
    return client.post(url + "/api/v1/classify", files={"file": (f"{name}.jpg", data)})


# --- sizing: before the tests that deploy `served`, while the cluster's 2 CPUs are all free ---
def test_the_default_pool_fits_the_cluster_and_a_chosen_one_is_kept(monkeypatch):
    """The pure sizing (scale.fitting, scale.sized) and check_room's use of it: the default of
    2 actors at 1 CPU is lowered to what the free CPUs hold (at least one); --replicas,
    LOCALVISION_REPLICAS or --autoscale is kept as asked, and refused where it does not fit."""
    from localvision.config import Settings
    from localvision.errors import InvalidArgument
    from localvision.scale import fitting, size_chosen, sized
    from localvision.scale.batch import check_room

    assert fitting(2, 1.0, 1.9) == 1 and fitting(2, 1.0, 10) == 2 and fitting(2, 0.5, 1.9) == 2
    assert fitting(4, 0.3, 0.9) == 3  # 3 * 0.3 fits 0.9 despite floating point
    assert fitting(2, 1.0, 0.5) == 1 and fitting(2, 1.0, 0) == 1  # at least one
    default, chosen = Settings(), Settings(replicas=2)
    assert not size_chosen(default) and size_chosen(chosen)
    assert sized(default, 1.9).replicas == 1 and sized(default, 8).replicas == 2
    assert sized(chosen, 1.9).replicas == 2
    assert sized(Settings(autoscale="2:4"), 0.5).autoscale_range == (2, 4)
    assert check_room(default, 2.0).replicas == 1  # 1 actor + the reads: 1.1 of 2 CPUs
    with pytest.raises(InvalidArgument) as refused:
        check_room(Settings(replicas=3), 2.0)
    assert refused.value.message == ("The Ray cluster has 2 CPUs free, and 3 classifier actors "
                                     "at 1 CPU each plus the file reads need 3.1.")  # fmt: skip
    monkeypatch.setenv("LOCALVISION_REPLICAS", "3")  # the variable is asked for as the option is
    with pytest.raises(InvalidArgument):
        check_room(Settings(), 2.0)


def test_classify_ray_with_its_defaults_runs_on_a_2_cpu_cluster(cluster, photo_dir, tmp_path):
    assert ray.cluster_resources()["CPU"] == 2
    out = tmp_path / "rows.csv"
    result = invoke("classify", photo_dir, "--ray", "--output", out)
    assert result.exit_code == 0, result.output
    rows = out.read_text("utf-8").splitlines()
    assert len(rows) == 1 + len(GOLDEN) and "CPUs free" not in result.stderr


def test_classify_ray_with_more_replicas_than_fit_is_refused(cluster, photo_dir, tmp_path):
    deadline = time.monotonic() + 30  # a job that just ended hands its actors' CPUs back soon
    while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    out = tmp_path / "rows.csv"
    result = invoke("classify", photo_dir, "--ray", "--replicas", "3", "--output", out)
    assert result.exit_code == 2, result.output
    assert ("The Ray cluster has 2 CPUs free, and 3 classifier actors at 1 CPU each plus the "
            "file reads need 3.1.") in " ".join(result.stderr.split()), result.stderr
    assert "Traceback" not in result.output and not out.exists()


def test_two_replicas_both_answer(served):
    seen = Counter()
    pids = set()
    with httpx.Client(timeout=30) as client:
        for _ in range(30):
            r = client.get(served + "/api/v1/replica")
            assert r.status_code == 200, r.text
            seen[r.headers["x-localvision-replica"]] += 1
            assert r.json()["replica"] == r.headers["x-localvision-replica"]
            pids.add(r.json()["pid"])
            if len(seen) == 2:
                break
        assert client.get(served + "/readyz").json()["model"] == MODEL
    assert len(seen) == 2, seen
    assert len(pids) == 2 and os.getpid() not in pids  # two processes, neither of them ours


async def _concurrently(url: str, photos: dict[str, bytes], rounds: int) -> list:
    async with httpx.AsyncClient(timeout=60) as client:
        sends = [
            client.post(url + "/api/v1/classify", files={"file": (f"{name}.jpg", data)})
            for _ in range(rounds)
            for name, data in photos.items()
        ]
        return await asyncio.gather(*sends)


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(served, photos):
    answers = asyncio.run(_concurrently(served, photos, rounds=2))  # 10 single-photo requests
    for r in answers:
        assert r.status_code == 200, r.text
        (row,) = r.json()["results"]
        name = row["filename"].removesuffix(".jpg")
        assert row["predictions"][0]["label"] == GOLDEN[name], row
    assert {r.headers["x-localvision-replica"] for r in answers}  # named by a replica
    # Each request sent one photo: a batch of more than one image merged several requests.
    largest = 0
    with httpx.Client(timeout=30) as client:
        for _ in range(30):
            largest = max(largest, client.get(served + "/api/v1/replica").json()["batches"]["largest"])
    assert largest > 1


def test_an_answer_through_ray_equals_the_in_process_service(served, photos, tmp_path):
    from localvision.server.app import create_app

    settings = _settings(ray=False, db=f"sqlite:///{tmp_path / 'h.db'}")
    with LiveServer(create_app(settings)) as local, httpx.Client(timeout=60) as client:
        wait_ready(local.url)
        for name in ("coffee", "chelsea"):
            here = _classify(client, local.url, name, photos[name]).json()
            there = _classify(client, served, name, photos[name]).json()
            assert there["results"] == here["results"]
            assert there["model"] == here["model"] == MODEL


# --- classify --ray: a Ray Data job ---------------------------------------------------------------
def invoke(*args):
    from typer.testing import CliRunner

    from localvision.cli import app

    env = {"COLUMNS": "400", "LOCALVISION_MODEL": MODEL, "LOCALVISION_PRECISION": "fp32"}
    return CliRunner().invoke(app, [str(a) for a in args], env=env, prog_name="localvision")


# The two replicas of `served` hold one of the cluster's two CPUs: the job's two actors take 0.8
# of the other and its reads 0.1 (a job that would not fit is refused, not left waiting).
@pytest.fixture(scope="module")
def folder(tmp_path_factory, photos):
    """Five real photos, a broken JPEG (text with a photo's name) and a note (not an image)."""
    d = tmp_path_factory.mktemp("folder")
    for name, data in photos.items():
        (d / f"{name}.jpg").write_bytes(data)
    (d / "broken.jpg").write_bytes(b"this is not a JPEG")
    (d / "notes.txt").write_text("not an image")
    return d


@pytest.fixture(scope="module")
def cli_csv(folder, cluster) -> list[list[str]]:
    """What `localvision classify DIR --format csv` prints (in process, no Ray), as rows."""
    import csv
    import io

    result = invoke("classify", folder, "--format", "csv", "--strict")
    assert result.exit_code == 1, result.output  # the broken file and the note fail their rows
    return list(csv.reader(io.StringIO(result.stdout)))


def test_the_ray_data_job_writes_the_cli_rows_as_csv(folder, cli_csv, tmp_path):
    import csv

    out = tmp_path / "results.csv"
    result = invoke("classify", folder, "--ray", "--replicas", "2",
                    "--ray-cpus-per-replica", "0.4", "--output", out, "--strict")  # fmt: skip
    assert result.exit_code == 1, result.output
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows == cli_csv
    by_name = {os.path.basename(r[0]): r for r in rows[1:]}
    header = rows[0]
    assert by_name["broken.jpg"][header.index("error_code")] != ""
    assert by_name["notes.txt"][header.index("error_code")] == "unsupported_format"
    for name, label in GOLDEN.items():
        assert by_name[f"{name}.jpg"][header.index("label_1")] == label


def test_the_ray_data_job_writes_the_same_rows_as_parquet(folder, cli_csv, tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "results.parquet"
    result = invoke("classify", folder, "--ray", "--ray-cpus-per-replica", "0.4",
                    "--output", out, "--strict")  # fmt: skip
    assert result.exit_code == 1, result.output
    data = pq.read_table(out)
    header, *expected = cli_csv
    assert data.column_names == header
    assert str(data.schema.field("index_1").type) == "int64"
    assert str(data.schema.field("probability_1").type) == "double"

    def cell(value, name):  # as the CSV writes it
        if value is None:
            return ""
        return f"{value:.6f}" if name.startswith("probability_") else str(value)

    got = [[cell(v, n) for v, n in zip(row.values(), header)] for row in data.to_pylist()]
    assert got == expected


def test_ray_without_ray_installed_is_a_usage_error_in_one_sentence(folder, monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "ray.serve", None)  # as if the extra were not installed
    result = invoke("classify", folder, "--ray", "--output", tmp_path / "x.csv")
    assert result.exit_code == 2
    assert "--ray needs Ray Serve and Ray Data" in result.stderr
    assert "Traceback" not in result.output


def test_a_job_the_local_cluster_cannot_fit_is_refused_not_left_waiting(folder, served, tmp_path):
    out = tmp_path / "x.csv"
    result = invoke("classify", folder, "--ray", "--replicas", "4", "--output", out)
    assert result.exit_code == 2, result.output
    assert "CPUs free" in result.stderr and "lower --replicas" in result.stderr
    assert not out.exists()
