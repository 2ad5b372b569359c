"""Saved judgement rules: a rule (judge.py) kept under a name, in the same database as the
history, so every process serving that database judges `?rule=NAME` the same way.

One row per rule: its name (checked by names.check_rule_name), the rule as JSON, who saved it and
when. Saving a name again replaces its rule. Nothing here knows about HTTP.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import Column, DateTime, String, Table, Text, delete, select
from sqlalchemy.engine import Engine

from .database import write_transaction
from .errors import RuleNotFound
from .history import metadata
from .judge import FIELDS, Rule
from .names import check_rule_name

rules = Table(
    "rules",
    metadata,
    Column("name", String(200), primary_key=True),  # names.MODEL_NAME_BYTES
    Column("rule", Text, nullable=False),  # JSON: Rule.to_dict (judge.FIELDS)
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(64), nullable=True),  # NULL when auth is off
)


def _row(row) -> dict:
    at = row["updated_at"]
    if at.tzinfo is None:  # SQLite hands back naive datetimes; they were written as UTC
        at = at.replace(tzinfo=timezone.utc)
    when = at.isoformat(timespec="seconds")
    return {"name": row["name"], **json.loads(row["rule"]), "updated_at": when,
            "updated_by": row["updated_by"]}  # fmt: skip


class RuleStore:
    """The saved rules, on the history's engine (its migrations made the table)."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def put(self, name: str, rule: Rule, user: str | None = None) -> tuple[dict, bool]:
        """Save `rule` as `name` (replacing one of that name); returns (the row, created)."""
        check_rule_name(name)
        values = {"rule": json.dumps(rule.to_dict(), ensure_ascii=False),
                  "updated_at": datetime.now(timezone.utc), "updated_by": user}  # fmt: skip

        def work(conn) -> bool:
            gone = conn.execute(delete(rules).where(rules.c.name == name)).rowcount
            conn.execute(rules.insert().values(name=name, **values))
            return not gone

        created = write_transaction(self.engine, work)
        return self.get_row(name), created

    def get_row(self, name: str) -> dict:
        check_rule_name(name)
        with self.engine.connect() as conn:
            row = conn.execute(select(rules).where(rules.c.name == name)).mappings().first()
        if row is None:
            raise RuleNotFound(f"No rule named {name!r} has been saved.",
                               hint="see GET /api/v1/rules for the saved ones")  # fmt: skip
        return _row(row)

    def get(self, name: str) -> Rule:
        row = self.get_row(name)
        return Rule.parse({k: row[k] for k in FIELDS if k in row})

    def list(self) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(rules).order_by(rules.c.name)).mappings().all()
        return [_row(r) for r in rows]

    def delete(self, name: str) -> None:
        check_rule_name(name)
        def work(conn) -> int:
            return conn.execute(delete(rules).where(rules.c.name == name)).rowcount

        if not write_transaction(self.engine, work):
            raise RuleNotFound(f"No rule named {name!r} has been saved.")
