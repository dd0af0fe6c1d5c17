"""The two tables that find cases by a person's ID number, ``household_claim`` (one open case
per person and type) and ``emergency_payout`` (the repeat rule), keep a keyed hash of it, never
the number: over the real stack, after a key rotation and its re-hash, on SQLite and
PostgreSQL."""

import base64
import hashlib
import hmac

import sqlalchemy as sa
from temporalio.client import Client

from domain.sealing import KeyRing
from settings import Settings
from store.db import Database, get_engine
from tests.helpers.actors import ASSISTANT, approver_of, assistant_of
from tests.helpers.api import application, emergency, key, paid_and_closed
from tests.helpers.people import phone
from tests.helpers.stack import running_stack
from watches.id_numbers import rehash_id_numbers
from workflows.client import data_converter

TOWNSHIP, VILLAGE = "370305105", "370305105202"
ROTATED_KEYS = {
    "embedded-1": Settings().encryption_keys["embedded-1"],
    "rotated-2": base64.b64encode(b"r" * 32).decode(),
}
"""The default key kept to read with, and a new one made current: a rotation."""


def rows(url: str, table: str, case_no: str) -> list[dict]:
    """The table's rows of the case, every column, as plain SQL reads them."""
    with get_engine(url).connect() as connection:
        found = connection.execute(
            sa.text(f"SELECT * FROM {table} WHERE case_no = :c"), {"c": case_no}
        )
        return [dict(row._mapping) for row in found]


def people(body: dict) -> list[str]:
    return [body["applicant"]["id_number"], *(m["id_number"] for m in body["household"])]


def assert_no_id_number(found: list[dict], ids: list[str]) -> None:
    assert found
    for row in found:
        for value in row.values():
            assert not [n for n in ids if n in str(value)], row
        assert len(row["id_number_hash"]) == 64  # HMAC-SHA256, hex


def member_of(body: dict, **overrides) -> dict:
    """A request for the household member of ``body``, as the applicant."""
    child = body["household"][0]
    applicant = {"name": child["name"], "id_number": child["id_number"], "phone": phone()}
    parent = {"name": body["applicant"]["name"], "id_number": body["applicant"]["id_number"],
              "relation": "父母"}  # fmt: skip
    return emergency(
        TOWNSHIP, VILLAGE, name=child["name"], applicant=applicant, household=[parent],
        **overrides,
    )  # fmt: skip


async def refused_twice(stack, dibao: dict, dibao_case: str, family: dict, paid: str) -> None:
    """A second application for a member of an open one, and a second emergency payment to
    a paid family, are refused naming the first case."""
    spouse = dibao["household"][0]
    async with (
        stack.client(ASSISTANT) as assistant,
        stack.client(assistant_of(TOWNSHIP)) as township_assistant,
        stack.client(approver_of(TOWNSHIP)) as approver,
    ):
        again = application(
            applicant={"name": spouse["name"], "id_number": spouse["id_number"],
                       "phone": "13800000009"},
            household=[],
        )  # fmt: skip
        duplicate = await assistant.post("/applications", json=again)
        assert duplicate.status_code == 409 and dibao_case in duplicate.json()["detail"]

        created = await township_assistant.post(
            "/emergencies", json=member_of(family, cause="accident"), headers=key()
        )
        assert created.status_code == 201, created.text
        second = created.json()["case_no"]
        refused = await approver.post(
            f"/emergencies/{second}/approval", json={"amount": "1500.00"}, headers=key()
        )
        assert refused.status_code == 409 and paid in refused.json()["detail"], refused.text
        rejected = await approver.post(
            f"/emergencies/{second}/rejection", json={"reasons": "已获救助"}, headers=key()
        )
        assert rejected.status_code == 200, rejected.text  # the family may ask again


async def test_the_claim_tables_keep_no_id_number_and_still_refuse_after_a_rotation(
    dev_env, api_settings, each_database_url
):
    url = each_database_url
    settings = api_settings.model_copy(update={"database_url": url})
    dibao = application()
    family = emergency(TOWNSHIP, VILLAGE)
    async with running_stack(dev_env.client, settings) as stack:
        async with stack.client(ASSISTANT) as assistant:
            created = await assistant.post("/applications", json=dibao)
            assert created.status_code == 201, created.text
            dibao_case = created.json()["case_no"]
        paid = await paid_and_closed(stack, family)

        claims = rows(url, "household_claim", dibao_case)
        payouts = rows(url, "emergency_payout", paid)
        assert len(claims) == len(payouts) == 2
        assert_no_id_number(claims, people(dibao))
        assert_no_id_number(payouts, people(family))
        assert {r["key_id"] for r in claims + payouts} == {"embedded-1"}
        await refused_twice(stack, dibao, dibao_case, family, paid)

    # A rotation: the new key is added and made current; the worker's watch re-hashes.
    rotated = settings.model_copy(
        update={"encryption_keys": ROTATED_KEYS, "encryption_key_id": "rotated-2"}
    )
    ring = rotated.key_ring()
    assert (
        await rehash_id_numbers(Database(url), ring=ring) == 4
    )  # the application's two claims, two payouts
    assert await rehash_id_numbers(Database(url), ring=ring) == 0  # nothing left to do
    claims = rows(url, "household_claim", dibao_case)
    payouts = rows(url, "emergency_payout", paid)
    assert {r["key_id"] for r in claims + payouts} == {"rotated-2"}
    assert len(claims) == len(payouts) == 2
    assert_no_id_number(claims + payouts, people(dibao) + people(family))

    client = await Client.connect(
        dev_env.client.service_client.config.target_host,
        namespace=dev_env.client.namespace,
        data_converter=data_converter(ring),
    )
    async with running_stack(client, rotated) as stack:
        await refused_twice(stack, dibao, dibao_case, family, paid)
        # Paid under the new key (the district's exception), the repeat rule finds it too.
        second = await paid_and_closed(stack, member_of(family, cause="other"), exception=True)
        assert {r["key_id"] for r in rows(url, "emergency_payout", second)} == {"rotated-2"}
        await refused_twice(stack, dibao, dibao_case, family, second)


def test_a_ring_hashes_each_number_under_each_key_apart_from_its_aes_key():
    ring = KeyRing(ROTATED_KEYS, current="rotated-2")
    under = {key_id: ring.index("370305198001010011", key_id=key_id) for key_id in ring.key_ids}
    assert ring.index("370305198001010011") == under["rotated-2"] != under["embedded-1"]
    assert ring.index("370305198001010029") != under["rotated-2"]
    # The same key id and key always give the same hash (the look-ups depend on it).
    again = KeyRing(ROTATED_KEYS, current="embedded-1")
    assert again.index("370305198001010011") == under["embedded-1"]
    # Not a plain HMAC under the AES key itself.
    aes = base64.b64decode(ROTATED_KEYS["embedded-1"])
    plain = hmac.new(aes, b"370305198001010011", hashlib.sha256).hexdigest()
    assert plain != under["embedded-1"]
