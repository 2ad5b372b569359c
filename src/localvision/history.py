"""The recognition history: one row per image recognized through the service (never the image).

SQLAlchemy over any database URL; by default an SQLite file in WAL mode. SQLite writes take the
write lock up front (BEGIN IMMEDIATE) and wait for it (busy_timeout), so concurrent requests queue
instead of failing with "database is locked". A batch is written in one transaction: whole or not
at all.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Engine, make_url

from .report import rows_to_csv

metadata = MetaData()

recognitions = Table(
    "recognitions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("batch_id", String(36), nullable=False, index=True),
    Column("filename", String(512), nullable=False),
    Column("sha256", String(64), nullable=True),
    Column("model", String(64), nullable=False),
    Column("predictions", Text, nullable=False),  # JSON list of {label, index, probability}
    Column("top_label", String(128), nullable=True),
    Column("top_probability", Float, nullable=True),
    Column("error_code", String(64), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("latency_ms", Float, nullable=False),
    Column("client", String(128), nullable=True),
)


@dataclass
class Record:
    """One row to write."""

    filename: str
    sha256: str | None
    model: str
    predictions: list[dict]
    latency_ms: float
    client: str | None
    error: dict | None = None


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Take transactions into our own hands (pysqlite's implicit BEGIN is deferred).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class HistoryStore:
    def __init__(self, url: str):
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(url, future=True, pool_pre_ping=True)
        if self.is_sqlite:
            _sqlite_pragmas(self.engine)
        metadata.create_all(self.engine)
        # Within one process, writers queue here rather than in SQLite's busy loop.
        self._write_lock = threading.Lock()

    def add_batch(self, records: list[Record]) -> str:
        """Write all records in one transaction; returns the batch id."""
        batch_id = str(uuid.uuid4())
        now = datetime.now(timezone.utc)
        rows = [
            {
                "created_at": now,
                "batch_id": batch_id,
                "filename": r.filename[:512],
                "sha256": r.sha256,
                "model": r.model,
                "predictions": json.dumps(r.predictions),
                "top_label": r.predictions[0]["label"] if r.predictions else None,
                "top_probability": r.predictions[0]["probability"] if r.predictions else None,
                "error_code": r.error["code"] if r.error else None,
                "error_message": r.error["message"] if r.error else None,
                "latency_ms": round(r.latency_ms, 3),
                "client": r.client,
            }
            for r in records
        ]
        if rows:
            with self._write_lock, self.engine.begin() as conn:
                conn.execute(insert(recognitions), rows)
        return batch_id

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(recognitions)).scalar_one()

    def page(self, limit: int | None = 50, offset: int = 0) -> list[dict]:
        query = (
            select(recognitions)
            .order_by(recognitions.c.created_at.desc(), recognitions.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with self.engine.connect() as conn:
            return [_to_item(row) for row in conn.execute(query).mappings()]

    def to_csv(self) -> str:
        return rows_to_csv(
            self.page(limit=None),
            lead=("created_at", "filename", "sha256", "model"),
            tail=("latency_ms", "client"),
        )

    def close(self) -> None:
        self.engine.dispose()


def _to_item(row) -> dict:
    created = row["created_at"]
    if created.tzinfo is None:  # SQLite returns naive datetimes; they were written as UTC
        created = created.replace(tzinfo=timezone.utc)
    return {
        "id": row["id"],
        "created_at": created.isoformat(),
        "batch_id": row["batch_id"],
        "filename": row["filename"],
        "sha256": row["sha256"],
        "model": row["model"],
        "predictions": json.loads(row["predictions"]),
        "latency_ms": row["latency_ms"],
        "client": row["client"],
        "error": (
            {"code": row["error_code"], "message": row["error_message"]}
            if row["error_code"]
            else None
        ),
    }
