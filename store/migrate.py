"""Bring the database schema up to date: ``python -m store.migrate`` (``--reseal`` after a key
rotation, to seal every kept intake under the current key)."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from domain.sealing import KeyRing
from store.db import get_engine
from store.sealed import reseal_starts

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str, *, ring: KeyRing | None = None) -> Config:
    """``ring``: the encryption keys, for the migrations that seal data (0007); a database
    with nothing to seal needs none."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["key_ring"] = ring
    return config


def upgrade(url: str, *, ring: KeyRing | None = None) -> None:
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url, ring=ring), "head")


def reseal(url: str, *, ring: KeyRing) -> int:
    """Seal again, under the current key, every intake sealed under another (key rotation):
    afterwards the case records need only the current key. The number of rows resealed."""
    with get_engine(url).begin() as connection:
        return reseal_starts(connection, ring=ring)


if __name__ == "__main__":
    import argparse

    from settings import get_settings

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--reseal", action="store_true", help="after upgrading, reseal under the current key"
    )
    args = parser.parse_args()
    settings = get_settings()
    upgrade(settings.database_url, ring=settings.key_ring())
    if args.reseal:
        count = reseal(settings.database_url, ring=settings.key_ring())
        print(f"resealed {count} intakes under key '{settings.encryption_key_id}'")
