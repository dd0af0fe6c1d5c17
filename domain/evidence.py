"""Evidence that the audit trail (留痕) was not quietly edited: the hashes that chain its
entries and seal them, and the comparison of a case's steps in its workflow history with its
records. Pure functions; ``store.evidence`` applies them to the database.

Each entry carries the hash of the case's entry before it (by seq), so an entry edited,
removed or inserted inside a case's trail shows. A chain per case, not one global chain: a
global chain would make every write of every case wait for the one before it, anywhere. What
a per-case chain cannot show, a whole case's trail or its last entries deleted, the case's head
shows (its newest entry, kept beside the trail: ``store.evidence``), and so do the seals: a
chain of roots over batches of entries in insertion (id) order.

Never change these functions: every hash ever written depends on them.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from domain.cases import AuditEntry

GENESIS = "0" * 64
"""The ``prev_hash`` of a case's first entry, and the root before the first seal."""

CONTENT = (
    "case_no", "seq", "at", "user_id", "user_name", "role",
    "action", "from_stage", "to_stage", "note",
)  # fmt: skip
"""What an entry says: the fields its hash covers (with ``prev_hash``), named as the columns."""


def content_of(entry: AuditEntry) -> dict[str, Any]:
    """An entry's ``CONTENT``, as plain values (enums as their text)."""
    return {
        "case_no": entry.case_no,
        "seq": entry.seq,
        "at": entry.at,
        "user_id": entry.actor.user_id,
        "user_name": entry.actor.name,
        "role": str(entry.actor.role),
        "action": entry.action,
        "from_stage": None if entry.from_stage is None else str(entry.from_stage),
        "to_stage": str(entry.to_stage),
        "note": entry.note,
    }


def canonical(content: Mapping[str, Any], prev_hash: str) -> bytes:
    """One byte string per entry: JSON with sorted keys and no spaces, ``at`` in UTC."""
    fields = {name: content[name] for name in CONTENT}
    fields["at"] = fields["at"].astimezone(UTC).isoformat()
    fields["prev_hash"] = prev_hash
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def entry_hash(content: Mapping[str, Any], prev_hash: str) -> str:
    return hashlib.sha256(canonical(content, prev_hash)).hexdigest()


def seal_root(previous_root: str, hashes: Iterable[str]) -> str:
    """The root of a seal: the previous seal's root, then the hashes of its entries in id
    order (each 64 hex digits, so their concatenation is unambiguous)."""
    digest = hashlib.sha256(previous_root.encode())
    for entry in hashes:
        digest.update(entry.encode())
    return digest.hexdigest()


# --- a case's steps: its workflow history beside its records ---------------------------------


def written_by_api(content: Mapping[str, Any]) -> bool:
    """The entries the API writes itself, never through a workflow: the intake (seq 0,
    accepted or requested) and a case halted by the engine."""
    return content["seq"] == 0 or content["action"] == "case_halted"


@dataclass(frozen=True)
class Step:
    seq: int
    at: datetime
    action: str
    from_stage: str | None
    to_stage: str
    user_id: str
    source: str
    """``workflow`` (written at a step of the case's workflow) or ``api``."""
    in_history: bool
    in_records: bool
    differences: list[str] = field(default_factory=list)
    """The fields whose value in the records is not the one in the history."""
    checked: bool = True
    """False for a records-only step older than the history still kept (see ``compare``)."""

    @property
    def matches(self) -> bool:
        if not self.checked:
            return True
        if self.in_history and self.in_records:
            return not self.differences
        return self.in_records and self.source == "api"


def compare(
    history: Mapping[int, Mapping[str, Any]],
    records: Mapping[int, Mapping[str, Any]],
    *,
    complete: bool,
) -> list[Step]:
    """The steps of a case by seq, each as the history tells it when it is there.

    ``complete`` is False when the history of the case's earliest runs is gone (past the
    namespace's retention): a records-only step older than the oldest one in the history
    left is then not counted as a difference.
    """
    oldest = None if complete else min(history, default=None)
    steps = []
    for seq in sorted(history.keys() | records.keys()):
        told, recorded = history.get(seq), records.get(seq)
        shown = told or recorded or {}
        both = told is not None and recorded is not None
        steps.append(
            Step(
                seq=seq,
                at=shown["at"],
                action=shown["action"],
                from_stage=shown["from_stage"],
                to_stage=shown["to_stage"],
                user_id=shown["user_id"],
                source="api" if told is None and written_by_api(shown) else "workflow",
                in_history=told is not None,
                in_records=recorded is not None,
                differences=[f for f in CONTENT if told[f] != recorded[f]] if both else [],
                checked=complete or told is not None or (oldest is not None and seq > oldest),
            )
        )
    return steps
