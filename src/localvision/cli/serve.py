"""`localvision serve`: the web service and browser UI (server/), on this machine with uvicorn
(serving.py) or as a Ray Serve application (scale/serve.py). Auth is decided first, loudly
(admin.serve_auth); the database is waited for once it is."""

from __future__ import annotations

import typer

from ..config import Settings
from . import render
from .admin import serve_auth
from .options import settings_options


@settings_options(
    "host", "port", "model", "weights", "db", "db_wait_s", "offline", "backend", "device",
    "precision", "max_batch", "max_wait_ms", "exact_decode", "recheck_margin", "rate_limit",
    "log_format", "auth", "allowed_hosts", "cors_origins", "models", "labels", "lang",
    "min_confidence", "model_dir", "ray", "ray_address", "replicas", "autoscale",
    "ray_cpus_per_replica",
)  # fmt: skip
def serve(
    *,
    settings: Settings,
    insecure_no_auth: bool = typer.Option(
        False, "--insecure-no-auth",
        help="Serve a non-loopback address without auth: anyone who can reach it can use it.",
    ),  # fmt: skip
):
    """Run the web service and browser UI. Its address is printed once it is ready. With
    --ray: as a Ray Serve application, --replicas of it (or --autoscale MIN:MAX)."""
    from . import serving  # uvicorn: loaded by the command that serves, not by every command

    log_format = serving.resolve_log_format(settings.log_format)
    opened = []  # a database server still starting beside us is waited for (db_wait_s), once
    # auth is decided (a usage error waits for nothing); one that never comes ends the command
    # with one line naming it (dbwait.py)
    wait = lambda s: opened or opened.append(serving.open_history(s, log_format))  # noqa: E731
    try:
        settings = serve_auth(settings, insecure_no_auth, before_db=wait)
        wait(settings)
    except BaseException:
        for store in opened:
            store.close()
        raise
    history = opened[0]
    if settings.ray:  # a Ray Serve application (scale/serve.py): replicas on a Ray cluster
        history.close()  # each replica opens its own
        from ..scale import require_ray

        require_ray()
        from ..scale.serve import run as run_on_ray

        return run_on_ray(settings, render.out.print)
    serving.run(settings, log_format, history)
