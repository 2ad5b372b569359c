"""The recognition history: one row per image recognized through the service (never the image).

SQLAlchemy over an SQLite file (the default, in WAL mode) or PostgreSQL
(`postgresql+psycopg://...`). A batch is written in one transaction: whole or not at all, on
both. SQLite writes take the write lock up front (BEGIN IMMEDIATE, through `writer(engine)`) and
wait for it (busy_timeout), so concurrent requests queue instead of failing with "database is
locked"; reads take no lock at all (a deferred BEGIN: in WAL mode a reader sees a snapshot and
never blocks a writer), so a long history export holds up no classification and no key check.
PostgreSQL needs none of that: plain transactions at its default isolation (READ COMMITTED:
inserts never conflict, and a delete waits for a row another transaction holds), and a write
that PostgreSQL aborts to break a deadlock is run again (`write_transaction`).

The schema is made and upgraded by Alembic migrations (migrate.py, migrations/), when a store
opens the database.

Each row keeps the text read in the photo when the request asked for it (`text`: the lines in
reading order, one per line, which the search and the CSV use; `text_lines`: the lines with
their confidence and box as JSON, which the API answers); both NULL when text was not asked for.

Rows are searched with a `Filter` (top label, file name and the text read containing some text,
a time range)
and deleted one by one or by filter, always within a user scope: `user=None` is every user's
rows, a name only that user's (the HTTP layer picks the scope from the caller's permissions).
"""

from __future__ import annotations

import json
import threading
import uuid
from contextlib import nullcontext
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    or_,
    select,
)

from .database import open_engine, write_transaction, writer
from .errors import ConfirmationRequired, InvalidArgument, NotFound
from .migrate import upgrade
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
    Column("top_label", String(128), nullable=True),  # English
    # The top label in the language it was answered in, when that was not English (zh).
    Column("top_label_local", String(128), nullable=True),
    Column("top_probability", Float, nullable=True),
    Column("error_code", String(64), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("latency_ms", Float, nullable=False),
    Column("client", String(128), nullable=True),
    # Who made it (the signed-in user or the API key's owner); NULL when auth is off.
    Column("user", String(64), nullable=True, index=True),
    # The text read in the photo (migration 0005), NULL when it was not asked for: the lines
    # joined by newlines (searched with LIKE, exported as the CSV's `text` cell), and the lines
    # in full as JSON (text, confidence, box), as /api/v1/classify answered them. Not indexed:
    # a contains-search cannot use a B-tree index, and a trigram or full-text index would need a
    # PostgreSQL extension or a tokenizer that splits Chinese (see Filter.conditions).
    Column("text", Text, nullable=True),
    Column("text_lines", Text, nullable=True),
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
    user: str | None = None
    text: list[dict] | None = None  # the lines read ({text, confidence, box}); None: not asked


@dataclass(frozen=True)
class Filter:
    """Which rows to search or delete; every condition given must hold, none given: every row.

    label: the top label contains it; filename: the file name contains it; text: the text read
    in the photo contains it (all three ignore case); start: made at or after this moment; end:
    made before it (timezone-aware datetimes)."""

    label: str | None = None
    filename: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    text: str | None = None

    @property
    def narrows(self) -> bool:
        """Whether any condition is given (an empty filter matches every row)."""
        return any(getattr(self, f.name) is not None for f in fields(self))

    @classmethod
    def parse(
        cls,
        label: str | None = None,
        filename: str | None = None,
        start: str | None = None,
        end: str | None = None,
        text: str | None = None,
    ) -> "Filter":
        """From text as a person or a query string gives it. Blank text is no condition. `start`
        and `end` are ISO 8601 dates or date-times (no offset: UTC); a date means a whole UTC
        day: `start=2026-01-31` from its first moment, `end=2026-01-31` through its last."""
        since, until = _moment(start, "from", False), _moment(end, "to", True)
        if since and until and since >= until:
            raise InvalidArgument("The time range is empty: `from` must be before `to`.")
        return cls(_text(label), _text(filename), since, until, _text(text))

    def conditions(self) -> list:
        c, out = recognitions.c, []
        if self.label is not None:
            out.append(
                or_(
                    c.top_label.icontains(self.label, autoescape=True),
                    c.top_label_local.icontains(self.label, autoescape=True),
                )
            )
        if self.filename is not None:
            out.append(c.filename.icontains(self.filename, autoescape=True))
        if self.text is not None:
            # LIKE on both backends, % and _ escaped (autoescape): a contains-search finds a
            # Chinese phrase without a tokenizer (SQLite's FTS5 and PostgreSQL's to_tsvector
            # split on spaces, which Chinese has none of), and it ignores case by lower() on
            # both sides: ASCII letters on SQLite, every letter on PostgreSQL.
            out.append(c.text.icontains(self.text, autoescape=True))
        # Stored as UTC (naive on SQLite, which compares the text): compare in UTC too.
        if self.start is not None:
            out.append(c.created_at >= self.start.astimezone(timezone.utc))
        if self.end is not None:
            out.append(c.created_at < self.end.astimezone(timezone.utc))
        return out


def _text(value: str | None) -> str | None:
    # NUL as stored (_fit); PostgreSQL would refuse it in a query, too
    value = (value or "").replace("\x00", "\ufffd").strip()
    return value or None


def _moment(value: str | None, name: str, end: bool) -> datetime | None:
    """A bound of the time range. A date alone is a day: its start, or for `to` the next day's
    start (the range ends before it, so the whole day is in)."""
    value = _text(value)
    if value is None:
        return None
    try:
        if len(value) == 10:  # YYYY-MM-DD
            day = date.fromisoformat(value)
            moment = datetime.combine(day, time(), timezone.utc)
            return moment + timedelta(days=1) if end else moment
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(
            f"`{name}` must be a date like 2026-01-31 or a date and time like "
            f"2026-01-31T18:30:00Z (in a URL, write a + in an offset as %2B); got {value!r}."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class HistoryStore:
    def __init__(self, url: str):
        self.engine = open_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self.writer = writer(self.engine)
        upgrade(self.engine)  # makes the tables, or brings an older database up to date
        # Within one process, SQLite writers queue here rather than in SQLite's busy loop.
        # PostgreSQL takes concurrent writers as they come (it locks rows, not the database).
        self._write_lock = threading.Lock() if self.is_sqlite else nullcontext()

    def _write(self, work):
        with self._write_lock:
            return write_transaction(self.engine, work)

    def add_batch(self, records: list[Record]) -> str:
        """Write all records in one transaction; returns the batch id."""
        return self.add_batches([records])[0]

    def add_batches(self, batches: list[list[Record]]) -> list[str]:
        """Write several batches (several requests') in one transaction, each with its own batch
        id; all of them or none. Returns the batch ids."""
        now = datetime.now(timezone.utc)
        ids, rows = [], []
        for records in batches:
            batch_id = str(uuid.uuid4())
            ids.append(batch_id)
            rows += [_row(r, batch_id, now) for r in records]
        if rows:
            self._write(lambda conn: conn.execute(insert(recognitions), rows))
        return ids

    # `user`: only that user's rows; None: everyone's. `where`: a search within them.
    def count(self, user: str | None = None, where: Filter | None = None) -> int:
        query = _only(select(func.count()).select_from(recognitions), user, where)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def page(
        self,
        limit: int | None = 50,
        offset: int = 0,
        user: str | None = None,
        where: Filter | None = None,
    ) -> list[dict]:
        query = (
            _only(select(recognitions), user, where)
            .order_by(recognitions.c.created_at.desc(), recognitions.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with self.engine.connect() as conn:
            return [_to_item(row) for row in conn.execute(query).mappings()]

    def to_csv(self, user: str | None = None, where: Filter | None = None) -> str:
        """The rows as CSV; with English labels beside when some were answered in another
        language."""
        rows = self.page(limit=None, user=user, where=where)
        other = any(
            p.get("label_en", p["label"]) != p["label"] for r in rows for p in r["predictions"]
        )
        return rows_to_csv(
            rows, lead=("created_at", "filename", "sha256", "model"),
            tail=("latency_ms", "client", "user"), lang="zh" if other else None,
        )  # fmt: skip

    def delete_row(self, row_id: int, user: str | None = None) -> None:
        """Delete one row; NotFound when there is none with that id in the user's scope (another
        user's row is answered exactly like a missing one)."""
        query = _only(delete(recognitions).where(recognitions.c.id == row_id), user)
        deleted = self._write(lambda conn: conn.execute(query).rowcount)
        if not deleted:
            whose = "" if user is None else "of yours "
            raise NotFound(f"There is no history row {whose}with id {row_id}.")

    def delete_matching(
        self, where: Filter, user: str | None = None, *, everything: bool = False
    ) -> int:
        """Delete the user's rows that match `where`, in one transaction; returns how many.
        An empty filter matches every row, so it needs `everything=True`, and a filter with
        `everything=True` is refused: the caller meant one or the other."""
        if where.narrows and everything:
            raise InvalidArgument(
                "Give either a filter or all=true (delete everything), not both."
            )
        if not where.narrows and not everything:
            raise ConfirmationRequired(
                "No filter was given, which would delete every row: to do that, confirm with "
                "all=true."
            )
        query = _only(delete(recognitions), user, where)
        return self._write(lambda conn: conn.execute(query).rowcount)

    def close(self) -> None:
        self.engine.dispose()


def _row(r: Record, batch_id: str, now: datetime) -> dict:
    return _fit({
        "created_at": now,
        "batch_id": batch_id,
        "filename": r.filename,
        "sha256": r.sha256,
        "model": r.model,
        "predictions": json.dumps(r.predictions),
        "top_label": _top(r, "label_en") if r.predictions else None,
        "top_label_local": _local_top(r),
        "top_probability": r.predictions[0]["probability"] if r.predictions else None,
        "error_code": r.error["code"] if r.error else None,
        "error_message": r.error["message"] if r.error else None,
        "latency_ms": round(r.latency_ms, 3),
        "client": r.client,
        "user": r.user,
        "text": None if r.text is None else "\n".join(line["text"] for line in r.text),
        "text_lines": None if r.text is None else json.dumps(r.text, ensure_ascii=False),
    })  # fmt: skip


def _fit(row: dict) -> dict:
    """Text as every backend keeps it. PostgreSQL refuses a string longer than its VARCHAR(n)
    and any NUL character, which SQLite stores as given: a long label from a label file, a file
    name with a NUL in it would fail the whole batch there. So text is clipped to its column and
    NUL becomes U+FFFD, on both, and the two keep the same rows."""
    for name, value in row.items():
        if isinstance(value, str):
            value = value.replace("\x00", "\ufffd")
            length = getattr(recognitions.c[name].type, "length", None)
            row[name] = value[:length] if length else value
    return row


def _top(r: Record, key: str) -> str:
    first = r.predictions[0]
    return first.get(key) or first["label"]


def _local_top(r: Record) -> str | None:
    if not r.predictions:
        return None
    first = r.predictions[0]
    return first["label"] if first["label"] != first.get("label_en", first["label"]) else None


def _only(query, user: str | None, where: Filter | None = None):
    if user is not None:
        query = query.where(recognitions.c.user == user)
    return query.where(*where.conditions()) if where is not None and where.narrows else query


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
        "user": row["user"],
        # the lines read ({text, confidence, box}), [] when none were found; None: not asked
        "text": None if row["text_lines"] is None else json.loads(row["text_lines"]),
        "error": (
            {"code": row["error_code"], "message": row["error_message"]}
            if row["error_code"]
            else None
        ),
    }
