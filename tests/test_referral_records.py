"""Referrals in the records (``store.referrals``), on SQLite and PostgreSQL: the family kept
sealed and its numbers masked in the row, and after a key rotation the family resealed and
the open referrals' claims re-hashed, so a second referral of the family still finds the
first once the old key is gone."""

import base64
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from domain.cases import Actor, Role
from domain.policy import Policy
from domain.sealing import KeyRing
from settings import Settings
from store.db import session_scope
from store.migrate import rehash, reseal
from store.referrals import Family, Filing, family_of, file_referral
from store.tables import ReferralClaim, ReferralRecord
from tests.helpers.people import id_number, phone
from tests.helpers.stack import RING

LIAISON = Actor("u-yb", "医保联络员", Role.department_liaison, "370305", "medical_insurance")
B = base64.b64encode(b"b" * 32).decode()
ROTATED = KeyRing({"embedded-1": Settings().encryption_keys["embedded-1"], "b": B}, current="b")
"""The default key kept for reading, and a new one made current."""
ONLY_B = KeyRing({"b": B}, current="b")


@pytest.fixture
def url(each_database_url) -> str:
    return each_database_url


def filed(url: str, family: Family, ring: KeyRing) -> ReferralRecord:
    filing = Filing("medical_insurance", "major_illness", family, "370305001001", "住院")
    with session_scope(url, writes=True) as session:
        made = file_referral(session, filing=filing, actor=LIAISON, now=datetime.now(UTC),
                             policy=Policy(), ring=ring)  # fmt: skip
        session.expunge(made.row)
        return made.row


def test_the_family_is_sealed_and_after_a_rotation_still_found(url):
    family = Family("孙大病", id_number("19700505"), phone())
    first = filed(url, family, RING)
    assert first.status == "open"
    assert family.id_number not in first.family and family.phone not in first.family
    assert (first.id_number, first.phone) != (family.id_number, family.phone)
    assert first.id_number.endswith(family.id_number[-4:])

    assert reseal(url, ring=ROTATED) >= 1
    assert rehash(url, ring=ROTATED) >= 1
    with session_scope(url) as session:
        row = session.get(ReferralRecord, first.referral_no)
        keys = set(
            session.exec(
                select(ReferralClaim.key_id).where(ReferralClaim.referral_no == first.referral_no)
            )
        )
    assert row.family.startswith("aes-gcm:b:")
    assert family_of(row, ring=ONLY_B) == family
    assert keys == {"embedded-1", "b"}

    assert rehash(url, ring=ONLY_B) >= 1  # the old key retired: its hashes go
    second = filed(url, family, ONLY_B)
    assert (second.status, second.linked_referral) == ("linked", first.referral_no)
