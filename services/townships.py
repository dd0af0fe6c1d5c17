"""The district's townships and villages: reference data, edited by the admin."""

from decimal import Decimal

from domain.errors import InvalidData
from domain.townships import Township, Village, village_area
from store import townships
from store.db import Database


async def listing(*, db: Database) -> list[Township]:
    return await db.read(townships.townships)


async def put(
    *,
    db: Database,
    code: str,
    name: str,
    area: str,
    villages: list[tuple[str, str, str | None]],
    reserve_minimum: Decimal,
) -> Township:
    """Add or correct a township and its villages (code, name, and area: None for the one its
    name says, ``village_area``). A village with cases cannot be removed."""
    if bad := [c for c, _, _ in villages if not c.startswith(code)]:
        raise InvalidData("villages", f"village codes must start with {code}: {', '.join(bad)}")
    if len({c for c, _, _ in villages}) != len(villages):
        raise InvalidData("villages", "a village code appears twice")
    township = Township(
        code, name, area, tuple(Village(c, n, a or village_area(n)) for c, n, a in villages)
    )
    return await db.write(townships.put_township, township=township, minimum=reserve_minimum)
