"""The external-system simulators, exercised over real HTTP."""

import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal
from uuid import uuid4

import httpx
import pytest

from simulators.app import create_app
from tests.helpers.servers import serve

ID_NUMBER = "110101199003071234"
ACCOUNT_NO = "6217000010012345678"


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


def account(account_no: str = ACCOUNT_NO, holder: str = "张三") -> dict:
    return {"bank": "中国建设银行临淄支行", "account_no": account_no, "holder": holder}


@pytest.fixture
def faults(client) -> Iterator[httpx.Client]:
    """The shared client; whatever fault a test arms is cleared after it, pass or fail."""
    yield client
    client.delete("/_faults")


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


def test_transfer_to_an_account_keeps_only_its_last_4_digits(client, db):
    case_no, k = key(), key()
    paid = client.post("/payment/transfers", json=transfer(case_no, k, account=account()))
    assert paid.status_code == 201 and paid.json()["status"] == "settled"
    assert paid.json()["account"] == {
        "bank": "中国建设银行临淄支行",
        "account_no_masked": "****5678",
        "holder": "张三",
    }
    replay = client.post("/payment/transfers", json=transfer(case_no, k, account=account()))
    assert (replay.status_code, replay.json()) == (200, paid.json())
    for changed in (
        {"account": account("6217000010012340000")},
        {"account": account() | {"bank": "中国农业银行"}},
        {},  # the same transfer without its account
    ):
        reused = client.post("/payment/transfers", json=transfer(case_no, k, **changed))
        assert reused.status_code == 409
    assert client.get("/payment/transfers", params={"case_no": case_no}).json() == [paid.json()]
    with sqlite3.connect(db) as conn:
        dump = "\n".join(conn.iterdump())
    assert paid.json()["transfer_id"] in dump and ACCOUNT_NO not in dump


def test_legacy_transfer_carries_no_account(client):
    paid = client.post("/payment/transfers", json=transfer(key(), key())).json()
    assert "account" not in paid


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (account("0001234567890"), "account_closed: "),
        (account(holder="李四"), "name_mismatch: "),
    ],
)
def test_refused_transfer_is_not_stored_and_may_be_retried_corrected(client, bad, reason):
    case_no, k = key(), key()
    refused = client.post("/payment/transfers", json=transfer(case_no, k, account=bad))
    assert refused.status_code == 422 and refused.json()["detail"].startswith(reason)
    again = client.post("/payment/transfers", json=transfer(case_no, k, account=bad))
    assert (again.status_code, again.json()) == (422, refused.json())
    assert client.get("/payment/transfers", params={"case_no": case_no}).json() == []
    # A refusal had no effect: the same key with the account corrected is a new transfer.
    paid = client.post("/payment/transfers", json=transfer(case_no, k, account=account()))
    assert paid.status_code == 201
    assert client.get("/payment/transfers", params={"case_no": case_no}).json() == [paid.json()]


def test_key_that_paid_is_not_refused_for_a_bad_account(client):
    case_no, k = key(), key()
    client.post("/payment/transfers", json=transfer(case_no, k, account=account()))
    closed = account("0001234567890")
    assert (
        client.post("/payment/transfers", json=transfer(case_no, k, account=closed)).status_code
        == 409
    )


def test_holder_is_compared_without_surrounding_whitespace(client):
    spaced = transfer(key(), key(), payee_name=" 张三", account=account(holder="张三 \t"))
    paid = client.post("/payment/transfers", json=spaced)
    assert paid.status_code == 201 and paid.json()["account"]["holder"] == "张三"


@pytest.mark.parametrize(
    "bad",
    [
        account("1234567"),
        account("1" * 31),
        account("62170000100123456x"),
        account(" 62170000100123456"),
        account(holder=" "),
        account(holder="张" * 51),
        {"bank": "", "account_no": ACCOUNT_NO, "holder": "张三"},
        {"account_no": ACCOUNT_NO, "holder": "张三"},
    ],
)
def test_malformed_account_is_rejected(client, bad):
    case_no = key()
    assert (
        client.post("/payment/transfers", json=transfer(case_no, key(), account=bad)).status_code
        == 422
    )
    assert client.get("/payment/transfers", params={"case_no": case_no}).json() == []


def test_transfers_filter_by_status(client):
    case_no = key()
    paid = client.post("/payment/transfers", json=transfer(case_no, key())).json()
    listed = {"case_no": case_no, "status": "settled"}
    assert client.get("/payment/transfers", params=listed).json() == [paid]
    assert client.get("/payment/transfers", params=listed | {"status": "failed"}).json() == []


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
    # clean by default: nothing a survey would be contradicted by
    assert Decimal(0) <= Decimal(report["household_monthly_income"]) <= Decimal("200.00")
    assert Decimal(0) <= Decimal(report["savings"]) <= Decimal("20000.00")
    assert report["vehicles"] == 0 and report["properties"] in (0, 1)
    assert report["flags"] == []
    # a member whose sequence digits are 9xx marks the household: a vehicle, savings above
    marked = members + [{"name": "王五", "id_number": "110101199003079016"}]
    flagged = client.post(
        "/verification/reports", json=request | {"request_id": key(), "members": marked}
    ).json()
    assert flagged["vehicles"] == 1 and flagged["flags"] == ["vehicle_registered"]
    assert Decimal(flagged["savings"]) > Decimal("30000.00")
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


def wait_for_transfers(client: httpx.Client, case_no: str) -> list[dict]:
    deadline = time.monotonic() + 10
    while not (found := client.get("/payment/transfers", params={"case_no": case_no}).json()):
        assert time.monotonic() < deadline, "the transfer was never stored"
        time.sleep(0.05)
    return found


def test_delayed_answer_comes_after_the_transfer_is_stored(faults):
    body = transfer(key(), key())
    case_no = body["case_no"]
    delay = {"service": "payment", "delay_next": 1, "delay_seconds": 60}
    assert faults.post("/_faults", json=delay).status_code == 204
    with ThreadPoolExecutor(1) as pool, httpx.Client(base_url=faults.base_url) as caller:
        answer = pool.submit(caller.post, "/payment/transfers", json=body, timeout=30)
        stored = wait_for_transfers(faults, case_no)
        time.sleep(0.2)
        assert not answer.done(), "the answer came without its delay"
        started = time.monotonic()
        assert faults.delete("/_faults").status_code == 204  # sends the late answer now
        paid = answer.result(timeout=10)
    assert time.monotonic() - started < 5
    assert (paid.status_code, [paid.json()]) == (201, stored)
    assert (
        faults.post("/payment/transfers", json=transfer(case_no, key()), timeout=5).status_code
        == 201
    )


def test_lost_answer_then_retry_with_same_key_is_paid_once(faults):
    body = transfer(key(), key(), account=account())
    faults.post("/_faults", json={"service": "payment", "delay_next": 1, "delay_seconds": 60})
    with pytest.raises(httpx.ReadTimeout):  # the caller gives up: the answer is lost
        faults.post("/payment/transfers", json=body, timeout=0.5)
    [stored] = wait_for_transfers(faults, body["case_no"])
    retried = faults.post("/payment/transfers", json=body, timeout=5)
    assert (retried.status_code, retried.json()) == (200, stored)


def test_delay_counts_n_accepted_transfers(faults):
    faults.post("/_faults", json={"service": "payment", "delay_next": 2, "delay_seconds": 1})
    faults.post("/_faults", json={"service": "payment", "fail_next": 1})
    assert faults.post("/payment/transfers", json=transfer(key(), key())).status_code == 503
    took = []
    for _ in range(3):
        started = time.monotonic()
        assert faults.post("/payment/transfers", json=transfer(key(), key())).status_code == 201
        took.append(time.monotonic() - started)
    assert [t >= 1 for t in took] == [True, True, False]


def test_clearing_faults_drops_a_pending_delay(faults):
    faults.post("/_faults", json={"service": "payment", "delay_next": 3, "delay_seconds": 60})
    assert faults.delete("/_faults").status_code == 204
    paid = faults.post("/payment/transfers", json=transfer(key(), key()), timeout=5)
    assert paid.status_code == 201


@pytest.mark.parametrize(
    "fault",
    [
        {"service": "payment"},
        {"service": "payment", "status": 500},
        {"service": "payment", "delay_next": 1},
        {"service": "payment", "delay_seconds": 1},
        {"service": "payment", "delay_next": 1, "delay_seconds": 121},
        {"service": "payment", "delay_next": 1, "delay_seconds": -1},
        {"service": "payment", "delay_next": -1, "delay_seconds": 1},
        {"service": "sms", "delay_next": 1, "delay_seconds": 1},
        {"service": "fax", "fail_next": 1},
    ],
)
def test_malformed_fault_is_rejected(faults, fault):
    assert faults.post("/_faults", json=fault).status_code == 422


def test_data_survives_restart(tmp_path):
    db, case_no, k = tmp_path / "sim.db", key(), key()
    with served(db) as client:
        paid = client.post("/payment/transfers", json=transfer(case_no, k)).json()
    with served(db) as client:
        assert client.get("/payment/transfers", params={"case_no": case_no}).json() == [paid]
        retried = client.post("/payment/transfers", json=transfer(case_no, k))
        assert (retried.status_code, retried.json()) == (200, paid)


# ---- 代发: the monthly batch ---------------------------------------------------------------


def batch_line(n: int, month: str = "2026-12", **extra) -> dict:
    return {
        "item_key": f"R-{n:06d}:{month}",
        "recipient_no": f"R-{n:06d}",
        "month": month,
        "payee_name": "张三",
        "payee_id_number": ID_NUMBER,
        "amount": "1080.00",
        "purpose": "dibao:2026-12",
        "account": account(),
    } | extra


def test_a_batch_pays_each_line_once_and_refuses_a_closed_account(client):
    batch_key = key()
    lines = [batch_line(n, item_key=f"{batch_key}:{n}") for n in range(3)]
    lines[1]["account"] = account(account_no="0009990001")
    taken = client.post("/payment/batches", json={"batch_key": batch_key, "items": lines})
    assert taken.status_code == 202, taken.text
    batch = taken.json()
    assert (batch["items"], batch["total"]) == (3, "3240.00")
    assert (batch["paid_count"], batch["paid_total"]) == (2, "2160.00")
    assert (batch["refused_count"], batch["refused_total"]) == (1, "1080.00")

    again = client.post("/payment/batches", json={"batch_key": batch_key, "items": lines})
    assert again.status_code == 200 and again.json()["batch_id"] == batch["batch_id"]
    other = client.post("/payment/batches", json={"batch_key": batch_key, "items": lines[:2]})
    assert other.status_code == 409

    read = client.get(f"/payment/batches/{batch['batch_id']}").json()
    assert [line["status"] for line in read["lines"]] == ["paid", "refused", "paid"]
    assert read["lines"][1]["reason"].startswith("account_closed")
    assert client.get("/payment/batches", params={"batch_key": batch_key}).json() == [batch]
    paid = client.get("/payment/transfers", params={"recipient_no": "R-000000"}).json()
    assert [t["transfer_id"] for t in paid if t["batch_id"] == batch["batch_id"]] == [
        read["lines"][0]["transfer_id"]
    ]


def test_a_line_already_paid_under_its_key_is_not_paid_again_in_another_batch(client):
    line = batch_line(7, item_key=key())
    first = client.post("/payment/batches", json={"batch_key": key(), "items": [line]}).json()
    second = client.post("/payment/batches", json={"batch_key": key(), "items": [line]}).json()
    [a] = client.get(f"/payment/batches/{first['batch_id']}").json()["lines"]
    [b] = client.get(f"/payment/batches/{second['batch_id']}").json()["lines"]
    assert a["transfer_id"] == b["transfer_id"]
    made = client.get("/payment/transfers", params={"idempotency_key": line["item_key"]}).json()
    assert len(made) == 1


def test_a_batch_read_in_pages_keeps_its_order(client):
    batch_key = key()
    lines = [batch_line(n, item_key=f"{batch_key}:{n}") for n in range(25)]
    batch = client.post("/payment/batches", json={"batch_key": batch_key, "items": lines}).json()
    pages = [
        client.get(
            f"/payment/batches/{batch['batch_id']}", params={"offset": o, "limit": 10}
        ).json()["lines"]
        for o in (0, 10, 20)
    ]
    assert [line["item_key"] for page in pages for line in page] == [
        line["item_key"] for line in lines
    ]
    repeated = [lines[0], lines[0]]
    answer = client.post("/payment/batches", json={"batch_key": key(), "items": repeated})
    assert answer.status_code == 422


def test_messages_sent_in_a_batch_are_sent_once_each(client):
    keys = [key() for _ in range(3)]
    messages = [
        {"idempotency_key": k, "phone": "13700000001", "template": "monthly_paid", "text": "x"}
        for k in keys
    ]
    first = client.post("/sms/batches", json={"messages": messages})
    again = client.post("/sms/batches", json={"messages": messages})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and first.json()["sent"] == 3
    listed = client.get("/sms/messages", params={"template": "monthly_paid"}).json()
    assert sorted(m["idempotency_key"] for m in listed if m["idempotency_key"] in keys) == sorted(
        keys
    )
