"""The jurisdiction rule in the records (``domain.townships``): a list holds the rows of the
user's jurisdiction only, by exact code, never a pattern; and a case is found by its number
with its kind and village, for the permission that checks it lies within the jurisdiction
(``api.permissions``)."""

from dataclasses import dataclass
from typing import Any, Literal

from sqlmodel import Session, select

from domain.townships import jurisdiction_level
from store.tables import CaseRecord, EmergencyRecord

CaseKindName = Literal["application", "emergency"]

TABLES: dict[CaseKindName, type[CaseRecord] | type[EmergencyRecord]] = {
    "application": CaseRecord,
    "emergency": EmergencyRecord,
}
"""Each kind of case and the table of its records."""


@dataclass(frozen=True)
class CaseRef:
    """A case by its number, with its kind and the village it lies in (set at intake, never
    changed): what the permission of a route about one case checked."""

    case_no: str
    kind: CaseKindName
    village: str


def within(query: Any, table: Any, *, jurisdiction: str) -> Any:
    """Only the rows of ``table`` that ``jurisdiction`` covers: a township's or a village's by
    their code, the district's all of them."""
    level = jurisdiction_level(jurisdiction)  # tokens without one are refused at sign-in
    if level == "district":
        return query
    if level == "township":
        return query.where(table.township == jurisdiction)
    if level == "village":
        return query.where(table.village == jurisdiction)
    raise ValueError(f"not a jurisdiction: {jurisdiction!r}")


def case_ref(session: Session, *, case_no: str) -> CaseRef | None:
    """The application or emergency with this number (None: there is none)."""
    for kind, table in TABLES.items():
        village = session.exec(select(table.village).where(table.case_no == case_no)).first()
        if village is not None:
            return CaseRef(case_no=case_no, kind=kind, village=village)
    return None
