"""The district's townships and villages as the admin keeps them (``township``, ``village``)."""

from datetime import UTC, datetime
from decimal import Decimal

from sqlmodel import Session, delete, select

from domain.errors import Conflict
from domain.townships import Township, Village
from store import reserve
from store.tables import CaseRecord, TownshipRow, VillageRow


def townships(session: Session, codes: list[str] | None = None) -> list[Township]:
    """Every township (or those of ``codes``) with its villages, by code."""
    query = select(TownshipRow).order_by(TownshipRow.code)
    if codes is not None:
        query = query.where(TownshipRow.code.in_(codes))
    villages: dict[str, list[Village]] = {}
    for v in session.exec(select(VillageRow).order_by(VillageRow.code)):
        villages.setdefault(v.township_code, []).append(Village(v.code, v.name, v.area))
    return [
        Township(t.code, t.name, t.area, tuple(villages.get(t.code, [])))
        for t in session.exec(query)
    ]


def township_name(session: Session, code: str) -> str | None:
    """The name of the district's township of this code (None: no such township)."""
    row = session.get(TownshipRow, code)
    return row.name if row else None


def village(session: Session, code: str) -> tuple[Village, str] | None:
    """The village of this code and the code of its township (None: no such village)."""
    row = session.get(VillageRow, code)
    return (Village(row.code, row.name, row.area), row.township_code) if row else None


def put_township(session: Session, *, township: Township, minimum: Decimal) -> Township:
    """Add or correct a township and its villages (``Conflict``: a village with cases would be
    removed); a new township's reserve opens at ``minimum``, its opening top-up on the ledger."""
    code = township.code
    dropped = select(VillageRow.code).where(
        VillageRow.township_code == code,
        VillageRow.code.not_in([v.code for v in township.villages]),
    )
    if in_use := session.exec(
        select(CaseRecord.village).where(CaseRecord.village.in_(dropped)).distinct()
    ).all():
        raise Conflict(f"villages with cases cannot be removed: {', '.join(sorted(in_use))}")
    session.merge(TownshipRow(code=code, name=township.name, area=township.area))
    session.exec(delete(VillageRow).where(VillageRow.code.in_(dropped)))
    for v in township.villages:
        session.merge(VillageRow(code=v.code, township_code=code, name=v.name, area=v.area))
    reserve.open_reserve(session, township=code, minimum=minimum, at=datetime.now(UTC))
    session.flush()
    return townships(session, [code])[0]
