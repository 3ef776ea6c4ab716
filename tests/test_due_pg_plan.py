"""On a filled PostgreSQL store the due query's plan follows the number of due reviews, not the number of notes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reminder import notes
from reminder.db import open_store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from common import BENCH_DAY, fill_pg_store

pytestmark = pytest.mark.postgres

NOTES, DUE = 200_000, 300


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def test_due_plan_reads_the_pending_index_and_fetches_notes_by_id(pg_url: str) -> None:
    fill_pg_store(pg_url, NOTES, DUE)
    store = open_store(pg_url)
    try:
        with store.read() as session:
            compiled = notes.due_query(session, BENCH_DAY).compile(session.get_bind())
            explained = session.connection().exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params)
            top = explained.scalar()  # psycopg decodes the json column
            due = notes.due_on(session, BENCH_DAY, 30)
    finally:
        store.dispose()
    plan = top[0]["Plan"]
    nodes = list(_nodes(plan))
    assert any(n.get("Index Name") == "ix_reviews_pending_due" for n in nodes), plan
    # What the old plan did: a seq scan over every note feeding a hash join.
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], plan
    assert not [n for n in nodes if n["Node Type"] in ("Hash Join", "Merge Join")], plan
    notes_reads = [n for n in nodes if n.get("Relation Name") == "notes"]
    assert notes_reads and all(n.get("Index Name") == "pk_notes" for n in notes_reads), plan
    # JIT is off on the store's connections: compiling would cost more than the query.
    assert "JIT" not in top[0]
    assert len(due) == DUE
