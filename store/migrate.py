"""Bring the database schema up to date: ``python -m store.migrate`` (``--reseal`` after a key
rotation, to seal every kept intake under the current key and re-hash the ID numbers of the
claim tables under it)."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from domain.sealing import KeyRing
from store.db import get_engine, session_scope
from store.hashed_ids import TABLES as HASHED_TABLES
from store.hashed_ids import rehash_batch
from store.recipients import reseal_payees
from store.referrals import rehash_claims, reseal_referrals
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
    """Seal again, under the current key, every intake, every recipient household's payee and
    every referral's family sealed under another (key rotation): afterwards the records need only the current key.
    The number of rows resealed."""
    with get_engine(url).begin() as connection:
        intakes = reseal_starts(connection, ring=ring)
    with session_scope(url, writes=True) as session:
        payees = reseal_payees(session, ring=ring)
        return intakes + payees + reseal_referrals(session, ring=ring)


def rehash(url: str, *, ring: KeyRing) -> int:
    """Re-hash under the current key the ID numbers of the claim tables kept under another
    (``store.hashed_ids``; the worker's watch does it too), a batch per transaction. The
    number of rows changed."""
    changed = 0
    for table in HASHED_TABLES:
        after: str | None = ""
        while after is not None:
            with session_scope(url, writes=True) as session:
                done, after = rehash_batch(session, ring=ring, table=table, after=after)
            changed += done
    while True:  # the open referrals' claims (部门转介)
        with session_scope(url, writes=True) as session:
            done = rehash_claims(session, ring=ring)
        if not done:
            return changed
        changed += done


if __name__ == "__main__":
    import argparse

    from settings import get_settings

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--reseal",
        action="store_true",
        help="after upgrading, reseal the intakes and re-hash the ID numbers under the current key",
    )
    args = parser.parse_args()
    settings = get_settings()
    upgrade(settings.database_url, ring=settings.key_ring())
    if args.reseal:
        count = reseal(settings.database_url, ring=settings.key_ring())
        print(
            f"resealed {count} intakes, payees and referrals under key "
            f"'{settings.encryption_key_id}'"
        )
        count = rehash(settings.database_url, ring=settings.key_ring())
        print(f"re-hashed {count} ID numbers of the claim tables under the same key")
