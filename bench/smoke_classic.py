"""Smoke run of the baseline: classic app (gunicorn, 2 sync workers) under load.

    .venv/bin/python -m bench.smoke_classic [--duration 10] [--clients 1 8]

For each image (small, large) and client count it runs a short uncounted warm-up,
then ``--duration`` seconds of closed-loop load, and prints req/s, p50/p99 and the
peak memory of the gunicorn process tree (RSS sum; PSS too if ``--pss``), and how
many cores the server and everything else on the (shared) host used; before each
cell it waits (up to ``--quiet-wait`` s) for the rest of the host to go quiet. Results
also go to ``bench/results/smoke_classic.json`` (git-ignored).
"""
from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path

import torch

from bench.baseline import REPO_ROOT, classic_server, write_random_resnet18
from bench.images import IMAGES
from bench.loadgen import ForeignCPU, ProcessTreeRSS, run_load, wait_quiet


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--pss", action="store_true", help="sample PSS as well as RSS")
    ap.add_argument("--quiet-wait", type=float, default=60.0,
                    help="seconds to wait for neighbours to go quiet before each cell")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                    help="diagnostic server environment, e.g. OMP_NUM_THREADS=1")
    args = ap.parse_args(argv)

    rows, env = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        weights = write_random_resnet18(Path(tmp) / "resnet18_seed0.pth")
        env.update(kv.split("=", 1) for kv in args.env)
        with classic_server(weights, workers=args.workers, log_path=Path(tmp) / "gunicorn.log",
                            env=env) as srv:
            with ProcessTreeRSS(srv.pid) as idle:
                pass
            print(f"classic app pid {srv.pid} on {srv.base_url}; idle tree RSS "
                  f"{idle.peak_mb:.0f} MiB; torch {torch.__version__}, "
                  f"{torch.get_num_threads()} intra-op threads per process")
            for image_name, build in IMAGES.items():
                payload = build()
                for clients in args.clients:
                    samplers = [ProcessTreeRSS(srv.pid, metric="rss")]
                    if args.pss:
                        samplers.append(ProcessTreeRSS(srv.pid, metric="pss", interval_s=0.2))
                    if args.quiet_wait > 0:
                        wait_quiet(srv.pid, timeout_s=args.quiet_wait)
                    run_load(srv.url("/predict"), payload, clients=clients, duration_s=args.warmup)
                    for s in samplers:
                        s.start()
                    with ForeignCPU(srv.pid) as noise:
                        r = run_load(srv.url("/predict"), payload, clients=clients,
                                     duration_s=args.duration)
                    peaks = [s.stop() for s in samplers]
                    row = {"image": image_name, "bytes": len(payload), **r.as_dict(),
                           "peak_rss_mb": peaks[0], "server_cores": noise.tree_cores,
                           "foreign_cores": noise.cores}
                    if args.pss:
                        row["peak_pss_mb"] = peaks[1]
                    rows.append(row)
                    extra = f"  PSS {peaks[1]:.0f}" if args.pss else ""
                    print(f"{image_name:5s} ({len(payload)/1024:6.0f} KiB) {r.summary()}  "
                          f"peak RSS {peaks[0]:.0f} MiB{extra}  server {noise.tree_cores:.2f} "
                          f"cores, others {noise.cores:.2f} cores", flush=True)
    out = REPO_ROOT / "bench" / "results" / "smoke_classic.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": platform.platform(), "server_env": env,
                               "duration_s": args.duration, "rows": rows}, indent=2))
    print(f"wrote {out.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
