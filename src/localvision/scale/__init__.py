"""Scale out on Ray: `serve --ray` (a Ray Serve application: serve.py) and `classify --ray`
(a Ray Data batch job: batch.py).

Ray is optional (the `ray` extra) and imported only here, only when --ray is asked for, so the
rest of the package works without it. The modules are named for what they do, not `ray`, so
that nothing shadows the `ray` package.
"""

from __future__ import annotations

import math
import os

from ..config import Settings
from ..errors import RayUnavailable

# What a Ray worker must see as the driver does: the model store, offline, the torch cache.
FORWARDED_ENV = ("TORCH_HOME", "XDG_CACHE_HOME", "HOME")


def require_ray():
    """The `ray` module, or RayUnavailable (exit 2, one sentence) when it is not installed."""
    try:
        import ray
        import ray.data  # noqa: F401
        import ray.serve  # noqa: F401
    except ImportError as exc:
        raise RayUnavailable(
            f"--ray needs Ray Serve and Ray Data, which are not installed ({exc.name} is missing)."
        ) from None
    return ray


def worker_env() -> dict[str, str]:
    """The LOCALVISION_* variables and the caches of this process, for every Ray worker (a
    worker started by a cluster that was running before us inherits nothing from us)."""
    return {
        k: v for k, v in os.environ.items() if k.startswith("LOCALVISION_") or k in FORWARDED_ENV
    }


def connect(settings: Settings):
    """Join the cluster at --ray-address, or start a local one (ray.init), with our environment
    in every worker. Returns the `ray` module. Idempotent: a driver already connected (a test's
    cluster) is used as it is."""
    ray = require_ray()
    if not ray.is_initialized():
        ray.init(
            address=settings.ray_address or None,
            runtime_env={"env_vars": worker_env()},
            include_dashboard=False,
            log_to_driver=False,
        )
    return ray


def pool_size(settings: Settings) -> int | tuple[int, int]:
    """How many replicas or actors: --replicas, or (MIN, MAX) from --autoscale."""
    return settings.autoscale_range or settings.replicas


def size_chosen(settings: Settings) -> bool:
    """Whether the pool's size is one the user asked for (--replicas, LOCALVISION_REPLICAS or
    --autoscale), not the default: the CLI leaves an option that was not given unset."""
    return bool(settings.autoscale) or "replicas" in settings.model_fields_set


def fitting(replicas: int, cpus_each: float, room: float) -> int:
    """The most replicas, up to `replicas`, that `room` free CPUs hold at `cpus_each` each; at
    least one (a pool too big for the cluster even then is refused or waits: the caller's
    choice)."""
    # 1e-9: 3 * 0.3 is 0.8999999999999999 in floating point, and must still fit 0.9
    return max(1, min(replicas, math.floor(room / cpus_each + 1e-9)))


def sized(settings: Settings, room: float) -> Settings:
    """The settings with a default pool size lowered to what `room` free CPUs hold (the
    default of 2 at 1 CPU each does not fit a 2-CPU machine beside the job's reads). A size the
    user asked for is kept as asked: it may be refused, never silently changed."""
    if size_chosen(settings):
        return settings
    n = fitting(settings.replicas, settings.ray_cpus_per_replica, room)
    return settings if n == settings.replicas else settings.model_copy(update={"replicas": n})


def builder_settings(args: dict | None, environ=os.environ) -> tuple[Settings, bool]:
    """Settings for an app built from Serve's config (KubeRay), and whether auth off on a public
    address was asked for (`insecure_no_auth: true` in args, never a quiet `auth: off`). Serve's
    proxy, not this app, listens, and on a cluster it listens for other machines: without a host
    in args or LOCALVISION_HOST, the app counts as public (0.0.0.0), so `auth: auto` is on."""
    given = dict(args or {})
    insecure = bool(given.pop("insecure_no_auth", False))
    if "host" not in given and "LOCALVISION_HOST" not in environ:
        given["host"] = "0.0.0.0"
    return Settings(**given), insecure
