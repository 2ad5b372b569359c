"""One command for every benchmark figure, measured in the same run:

    .venv/bin/python -m bench.run [--quick] [--duration S] [--out DIR] [--no-rivals]

1. model only: backend.infer latency (batch 1) and throughput (batch 16) for
   torch/fp32, openvino/fp32, openvino/int8, onnxruntime/fp32, and the classic
   eager-PyTorch recipe, with ratios;
2. HTTP: classic (Flask + gunicorn, 2 workers) vs ``localvision serve`` fp32 and
   int8, small and large JPEG, 1 and 8 closed-loop clients; cold start; RSS; and beside
   them (unless ``--no-rivals``) TorchServe, LitServe and Ray Serve with eager PyTorch
   (bench/rivals/), with the same top-1 check through tritonclient and curl -T;
3. fast decode: top-1 agreement with exact decode on real photos (efficientnet_lite0's
   real weights) and preprocessing time (bench/decode_bench.py);
4. the targets, pass/fail; 5. GPU figures when CUDA is available;
6. video: frames per second of `localvision video` on a 1080p H.264 file, every frame and
   every 10th, against the naive OpenCV + eager PyTorch loop (bench/video_bench.py; rows
   video-every1, video-every10: ``--only video-every1,video-every10`` runs just those);
7. training: time and validation accuracy of `localvision train` head and finetune per base
   model against the classic fine-tuning recipe (bench/train_bench.py; rows train-*:
   ``--only train-lite0-head,train-lite0-finetune,...`` runs just those).

ResNet-18 has seeded random weights (ImageNet's cannot be downloaded here). All
caches (artifacts, torch hub) live in a temporary directory for the run, set in
the environment before localvision is imported. Prints markdown; writes
``<out>/<timestamp>.json``, ``latest.json``, ``latest.md`` and the server logs
under ``<out>/logs/<timestamp>/`` (default out: ``bench/results``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
VIDEO_ROWS = {"video-every1", "video-every10"}  # bench/video_bench.py's rows
TRAIN_ROWS = {"train-lite0-head", "train-lite0-finetune", "train-r18-head", "train-r18-finetune"}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick",
        action="store_true",
        help="short cells (4 s, 1 s warm-up), fewer model calls and calibration images",
    )
    ap.add_argument("--duration", type=float, help="seconds per HTTP cell (default 10; quick 4)")
    ap.add_argument(
        "--warmup", type=float, help="uncounted seconds per HTTP cell (default 2; quick 1)"
    )
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=30.0,
        help="most seconds to wait for the host to go quiet before each measurement",
    )
    ap.add_argument(
        "--retries",
        type=int,
        default=2,
        help="re-measure a noisy cell or row up to this many times; keep the quietest",
    )
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results")
    ap.add_argument("--skip-http", action="store_true", help="model-only figures only")
    ap.add_argument(
        "--rivals",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure TorchServe, LitServe and Ray Serve (bench/rivals/) and the same-top-1 "
        "check through tritonclient and curl -T (--no-rivals skips them)",
    )
    ap.add_argument(
        "--only",
        help="comma-separated HTTP rows to run (e.g. localvision-int8-raw,torchserve), for "
        "trying a change quickly; the others are left out of the report",
    )
    return ap.parse_args(argv)


def plan(args: argparse.Namespace) -> dict:
    """How much to measure: the full run or --quick."""
    quick = args.quick
    return {
        "duration_s": args.duration or (4.0 if quick else 10.0),
        "warmup_s": args.warmup if args.warmup is not None else (1.0 if quick else 2.0),
        "n1": 15 if quick else 40,
        "n16": 3 if quick else 8,
        "calibration_images": 64 if quick else 300,
        "cuda_calls": 5 if quick else 20,
        "decode_photos": 20 if quick else 100,
        "video_s": 4.0 if quick else 8.0,
    }


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("torch", "torchvision", "openvino", "onnxruntime", "nncf", "localvision"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def set_environment(tmp: Path) -> dict:
    """Caches into ``tmp`` and offline mode, for this process and every server it starts."""
    env = {
        "LOCALVISION_MODEL_DIR": str(tmp / "models"),
        "TORCH_HOME": str(tmp / "torch"),
        "LOCALVISION_OFFLINE": "1",
    }
    os.environ.update(env)
    return env


def measure(
    p: dict, args: argparse.Namespace, tmp: Path, logs: Path, stamp: str, env: dict
) -> dict:
    # Imported only now: localvision must see the environment set_environment wrote.
    from bench import cuda_bench, decode_bench, http_bench, model_bench
    from bench.baseline import write_random_resnet18
    from bench.calibration import make_calibration_dir

    results = {
        "meta": {
            "timestamp": stamp,
            "machine": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "versions": versions(),
            "duration_s": p["duration_s"],
            "warmup_s": p["warmup_s"],
            "plan": p,
            "retries": args.retries,
            "env": env,
        }
    }
    weights = write_random_resnet18(tmp / "resnet18-random.pth")
    log(f"calibration images ({p['calibration_images']}) and exports ...")
    calib = tmp / "calibration"
    make_calibration_dir(calib, n=p["calibration_images"])
    results["exports"] = model_bench.export_artifacts(weights, calib)
    log("model only ...")
    results["engine"] = model_bench.bench_engines(weights, p["n1"], p["n16"], log, args.retries)
    from bench.rivals import RIVALS

    rivals = list(RIVALS) if args.rivals else []
    only = set(args.only.split(",")) if args.only else None
    results["http"] = (
        []
        if args.skip_http
        else http_bench.bench_http(
            weights, tmp, logs, p["duration_s"], p["warmup_s"], args.quiet_wait, log, args.retries,
            rivals, only,
        )
    )  # fmt: skip
    if args.rivals:
        from bench.rivals import parity

        log("same top-1 through tritonclient and curl -T (localvision, TorchServe) ...")
        results["parity"] = parity.check(weights, tmp, logs, log)
    log("fast decode agreement and preprocessing time ...")
    results["decode"] = decode_bench.bench_decode(p["decode_photos"])
    log("GPU ...")
    results["cuda"] = cuda_bench.bench_cuda(weights, p["cuda_calls"])
    results["video"] = _video(p, tmp, only)
    results["train"] = _train(tmp, only)
    return results


def _train(tmp: Path, only: set | None) -> list[dict]:
    from bench import train_bench

    log("training (localvision train against the classic recipe) ...")
    return train_bench.bench_train(log, tmp, only)


def _video(p: dict, tmp: Path, only: set | None) -> list[dict]:
    from bench import video_bench

    log("video (1080p H.264) ...")
    return video_bench.bench_video(p["video_s"], log, tmp, only)


def measure_video_only(p: dict, tmp: Path, only: set, stamp: str, env: dict) -> dict:
    """--only naming video rows alone: just those, without the model, HTTP and decode runs."""
    meta = {"timestamp": stamp, "machine": platform.platform(), "cpus": os.cpu_count(),
            "python": platform.python_version(), "versions": versions(), "env": env}  # fmt: skip
    return {"meta": meta, "video": _video(p, tmp, only)}


def write(results: dict, text: str, out: Path, stamp: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    blob = json.dumps(results, indent=2, default=str)
    (out / f"{stamp}.json").write_text(blob)
    (out / "latest.json").write_text(blob)
    (out / "latest.md").write_text(text)


def stop_cleanly() -> None:
    """SIGTERM and SIGINT raise in the main thread, so every server started is stopped
    (a shell's background job otherwise ignores SIGINT, and SIGTERM skips ``finally``)."""

    def _exit(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGINT, _exit)


def main(argv: list[str] | None = None) -> None:
    from bench import report

    args = parse_args(argv)
    stop_cleanly()
    p, stamp = plan(args), datetime.now().strftime("%Y%m%dT%H%M%S")
    logs = args.out / "logs" / stamp
    logs.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    only = set(args.only.split(",")) if args.only else None
    with tempfile.TemporaryDirectory(prefix="localvision-bench-") as tmp:
        env = set_environment(Path(tmp))
        if only and only <= TRAIN_ROWS:
            from bench.train_bench import train_table

            meta = {"timestamp": stamp, "machine": platform.platform(), "cpus": os.cpu_count(),
                    "versions": versions(), "env": env}  # fmt: skip
            results = {"meta": meta, "train": _train(Path(tmp), only)}
            results["meta"]["wall_s"] = time.perf_counter() - t0
            text = "## Training\n\n" + train_table(results["train"])
            write(results, text, args.out, stamp)
            print(text)
            return
        if only and only <= VIDEO_ROWS:
            from bench.video_bench import video_table

            results = measure_video_only(p, Path(tmp), only, stamp, env)
            results["meta"]["wall_s"] = time.perf_counter() - t0
            text = "## Video (1080p H.264)\n\n" + video_table(results["video"])
            write(results, text, args.out, stamp)
            print(text)
            return
        results = measure(p, args, Path(tmp), logs, stamp, env)
    results["meta"]["wall_s"] = time.perf_counter() - t0
    report.add_engine_ratios(results["engine"])
    report.add_ratios(results["http"])
    results["targets"] = report.targets(results)
    text = report.markdown(results)
    write(results, text, args.out, stamp)
    print(text)
    log(f"wrote {args.out / (stamp + '.json')}, latest.json, latest.md; logs in {logs}")


if __name__ == "__main__":
    main()
