"""`localvision classify --ray`: a folder (or a glob of object-store URLs) classified as a Ray
Data job, written as Parquet or CSV with the columns of `localvision classify --format csv`.

    read_binary_files ──► map_batches(actor pool of classifiers) ──► rows, in input order
    (files, any node)      each actor: the model loaded once,        ──► results.parquet | .csv
                           then the road (Classifier.predict)            (written here, streamed)

The files the job reads are the ones `classify` would read (inputs.expand_paths: a directory's
image files; with --strict the others get their "skipped" rows, in place). Each actor runs the
one road on its batch; rows come back in the order of the input (Ray Data's preserve_order) and
are written as they arrive, so the driver holds a few batches, never the whole job. A URL glob
(s3://bucket/photos/*.jpg, gs://..., file:///...) is listed through pyarrow's filesystems, the
ones Ray Data reads with.

Parquet has the CSV's columns and cells (report.table), typed: index_N int64, probability_N
float64 (the CSV's six decimals), the rest text. Only the CSV guards its cells against
spreadsheet formulas (a leading quote): Parquet keeps the names as they are.
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import os
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..config import Settings
from ..errors import InvalidArgument
from ..report import CLI_LEAD, cli_rows, rows_to_csv, table
from . import connect, pool_size, sized

# Rows written to the output per part (and held by the driver at most, besides Ray's blocks).
WRITE_ROWS = 256
# Reading a file is I/O, not compute: a small CPU share lets the reads run beside actors that
# hold the rest of the cluster's CPUs (with a whole CPU each, they would wait for ever).
READ_CPUS = 0.1
# How long a job waits for CPUs that a job that just ended is still handing back.
ROOM_WAIT_S = 10.0


class ClassifyBatch:
    """One actor of the pool: its classifier loaded once, then each batch of files through
    the road; returns each file's path and its row (as JSON, one text column for Arrow)."""

    def __init__(self, settings: dict):
        from ..classifier import from_settings

        self.clf = from_settings(Settings(**settings))

    def __call__(self, batch: dict) -> dict:
        paths = [str(p) for p in batch["path"]]
        results = self.clf.predict([bytes(b) for b in batch["bytes"]], names=paths)
        rows = cli_rows(results, self.clf.name)
        return {"path": paths, "row": [json.dumps(r, ensure_ascii=False) for r in rows]}


def is_url(path: str) -> bool:
    return "://" in path


def list_urls(pattern: str) -> list[str]:
    """An object-store URL, or a glob of them (s3://bucket/photos/*.jpg), as sorted file URLs."""
    from pyarrow import fs

    scheme = pattern.split("://", 1)[0]
    base = pattern
    if any(c in pattern for c in "*?["):
        base = pattern[: min(pattern.index(c) for c in "*?[" if c in pattern)].rsplit("/", 1)[0]
    filesystem, root = fs.FileSystem.from_uri(base)
    info = filesystem.get_file_info(root)
    if info.type == fs.FileType.File:
        return [base]
    found = filesystem.get_file_info(fs.FileSelector(root, recursive=True))
    files = sorted(f.path for f in found if f.type == fs.FileType.File)
    # from_uri("file:///x") gives "/x", from_uri("s3://b/x") gives "b/x": put the scheme back.
    prefix = f"{scheme}://" if scheme != "file" else "file://"
    urls = [prefix + f for f in files]
    return [u for u in urls if fnmatch.fnmatch(u, pattern)] if base != pattern else urls


def _read_keys(path: str) -> str:
    """How Ray Data names a file it read: an absolute path, or the URL without its scheme."""
    return path.split("://", 1)[1] if is_url(path) else os.path.abspath(path)


def check_room(settings: Settings, free_cpus: float) -> Settings:
    """A cluster that cannot grow (the local one) must have room for the smallest pool and the
    reads at once, else the job would wait for ever. The settings with the default pool size
    fitted to `free_cpus` (scale.sized); a size the user asked for that does not fit is refused
    in one sentence."""
    settings = sized(settings, free_cpus - READ_CPUS)
    size = pool_size(settings)
    actors = size[0] if isinstance(size, tuple) else size
    need = actors * settings.ray_cpus_per_replica + READ_CPUS
    if need > free_cpus + 1e-9:
        raise InvalidArgument(
            f"The Ray cluster has {free_cpus:g} CPUs free, and {actors} classifier actors at "
            f"{settings.ray_cpus_per_replica:g} CPU each plus the file reads need {need:g}.",
            hint="lower --replicas or --ray-cpus-per-replica, or join a bigger cluster "
            "(--ray-address)",
        )
    return settings


def wait_for_room(settings: Settings, ray) -> Settings:
    """check_room, allowing a job that just ended ROOM_WAIT_S to hand back its actors' CPUs
    (Ray releases them a moment after the job's last batch). The settings, sized to fit."""
    deadline = time.monotonic() + ROOM_WAIT_S
    while True:
        try:
            return check_room(settings, ray.available_resources().get("CPU", 0.0))
        except InvalidArgument:
            if time.monotonic() > deadline or not _could_fit(settings, ray):
                raise
            time.sleep(0.2)


def _could_fit(settings: Settings, ray) -> bool:
    """Whether the whole cluster, idle, would hold the job (if not, waiting is in vain)."""
    try:
        check_room(settings, ray.cluster_resources().get("CPU", 0.0))
    except InvalidArgument:
        return False
    return True


def classified(settings: Settings, files: list[str]) -> Iterator[tuple[str, dict]]:
    """(path as given, row) for each file, in order, from a Ray Data job on the cluster."""
    ray = connect(settings)
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = False
    given = {_read_keys(f): f for f in files}
    reads = [f.removeprefix("file://") if f.startswith("file://") else f for f in files]
    ds = ray.data.read_binary_files(
        [os.path.abspath(f) if not is_url(f) else f for f in reads], include_paths=True,
        num_cpus=READ_CPUS,
    )
    ds = ds.map_batches(
        ClassifyBatch,
        fn_constructor_kwargs={"settings": settings.model_dump(mode="json")},
        concurrency=pool_size(settings),
        num_cpus=settings.ray_cpus_per_replica,
        batch_size=settings.batch_size,
        batch_format="numpy",
    )
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        for path, row in zip(batch["path"], batch["row"]):
            row = json.loads(row)
            path = given.get(str(path), given.get(_read_keys(str(path)), str(path)))
            row["path"] = path
            yield path, row


def in_order(paths: list[str], skipped: set[str], rows: Iterable[tuple[str, dict]],
             skipped_row: Callable[[str], dict]) -> Iterator[dict]:  # fmt: skip
    """The rows in the order of `paths`, a skipped file's row in its place. Ray returns rows in
    input order, so this holds nothing back; if it did not, rows wait here for their turn."""
    waiting: dict[str, deque] = defaultdict(deque)
    it = iter(rows)
    for p in paths:
        if p in skipped:
            yield skipped_row(p)
            continue
        while not waiting[p]:
            q, row = next(it)
            waiting[q].append(row)
        yield waiting[p].popleft()


def _parquet_schema(header: list[str]):
    import pyarrow as pa

    def kind(name: str):
        if name.startswith("index_"):
            return pa.int64()
        if name.startswith("probability_"):
            return pa.float64()
        return pa.string()

    return pa.schema([(n, kind(n)) for n in header])


def _typed(value, kind):
    import pyarrow as pa

    if value == "" or value is None:
        return None
    if kind == pa.int64():
        return int(value)
    if kind == pa.float64():
        return float(value)
    return str(value)


def write(rows: Iterable[dict], output: Path | None, parquet: bool, k: int, lang: str,
          out=None) -> int:  # fmt: skip
    """Write rows as CSV (to `output`, else `out`) or Parquet, part by part; returns the count."""
    it = iter(rows)
    count = 0
    writer = None
    stream = open(output, "w", encoding="utf-8", newline="") if output and not parquet else out
    try:
        while part := list(itertools.islice(it, WRITE_ROWS)):
            if parquet:
                import pyarrow as pa
                import pyarrow.parquet as pq

                header, cells = table(part, CLI_LEAD, k=k, lang=lang)
                schema = _parquet_schema(header)
                if writer is None:
                    writer = pq.ParquetWriter(output, schema)
                columns = [
                    [_typed(row[i], field.type) for row in cells] for i, field in enumerate(schema)
                ]
                writer.write_table(pa.table(columns, schema=schema))
            else:
                stream.write(rows_to_csv(part, CLI_LEAD, k=k, lang=lang, header=count == 0))
            count += len(part)
    finally:
        if writer is not None:
            writer.close()
        if output and not parquet and stream is not None:
            stream.close()
    return count


def run(settings: Settings, paths: list[str], skipped: set[str], strict: bool,
        skipped_row: Callable[[str], dict], output: Path | None, out) -> tuple[int, bool]:  # fmt: skip
    """`classify --ray`: the rows for `paths` (URL globs listed here), written to `output`
    (Parquet when it ends in .parquet, else CSV) or `out`. Returns (rows, every file ok)."""
    listed: list[str] = []
    for p in paths:
        listed += list_urls(p) if is_url(p) else [p]
    keep = [p for p in listed if strict or p not in skipped]
    files = [p for p in keep if p not in skipped]
    ok = True
    if files and not settings.ray_address:  # a local cluster: its CPUs are all there will be
        settings = wait_for_room(settings, connect(settings))

    def checked(rows):
        nonlocal ok
        for row in rows:
            ok = ok and row["error"] is None
            yield row

    rows = in_order(keep, skipped, classified(settings, files) if files else (), skipped_row)
    parquet = output is not None and output.suffix.lower() == ".parquet"
    count = write(checked(rows), output, parquet, settings.top_k, settings.lang, out)
    return count, ok
