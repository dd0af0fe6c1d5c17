"""SQLite persistence shared by the simulated services."""

import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    service TEXT NOT NULL,
    key TEXT NOT NULL,
    id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    PRIMARY KEY (service, key)
)
"""


def utc_now() -> str:
    """The current instant as ISO-8601 UTC."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Store:
    """JSON records per service, unique by idempotency key and by id."""

    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(SCHEMA)

    def put_once(
        self, service: str, key: str, record_id: str, record: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """Store ``record`` unless ``key`` is taken; return the stored record and whether it is new."""
        with self._lock:
            self._db.execute(
                "INSERT INTO records (service, key, id, body) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (service, key) DO NOTHING",
                (service, key, record_id, json.dumps(record, ensure_ascii=False)),
            )
            row = self._db.execute(
                "SELECT id, body FROM records WHERE service = ? AND key = ?", (service, key)
            ).fetchone()
        return json.loads(row[1]), row[0] == record_id

    def put_many(
        self, service: str, records: list[tuple[str, str, dict[str, Any]]]
    ) -> list[dict[str, Any]]:
        """Store each ``(key, id, record)`` whose key is free, in one transaction; the stored
        records in order (the one kept under a key taken before, for the others)."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT INTO records (service, key, id, body) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (service, key) DO NOTHING",
                    [
                        (service, key, record_id, json.dumps(record, ensure_ascii=False))
                        for key, record_id, record in records
                    ],
                )
                stored = [
                    self._db.execute(
                        "SELECT body FROM records WHERE service = ? AND key = ?", (service, key)
                    ).fetchone()[0]
                    for key, _, _ in records
                ]
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return [json.loads(body) for body in stored]

    def by_key(self, service: str, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM records WHERE service = ? AND key = ?", (service, key)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def page(self, service: str, prefix: str, *, offset: int, limit: int) -> list[dict[str, Any]]:
        """Records whose key starts with ``prefix``, in key order (an index range, not a scan)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM records WHERE service = ? AND key >= ? AND key < ?"
                " ORDER BY key LIMIT ? OFFSET ?",
                (service, prefix, prefix + "\uffff", limit, offset),
            ).fetchall()
        return [json.loads(body) for (body,) in rows]

    def get(self, service: str, record_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM records WHERE service = ? AND id = ?", (service, record_id)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def find(self, service: str, **match: str | None) -> list[dict[str, Any]]:
        """Records of ``service`` whose fields equal every non-None value of ``match``, oldest first."""
        match = {field: value for field, value in match.items() if value is not None}
        sql = "SELECT body FROM records WHERE service = ?"
        sql += "".join(" AND json_extract(body, ?) = ?" for _ in match)
        params = [service, *(p for field, value in match.items() for p in (f"$.{field}", value))]
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY rowid", params).fetchall()
        return [json.loads(body) for (body,) in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
