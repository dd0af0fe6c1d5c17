"""The external-system simulators, exercised over real HTTP."""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from uuid import uuid4

import httpx
import pytest

from simulators.app import create_app
from tests.support import serve

ID_NUMBER = "110101199003071234"


@contextmanager
def served(db_path) -> Iterator[httpx.Client]:
    with serve(create_app(str(db_path))) as url, httpx.Client(base_url=url) as client:
        yield client


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return tmp_path_factory.mktemp("simulators") / "simulators.db"


@pytest.fixture(scope="module")
def client(db) -> Iterator[httpx.Client]:
    with served(db) as client:
        yield client


def key() -> str:
    return uuid4().hex


def transfer(case_no: str, idempotency_key: str, amount: str = "1234.50", **extra) -> dict:
    body = {
        "idempotency_key": idempotency_key,
        "case_no": case_no,
        "payee_name": "张三",
        "payee_id_number": ID_NUMBER,
        "amount": amount,
        "purpose": "最低生活保障金",
    }
    return body | extra


def test_health(client):
    assert client.get("/health").json() == {"status": "ok"}


def test_transfer_retried_with_same_key_is_paid_once(client):
    case_no, k = key(), key()
    first = client.post("/payment/transfers", json=transfer(case_no, k))
    again = client.post("/payment/transfers", json=transfer(case_no, k))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert first.json()["status"] == "settled" and first.json()["amount"] == "1234.50"
    assert client.get("/payment/transfers", params={"case_no": case_no}).json() == [first.json()]
    assert client.get(f"/payment/transfers/{first.json()['transfer_id']}").json() == first.json()
    assert client.get("/payment/transfers/tr_unknown").status_code == 404


def test_key_reused_for_a_different_transfer_conflicts(client):
    case_no, k = key(), key()
    client.post("/payment/transfers", json=transfer(case_no, k))
    assert (
        client.post("/payment/transfers", json=transfer(case_no, k, amount="99.00")).status_code
        == 409
    )
    assert client.post("/payment/transfers", json=transfer(key(), k)).status_code == 409
    assert len(client.get("/payment/transfers", params={"case_no": case_no}).json()) == 1


@pytest.mark.parametrize("amount", ["0", "-5.00", "abc", "1.234", "NaN", 12.5])
def test_invalid_amount_is_rejected(client, amount):
    assert (
        client.post("/payment/transfers", json=transfer(key(), key(), amount=amount)).status_code
        == 422
    )


def test_id_number_is_not_stored_in_clear(client, db):
    paid = client.post("/payment/transfers", json=transfer(key(), key())).json()
    assert paid["payee_id_number"] == "110101********1234"
    with sqlite3.connect(db) as conn:
        dump = "\n".join(conn.iterdump())
    assert paid["transfer_id"] in dump and ID_NUMBER not in dump


def test_sms_is_sent_once_per_key(client):
    phone, k = "138" + str(uuid4().int)[:8], key()
    body = {"idempotency_key": k, "phone": phone, "template": "approval", "text": "您的申请已批准"}
    first, again = client.post("/sms/messages", json=body), client.post("/sms/messages", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json() and first.json()["status"] == "sent"
    client.post("/sms/messages", json=body | {"idempotency_key": key(), "template": "payment"})
    assert client.get("/sms/messages", params={"phone": phone}).json()[0] == first.json()
    assert len(client.get("/sms/messages", params={"phone": phone}).json()) == 2
    assert client.get("/sms/messages", params={"phone": phone, "template": "approval"}).json() == [
        first.json()
    ]


@pytest.mark.parametrize("phone", ["2381234567", "23812345678", "1381234567x", "138123456789"])
def test_sms_rejects_bad_phone(client, phone):
    body = {"idempotency_key": key(), "phone": phone, "template": "t", "text": "x"}
    assert client.post("/sms/messages", json=body).status_code == 422


def test_verification_is_deterministic_per_household(client):
    members = [
        {"name": "张三", "id_number": ID_NUMBER},
        {"name": "李四", "id_number": "11010120100101002X"},
    ]
    request = {"request_id": key(), "case_no": key(), "members": members}
    first = client.post("/verification/reports", json=request)
    again = client.post("/verification/reports", json=request)
    other = client.post(
        "/verification/reports", json=request | {"request_id": key(), "members": members[::-1]}
    )
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert again.json() == first.json() and other.json()["report_id"] != first.json()["report_id"]
    figures = ("household_monthly_income", "savings", "vehicles", "properties", "flags")
    report = first.json()
    assert {f: report[f] for f in figures} == {f: other.json()[f] for f in figures}
    assert Decimal(0) <= Decimal(report["household_monthly_income"]) <= Decimal("6000.00")
    assert Decimal(0) <= Decimal(report["savings"]) <= Decimal("50000.00")
    assert report["vehicles"] in (0, 1) and report["properties"] in (0, 1, 2)
    assert ("vehicle_registered" in report["flags"]) == (report["vehicles"] > 0)
    empty = request | {"request_id": key(), "members": []}
    assert client.post("/verification/reports", json=empty).status_code == 422


def test_fault_injection_fails_exactly_n_calls(client):
    case_no = key()
    assert client.post("/_faults", json={"service": "payment", "fail_next": 2}).status_code == 204
    client.post("/_faults", json={"service": "sms", "fail_next": 1, "status": 500})
    failed = [client.post("/payment/transfers", json=transfer(case_no, key())) for _ in range(2)]
    assert [(r.status_code, r.json()) for r in failed] == [
        (503, {"detail": "simulated outage"})
    ] * 2
    assert client.get("/payment/transfers", params={"case_no": case_no}).json() == []
    assert client.post("/payment/transfers", json=transfer(case_no, key())).status_code == 201
    assert client.delete("/_faults").status_code == 204
    sms = {"idempotency_key": key(), "phone": "13800000000", "template": "t", "text": "x"}
    assert client.post("/sms/messages", json=sms).status_code == 201


def test_data_survives_restart(tmp_path):
    db, case_no, k = tmp_path / "sim.db", key(), key()
    with served(db) as client:
        paid = client.post("/payment/transfers", json=transfer(case_no, k)).json()
    with served(db) as client:
        assert client.get("/payment/transfers", params={"case_no": case_no}).json() == [paid]
        retried = client.post("/payment/transfers", json=transfer(case_no, k))
        assert (retried.status_code, retried.json()) == (200, paid)
