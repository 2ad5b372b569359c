"""`localvision train`: real photos (tests/trainset.py), EfficientNet-Lite0's real weights as the
base, the command run as a user (and the Teach page's server) runs it, in a child process.

One model is trained for the module (head mode) and then judged the way a user would use it:
listed by `localvision models`, answering through `localvision classify`, a real HTTP service
serving it by name and its OpenVINO export, with the same top-1 and near-identical
probabilities. Then: --seed repeats, every refusal exits 2 with its code, SIGKILL and SIGTERM
leave the store as it was, Ctrl+C after an epoch keeps the best, finetune and full mode run
(ResNet-18 with seeded random weights: plumbing only), --from-feedback reads a Teach project.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from servers import LiveServer, wait_models_ready
from trainset import make_trainset
from typer.testing import CliRunner

NAME = "shop"
THREADS = "2"


def cli(*args: str, **options) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "localvision", *args], capture_output=True, text=True,
        timeout=options.pop("timeout", 300), env={**os.environ, **options.pop("env", {})},
    )  # fmt: skip


def events(stdout: str) -> list[dict]:
    """--progress jsonl: every line of stdout is one JSON object (this raises on any other)."""
    return [json.loads(line) for line in stdout.splitlines()]


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "localvision", "train", *args, "--progress", "jsonl",
         "--threads", THREADS],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for(proc: subprocess.Popen, test) -> list[dict]:
    """Read the child's events until one passes `test`; returns those read."""
    seen = []
    for line in proc.stdout:
        seen.append(json.loads(line))
        if test(seen[-1]):
            return seen
    raise AssertionError(f"the run ended first: {seen[-3:]} {proc.stderr.read()[-2000:]}")


def listing(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under the store, with its size and modification time."""
    return {
        str(p.relative_to(root)): (p.stat().st_size if p.is_file() else -1, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
    }


# --- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def store(r18_store):
    """This module's private model store (conftest's r18_store: the session's efficientnet_lite0
    linked in, r18-random imported); the trainings write into it."""
    return r18_store


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """4 classes x 3 real photos x 4 random crops."""
    root = tmp_path_factory.mktemp("trainset")
    make_trainset(root)
    return root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """2 classes x 3 photos x 1 crop: the least a run accepts, for the repeated runs."""
    root = tmp_path_factory.mktemp("tiny")
    make_trainset(root, classes=2, crops=1, seed=2)
    return root


@pytest.fixture(scope="module")
def trained(store, data):
    """The module's model: `localvision train DATA --name shop --mode head` as the Teach page's
    server runs it (--progress jsonl)."""
    t = time.perf_counter()
    proc = cli("train", str(data), "--name", NAME, "--base", "efficientnet_lite0", "--mode",
               "head", "--progress", "jsonl", "--threads", THREADS)  # fmt: skip
    seconds = time.perf_counter() - t
    assert proc.returncode == 0, proc.stderr
    print(f"\nhead mode, {THREADS} threads: {seconds:.1f} s wall (with start-up)", file=sys.stderr)
    return {"events": events(proc.stdout), "path": store / NAME, "stderr": proc.stderr}


def manifest(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text("utf-8"))


# --- the trained model ----------------------------------------------------------------------------
def test_head_mode_learns_the_classes(trained, data, lite0_package):
    ev = trained["events"]
    assert ev[0]["event"] == "start" and ev[-1]["event"] == "done"
    assert ev[0]["classes"] == ["machine", "microscopy", "people", "texture"]
    assert ev[0]["train"] + ev[0]["val"] == 48 and ev[0]["skipped"] == 0
    kinds = [e["event"] for e in ev]
    assert "phase" in kinds and kinds.count("epoch") >= 1
    epochs = [e for e in ev if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == list(range(1, len(epochs) + 1))
    assert all(e["eta_s"] >= 0 and 0 <= e["val_acc"] <= 1 for e in epochs)
    m = manifest(trained["path"])
    assert m["metrics"]["val_acc"] >= 0.9, m["metrics"]
    assert ev[-1]["metrics"] == m["metrics"] and ev[-1]["stopped"] in (None, "early")
    base = manifest(lite0_package)
    assert m["source"] == {"kind": "trained", "base": "efficientnet_lite0", "mode": "head",
                           "base_sha256": base["weights"]["sha256"], "sha256": None}
    assert m["preprocess"] == base["preprocess"] and m["architecture"] == "efficientnet_lite0"
    assert m["labels"] == {"en": ev[0]["classes"]} and m["groups"] is None
    t = m["training"]
    assert t["seed"] == 0 and t["mode"] == "head" and t["skipped"] == 0
    assert sum(c["val"] for c in t["classes"].values()) == ev[0]["val"]
    # the final figures come from the road: the best epoch's validation, the same numbers
    best = epochs[t["best_epoch"] - 1]
    assert best["val_acc"] == pytest.approx(m["metrics"]["val_acc"], abs=1e-6)
    assert best["val_loss"] == pytest.approx(m["metrics"]["val_loss"], rel=1e-3)
    report = Path(ev[-1]["report"])
    assert report == trained["path"] / "report" and (report / "report.json").is_file()
    assert (report / "epochs.csv").read_text().count("\n") == len(epochs) + 1


def test_models_lists_it(trained):
    from localvision.config import Settings
    from localvision.models.catalog import catalog

    entry = {e.name: e for e in catalog(Settings())}[NAME]
    assert entry.state == "ready" and entry.classes == 4


def test_the_same_answers_through_the_cli_http_and_openvino(trained, data, tmp_path):
    """The package reloaded: eager torch in this process is the reference; `localvision
    classify` (OpenVINO fp32, exported on first use), a real HTTP service serving it by name, and
    the OpenVINO export loaded directly agree on every photo's top-1 and probabilities."""
    from localvision import load_classifier
    from localvision.config import Settings
    from localvision.server.app import create_app

    images = sorted(str(p) for p in data.glob("*/*-0.jpg"))  # one crop of each of the 12 photos
    ref = load_classifier(NAME, backend="torch", precision="fp32")
    expected = {r.source: {p.label: p.probability for p in r.predictions}
                for r in ref.predict(images, top_k=4)}  # fmt: skip
    correct = sum(max(v, key=v.get) == Path(k).parent.name for k, v in expected.items())
    assert correct >= 11  # photos it was trained on: known

    def same(answers: dict, tol: float) -> None:
        assert answers.keys() == expected.keys()
        for path, probs in answers.items():
            want = expected[path]
            assert max(probs, key=probs.get) == max(want, key=want.get), path
            for label, p in want.items():
                assert probs[label] == pytest.approx(p, abs=tol), (path, label)

    proc = cli("classify", *images, "--model", NAME, "--precision", "fp32", "--top-k", "4",
               "--format", "json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    same({r["path"]: {p["label"]: p["probability"] for p in r["predictions"]} for r in rows}, 1e-3)

    ov = load_classifier(NAME, backend="openvino", precision="fp32")  # the artifact just made
    assert ov.backend.name == "openvino" and ov.backend.precision == "fp32"
    same({r.source: {p.label: p.probability for p in r.predictions}
          for r in ov.predict(images, top_k=4)}, 1e-3)  # fmt: skip

    db = tmp_path / "h.db"
    settings = Settings(models=f"{NAME},efficientnet_lite0", precision="fp32",
                        db=f"sqlite:///{db}", rate_limit="off")  # fmt: skip
    with LiveServer(create_app(settings)) as live:
        wait_models_ready(live.url, 120)
        listed = {m["name"]: m for m in httpx.get(live.url + "/api/v1/models").json()["models"]}
        assert listed[NAME]["num_labels"] == 4
        files = [("file", (p, Path(p).read_bytes(), "image/jpeg")) for p in images]
        body = httpx.post(live.url + "/api/v1/classify", files=files,
                          params={"model": NAME, "top_k": 4}, timeout=60).json()  # fmt: skip
    assert body["model"] == NAME
    same({p: {q["label"]: q["probability"] for q in r["predictions"]}
          for p, r in zip(images, body["results"])}, 1e-3)  # fmt: skip


# --- repeatable ---------------------------------------------------------------------------------
def test_the_same_seed_gives_the_same_model(store, tiny):
    from localvision.config import Settings
    from localvision.training.run import Request, train

    def run(name: str, seed: int):
        settings = Settings(train_seed=seed, train_epochs=6, train_threads=2)
        out = train(settings, Request(name=name, data=(tiny,), base="efficientnet_lite0"),
                    lambda e: None)  # fmt: skip
        m = manifest(out.package.path)
        return m["weights"]["sha256"], m["metrics"], m["training"]["classes"]

    a, b, c = run("seed-a", 3), run("seed-b", 3), run("seed-c", 4)
    assert a == b
    assert c[0] != a[0]  # another seed: another split, other views, other weights


# --- refusals -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args,code",
    [
        (["--name", "resnet18"], "model_name_reserved"),
        (["--name", "auto"], "model_name_reserved"),
        (["--name", "Not A Name"], "invalid_model_name"),
        (["--name", NAME], "model_exists"),
        (["--name", "x2", "--val-fraction", "1.5"], "training_option_invalid"),
        (["--name", "x3", "--base", "vgg99"], "unknown_model"),
        (["--name", "x4", "--no-data"], "training_option_invalid"),
        (["--name", "x5", "--missing"], "dataset_not_found"),
        (["--name", "x6", "--one-class"], "dataset_one_class"),
    ],
    ids=lambda v: v if isinstance(v, str) else " ".join(v),
)
def test_refusals_exit_2_with_their_code(trained, store, data, tmp_path, args, code):
    from localvision.cli import app

    source = [str(data)]
    if "--no-data" in args:
        args, source = [a for a in args if a != "--no-data"], []
    if "--missing" in args:
        args, source = [a for a in args if a != "--missing"], [str(tmp_path / "nothing")]
    if "--one-class" in args:
        (tmp_path / "only" / "cats").mkdir(parents=True)
        for p in sorted(data.glob("people/*.jpg"))[:3]:
            (tmp_path / "only" / "cats" / p.name).write_bytes(p.read_bytes())
        args, source = [a for a in args if a != "--one-class"], [str(tmp_path / "only")]
    before = listing(store)
    result = CliRunner().invoke(app, ["train", *source, *args, "--progress", "jsonl"])
    assert result.exit_code == 2, result.output
    last = events(result.stdout)[-1]
    assert last["event"] == "error" and last["code"] == code, last
    assert listing(store) == before


@pytest.mark.parametrize(
    "option, value, choices",
    [("--mode", "turbo", "'head', 'finetune', 'full'"), ("--optimizer", "adam", "'adamw', 'sgd'")],
)
def test_a_choice_outside_the_settings_is_refused_with_the_choices(store, data, option, value,
                                                                   choices):  # fmt: skip
    """--mode, --optimizer and --progress take their setting's choices, as every command's
    options do: click refuses another value (exit 2), naming the option and what it allows.
    (The Teach API checks the mode itself before it starts a training.)"""
    from localvision.cli import app

    before = listing(store)
    result = CliRunner().invoke(app, ["train", str(data), "--name", "x1", option, value])
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}': '{value}' is not one of {choices}." in result.output
    assert listing(store) == before


# --- stopped: killed, terminated, interrupted ---------------------------------------------------
def test_a_killed_training_leaves_the_store_as_it_was(store, data):
    before = listing(store)
    proc = start(str(data), "--name", "killed", "--base", "efficientnet_lite0")
    wait_for(proc, lambda e: e["event"] == "phase" and e["done"] > 0)
    proc.kill()
    proc.wait(30)
    assert listing(store) == before


def test_sigterm_stops_at_once_and_writes_nothing(store, data):
    before = listing(store)
    proc = start(str(data), "--name", "cancelled", "--base", "efficientnet_lite0")
    wait_for(proc, lambda e: e["event"] == "phase" and e["done"] > 0)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 143
    assert listing(store) == before


def test_ctrl_c_before_an_epoch_writes_nothing_and_after_one_keeps_the_best(store, tiny):
    before = listing(store)
    proc = start(str(tiny), "--name", "early-stop", "--base", "efficientnet_lite0")
    wait_for(proc, lambda e: e["event"] == "phase" and e["done"] > 0)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 130
    assert listing(store) == before

    # finetune: an epoch takes long enough to be interrupted after the first
    proc = start(str(tiny), "--name", "interrupted", "--base", "efficientnet_lite0", "--mode",
                 "finetune", "--epochs", "50", "--patience", "50")  # fmt: skip
    seen = wait_for(proc, lambda e: e["event"] == "epoch")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    done = events(out)[-1]
    assert done["event"] == "done" and done["stopped"] == "interrupted"
    m = manifest(store / "interrupted")
    assert m["training"]["stopped"] == "interrupted" and m["source"]["mode"] == "finetune"
    assert 1 <= m["training"]["best_epoch"] <= m["training"]["epochs_run"] < 50
    assert seen[0]["event"] == "start" and 0 <= m["metrics"]["val_acc"] <= 1


# --- the other modes and sources ------------------------------------------------------------------
def test_full_mode_on_a_store_model(store, tiny):
    """Plumbing: every layer of r18-random (a store model: seeded random ResNet-18 weights)."""
    proc = cli("train", str(tiny), "--name", "r18-full", "--base", "r18-random", "--mode",
               "full", "--epochs", "1", "--progress", "none", "--threads", THREADS)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    m = manifest(store / "r18-full")
    assert m["source"]["base"] == "r18-random" and m["architecture"] == "resnet18"
    assert m["training"]["epochs_run"] == 1 and m["num_classes"] == 2
    assert "trained, validation accuracy" in proc.stdout


def test_from_feedback_trains_on_a_teach_project_on_a_trained_base(trained, store, tiny):
    """--from-feedback PROJECT: the Teach page's photo store (its sidecars ignored), on the
    module's trained model as the base."""
    project = store / ".teach" / "corrections"
    for p in tiny.glob("*/*.jpg"):
        folder = project / p.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / p.name).write_bytes(p.read_bytes())
        (folder / f".{p.stem}.json").write_text('{"source": "feedback"}')
    proc = cli("train", "--from-feedback", "corrections", "--name", "from-fb", "--base", NAME,
               "--epochs", "5", "--progress", "jsonl", "--threads", THREADS)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    ev = events(proc.stdout)
    assert ev[0]["base"] == NAME and ev[0]["train"] + ev[0]["val"] == 6
    m = manifest(store / "from-fb")
    assert m["source"]["base_sha256"] == manifest(trained["path"])["weights"]["sha256"]
    assert m["training"]["data"] == [str(project)]
    assert m["source"]["project"] == "corrections"  # what the Teach page may train again
