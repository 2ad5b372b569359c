"""Closed-loop HTTP load generator and a process-tree memory sampler.

Closed loop: each of N client threads sends one ``POST`` (multipart field ``file``, or the raw
image body),
waits for the whole answer, and sends the next one at once. Runs are bounded by a
duration and/or a total request count, and only loopback hosts are accepted.

Library::

    from bench.loadgen import run_load, ProcessTreeRSS
    with ProcessTreeRSS(server_pid) as mem:
        r = run_load("http://127.0.0.1:8000/predict", jpeg, clients=8, duration_s=10)
    print(r.rps, r.p50_ms, r.p99_ms, r.errors, mem.peak_mb)

CLI::

    python -m bench.loadgen http://127.0.0.1:8000/predict --image large -c 8 -d 10

Latency percentiles are over successful (2xx) requests only; ``rps`` counts
successful requests per second of wall time from the start until every client
has finished its last request. The clients share the machine with the server,
so on 2 cores they take a little CPU from it (they mostly block in ``recv``).
"""
from __future__ import annotations

import argparse
import collections
import http.client
import ipaddress
import json
import math
import secrets
import threading
import time
import urllib.parse
from dataclasses import asdict, dataclass, field

import psutil

MAX_DURATION_S = 600.0
MAX_REQUESTS = 1_000_000
MAX_CLIENTS = 256


@dataclass
class LoadResult:
    """What one load run measured. Times are milliseconds, rates per second."""

    clients: int
    requests: int  # completed or failed, all of them
    ok: int
    errors: int  # non-2xx answers plus exceptions
    elapsed_s: float
    rps: float  # successful requests per second
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    error_kinds: dict[str, int] = field(default_factory=dict)  # "HTTP 500" / exception name

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (f"{self.clients:>3} clients  {self.rps:7.2f} req/s  p50 {self.p50_ms:8.1f} ms  "
                f"p99 {self.p99_ms:8.1f} ms  ok {self.ok}  errors {self.errors}")


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default) of an ascending list; NaN if empty."""
    if not sorted_values:
        return math.nan
    pos = (len(sorted_values) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def multipart_body(payload: bytes, field_name: str = "file", filename: str = "image.jpg",
                   content_type: str = "image/jpeg") -> tuple[bytes, str]:
    """A multipart/form-data body with one file part, and its Content-Type header."""
    boundary = "----localvision-bench-" + secrets.token_hex(12)
    head = (f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{field_name}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n").encode()
    return head + payload + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _check_loopback(host: str) -> None:
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"load tests only target loopback hosts, not {host!r}")


class _Budget:
    """Hands out request tickets until the deadline or the request count runs out."""

    def __init__(self, deadline: float, max_requests: int | None):
        self.deadline, self.left = deadline, max_requests
        self._lock = threading.Lock()

    def take(self) -> bool:
        if time.perf_counter() >= self.deadline:
            return False
        if self.left is None:
            return True
        with self._lock:
            if self.left <= 0:
                return False
            self.left -= 1
            return True


def _client(host: str, port: int, path: str, body: bytes, headers: dict, timeout: float,
            budget: _Budget, latencies: list[float], errors: collections.Counter) -> None:
    # One connection per client, reopened by http.client after the server closes it
    # (gunicorn sync workers answer "Connection: close").
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        while budget.take():
            t0 = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                errors[type(exc).__name__] += 1
                continue
            elapsed_ms = (time.perf_counter() - t0) * 1000.0
            if 200 <= resp.status < 300:
                latencies.append(elapsed_ms)
            else:
                errors[f"HTTP {resp.status}"] += 1
    finally:
        conn.close()


def run_load(url: str, payload: bytes, *, clients: int = 1, duration_s: float | None = 10.0,
             max_requests: int | None = None, warmup_s: float = 0.0, timeout_s: float = 60.0,
             filename: str = "image.jpg", content_type: str = "image/jpeg",
             field_name: str = "file", raw: bool = False) -> LoadResult:
    """Drive ``url`` with ``clients`` closed-loop clients POSTing ``payload``.

    The body is a multipart form with one file part ``field_name``, or with ``raw`` the image
    bytes themselves with ``Content-Type: content_type`` (what TorchServe's ``curl -T`` sends).

    Stops at ``duration_s`` seconds or after ``max_requests`` requests in all,
    whichever comes first (at least one must be given; both are capped). A
    ``warmup_s`` phase with the same clients runs first and is not counted.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"need an http:// URL, got {url!r}")
    _check_loopback(parts.hostname)
    if duration_s is None and max_requests is None:
        raise ValueError("give duration_s or max_requests: runs must be bounded")
    if not 1 <= clients <= MAX_CLIENTS:
        raise ValueError(f"clients must be in 1..{MAX_CLIENTS}")
    duration_s = min(duration_s if duration_s is not None else MAX_DURATION_S, MAX_DURATION_S)
    if max_requests is not None:
        max_requests = min(max_requests, MAX_REQUESTS)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if raw:
        body, ctype = payload, content_type
    else:
        body, ctype = multipart_body(payload, field_name, filename, content_type)
    headers = {"Content-Type": ctype, "Content-Length": str(len(body))}
    port = parts.port or 80

    def phase(seconds: float, limit: int | None):
        budget = _Budget(time.perf_counter() + seconds, limit)
        lat = [[] for _ in range(clients)]
        errs = [collections.Counter() for _ in range(clients)]
        threads = [threading.Thread(target=_client, daemon=True, name=f"loadgen-{i}",
                                    args=(parts.hostname, port, path, body, headers, timeout_s,
                                          budget, lat[i], errs[i]))
                   for i in range(clients)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - start, [x for l in lat for x in l], sum(errs, collections.Counter())

    if warmup_s > 0:
        phase(min(warmup_s, MAX_DURATION_S), None)
    elapsed, latencies, errors = phase(duration_s, max_requests)
    latencies.sort()
    n_err = sum(errors.values())
    return LoadResult(
        clients=clients, requests=len(latencies) + n_err, ok=len(latencies), errors=n_err,
        elapsed_s=elapsed, rps=len(latencies) / elapsed if elapsed > 0 else 0.0,
        p50_ms=percentile(latencies, 50), p99_ms=percentile(latencies, 99),
        mean_ms=sum(latencies) / len(latencies) if latencies else math.nan,
        max_ms=latencies[-1] if latencies else math.nan, error_kinds=dict(errors))


class ProcessTreeRSS:
    """Samples the memory of a process and all its descendants in a background thread.

    ``metric="rss"`` sums resident set sizes (cheap; counts pages shared between a
    forking master and its workers once per process, so it overstates prefork
    servers); ``metric="pss"`` sums proportional set sizes (fair for shared pages,
    but reading smaps costs ~15 ms per torch process, which perturbs a 2-core
    benchmark: give it a longer ``interval_s``). The list of descendants is
    refreshed every ``refresh_every`` samples. Use as a context manager or
    ``start()``/``stop()``; ``peak_mb`` is the largest total seen (MiB).
    """

    def __init__(self, pid: int, interval_s: float = 0.05, metric: str = "rss",
                 refresh_every: int = 10):
        if metric not in ("rss", "pss"):
            raise ValueError("metric must be 'rss' or 'pss'")
        self.pid, self.interval_s, self.metric = pid, interval_s, metric
        self.peak_bytes = 0
        self.last_bytes = 0
        self.samples = 0
        self.refresh_every = refresh_every
        self._procs: list[psutil.Process] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / 2**20

    @property
    def last_mb(self) -> float:
        return self.last_bytes / 2**20

    def _tree(self) -> list[psutil.Process]:
        # Listing descendants scans all of /proc (~1.5 ms), so the list is reused for
        # refresh_every samples; reading one process's memory is ~20 us.
        if self._procs is None or self.samples % self.refresh_every == 0:
            try:
                root = psutil.Process(self.pid)
                self._procs = [root] + root.children(recursive=True)
            except psutil.NoSuchProcess:
                self._procs = []
        return self._procs

    def sample(self) -> int:
        """Total bytes of the tree now (0 once the root process is gone)."""
        total, gone = 0, False
        for p in self._tree():
            try:
                info = p.memory_full_info() if self.metric == "pss" else p.memory_info()
                total += getattr(info, self.metric)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                gone = True  # a worker exited; list the tree again next time
        if gone:
            self._procs = None
        return total

    def _loop(self) -> None:
        while True:
            self.last_bytes = self.sample()
            self.peak_bytes = max(self.peak_bytes, self.last_bytes)
            self.samples += 1
            if self._stop.wait(self.interval_s):
                return

    def start(self) -> "ProcessTreeRSS":
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="rss-sampler")
        self._thread.start()
        return self

    def stop(self) -> float:
        """Stop sampling; returns the peak in MiB."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.peak_mb

    def __enter__(self) -> "ProcessTreeRSS":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class ForeignCPU:
    """How many cores *other* work used during a block: host busy time minus the
    server tree's and this process's own, divided by wall time.

    The benchmark host is shared, so a run where this is well above 0 measured
    the neighbours as much as the server; the driver can flag or repeat it.
    Usage: ``with ForeignCPU(server_pid) as f: ...``; then ``f.cores``.
    """

    def __init__(self, pid: int):
        self.pid = pid
        self.cores = math.nan  # foreign cores busy on average
        self.host_cores = math.nan  # all busy cores on average
        self.tree_cores = math.nan  # the server tree's busy cores on average

    def _tree_cpu(self) -> float:
        try:
            root = psutil.Process(self.pid)
            procs = [root] + root.children(recursive=True)
        except psutil.NoSuchProcess:
            return 0.0
        total = 0.0
        for p in procs:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    @staticmethod
    def _host_busy() -> float:
        t = psutil.cpu_times()
        return sum(t) - t.idle - getattr(t, "iowait", 0.0)

    @staticmethod
    def _own_cpu() -> float:
        t = psutil.Process().cpu_times()
        return t.user + t.system

    def __enter__(self) -> "ForeignCPU":
        self._t0 = time.perf_counter()
        self._host0, self._tree0, self._own0 = self._host_busy(), self._tree_cpu(), self._own_cpu()
        return self

    def __exit__(self, *exc) -> None:
        wall = time.perf_counter() - self._t0
        host = self._host_busy() - self._host0
        tree = self._tree_cpu() - self._tree0
        own = self._own_cpu() - self._own0
        self.host_cores, self.tree_cores = host / wall, tree / wall
        self.cores = max(0.0, host - tree - own) / wall


def wait_quiet(pid: int, max_cores: float = 0.2, window_s: float = 2.0,
               timeout_s: float = 60.0) -> float:
    """Wait until other work on the host uses under ``max_cores`` for ``window_s``.

    Returns the foreign cores of the last window (possibly still above the limit
    when ``timeout_s`` ran out: the caller records it rather than waiting forever).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        with ForeignCPU(pid) as f:
            time.sleep(window_s)
        if f.cores < max_cores or time.monotonic() > deadline:
            return f.cores


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url", help="e.g. http://127.0.0.1:8000/predict (loopback only)")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--file", help="path of the image to send")
    src.add_argument("--image", choices=["small", "large"], help="a built-in benchmark photo")
    ap.add_argument("-c", "--clients", type=int, default=1)
    ap.add_argument("-d", "--duration", type=float, default=10.0, help="seconds (max 600)")
    ap.add_argument("-n", "--requests", type=int, default=None, help="total request cap")
    ap.add_argument("--warmup", type=float, default=0.0, help="uncounted seconds first")
    ap.add_argument("--pid", type=int, help="also report peak memory of this process tree")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    if args.file:
        with open(args.file, "rb") as f:
            payload = f.read()
    else:
        from bench.images import IMAGES
        payload = IMAGES[args.image]()
    mem = ProcessTreeRSS(args.pid).start() if args.pid else None
    result = run_load(args.url, payload, clients=args.clients, duration_s=args.duration,
                      max_requests=args.requests, warmup_s=args.warmup)
    out = result.as_dict()
    if mem:
        out["peak_rss_mb"] = mem.stop()
    if args.json:
        print(json.dumps(out))
    else:
        print(result.summary() + (f"  peak RSS {out['peak_rss_mb']:.0f} MiB" if mem else ""))


if __name__ == "__main__":
    main()
