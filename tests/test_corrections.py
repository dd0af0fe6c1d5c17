"""Corrections (容错纠错), dishonesty (失信) and a new 低保 standard through the real stack: the
API, the worker on the dev server, the payroll's bank and the SMS platform of the simulators.
Each test has a database of its own."""

import io
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import httpx
from pypdf import PdfReader
from sqlmodel import select

from domain.benefits import BenefitDecision
from domain.cases import AssistanceType
from domain.contracts import StandardChangeRun
from domain.months import Month
from store.db import session_scope
from store.recipients import decide_benefit
from store.records import start_of
from store.tables import CaseRecord, DishonestyMember, PayrollItem, RecipientRecord
from tests.helpers.actors import ASSISTANT, OFFICER
from tests.helpers.api import application, eventually, key
from tests.helpers.api import emergency as emergency_body
from tests.helpers.cases import households
from tests.helpers.stack import RING
from tests.helpers.workflows import pay_month
from workflows.standards import StandardChangeWorkflow, standard_workflow_id

D = Decimal


def item(url: str, recipient_no: str, month: Month) -> PayrollItem | None:
    with session_scope(url) as session:
        return session.get(PayrollItem, (recipient_no, str(month)))


async def test_a_correction_reaches_back_and_records_what_was_overpaid(own_stack, dev_env):
    stack = own_stack
    url = stack.settings.database_url
    corrected, revoked = households(url, 2, villages=("370305001001",))
    this_month = Month.at(datetime.now(UTC))
    paid_month = this_month.plus(1)
    await pay_month(dev_env.client, paid_month, task_queue=stack.settings.task_queue)
    assert item(url, corrected, paid_month).status == "paid"

    async with stack.client(OFFICER) as officer, stack.client(ASSISTANT) as assistant:
        path = f"/recipients/{corrected}/corrections"
        body = {"kind": "amount", "amount": "700.00", "effective_month": str(paid_month),
                "reasons": "收入核算有误，按实际收入更正"}  # fmt: skip
        before = (await officer.get(f"/recipients/{corrected}/audit-trail")).json()
        for bad, field in (
            (body | {"effective_month": str(this_month.plus(-1))}, "effective_month"),
            (body | {"effective_month": "2026-13"}, "effective_month"),
            (body | {"reasons": " "}, "reasons"),
            ({k: v for k, v in body.items() if k != "amount"}, "amount"),
            (body | {"amount": "99999.00"}, "amount"),  # above the standard, no 一事一议
            (body | {"kind": "cancel"}, "kind"),
        ):
            refused = await officer.post(path, json=bad, headers=key())
            assert refused.status_code == 422, (field, refused.text)
            assert refused.json()["detail"][0]["loc"] == ["body", field], refused.text
        assert (await assistant.post(path, json=body, headers=key())).status_code == 403
        assert (await officer.get(f"/recipients/{corrected}/audit-trail")).json() == before

        headers = key()
        made = await officer.post(path, json=body, headers=headers)
        assert made.status_code == 201, made.text
        again = await officer.post(path, json=body, headers=headers)  # a retry: no second effect
        assert again.json() == made.json()
        recovery = made.json()["recovery"]
        assert recovery["amount"] == "300.00" and recovery["months"] == str(paid_month)
        assert recovery["reference"] == "correction-1" and recovery["outcome"] is None
        household = made.json()["recipient"]
        assert household["monthly_amount"] == "700.00"

        # Its outcome, recorded once.
        outcome = f"/recipients/{corrected}/recoveries/{recovery['id']}"
        answer = await officer.post(outcome, json={"outcome": "recovered", "note": "已退回"})
        assert answer.status_code == 200 and answer.json()["outcome"] == "recovered"
        same = await officer.post(outcome, json={"outcome": "recovered", "note": "已退回"})
        assert same.status_code == 200
        other = await officer.post(outcome, json={"outcome": "waived"})
        assert other.status_code == 409 and "recovered" in other.json()["detail"]
        bad = await officer.post(outcome, json={"outcome": "lost"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "outcome"]
        missing = await officer.post(
            f"/recipients/{corrected}/recoveries/999", json={"outcome": "waived"}
        )
        assert missing.status_code == 404

        read = (await officer.get(f"/recipients/{corrected}")).json()
        assert [(r["amount"], r["outcome"], r["outcome_note"]) for r in read["recoveries"]] == [
            ("300.00", "recovered", "已退回")
        ]
        trail = (await officer.get(f"/recipients/{corrected}/audit-trail")).json()
        assert [e["action"] for e in trail[len(before) :]] == [
            "benefit_adjusted", "recovery_recorded", "recovery_outcome",
        ]  # fmt: skip
        assert "correction-1" in trail[-2]["note"] and "¥300.00" in trail[-2]["note"]

        # A revocation from the paid month: all it paid is to recover; nothing after.
        revoke = {
            "kind": "revoke",
            "effective_month": str(paid_month),
            "reasons": "不符合条件，审批有误",
        }
        made = await officer.post(f"/recipients/{revoked}/corrections", json=revoke, headers=key())
        assert made.status_code == 201, made.text
        assert made.json()["recipient"]["status"] == "terminated"
        assert made.json()["recovery"]["amount"] == "1001.00"
        # Its letter to print: 撤销, from the month, with the reasons.
        reference = made.json()["reference"]
        letter = await officer.get(f"/recipients/{revoked}/decisions/{reference}/decision-letter")
        assert letter.status_code == 200 and letter.headers["content-type"] == "application/pdf"
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(letter.content)).pages)
        assert "撤销" in text and "不符合条件，审批有误" in text and "行政复议" in text
        missing = await officer.get(f"/recipients/{revoked}/decisions/correction-9/decision-letter")
        assert missing.status_code == 404

    next_month = paid_month.plus(1)
    await pay_month(dev_env.client, next_month, task_queue=stack.settings.task_queue)
    assert item(url, corrected, next_month).amount == D("700.00")
    assert item(url, revoked, next_month) is None


async def test_a_household_found_dishonest_is_flagged_at_a_members_later_intake(own_stack):
    stack = own_stack
    url = stack.settings.database_url
    [number] = households(url, 1, villages=("370305001001",))
    with session_scope(url) as session:
        row = session.get(RecipientRecord, number)
        start = start_of(session.get(CaseRecord, row.case_no), ring=RING)
    member = start.household[0]
    next_month = Month.at(datetime.now(UTC)).plus(1)

    async with stack.client(OFFICER) as officer, stack.client(ASSISTANT) as assistant:
        path = f"/recipients/{number}/dishonesty"
        body = {"reasons": "隐瞒经营收入，骗取低保金", "source": "review"}
        for bad, field in (
            (body | {"source": "rumour"}, "source"),
            (body | {"reasons": ""}, "reasons"),
            (body | {"effective_month": "2001-01"}, "effective_month"),
        ):
            refused = await officer.post(path, json=bad, headers=key())
            assert refused.status_code == 422, refused.text
            assert refused.json()["detail"][0]["loc"] == ["body", field]
        assert (await assistant.post(path, json=body, headers=key())).status_code == 403

        found = await officer.post(path, json=body, headers=key())
        assert found.status_code == 201, found.text
        assert found.json()["effective_month"] == str(next_month)
        household = (await officer.get(f"/recipients/{number}")).json()
        assert household["status"] == "terminated"
        assert [f["source"] for f in household["dishonesty"]] == ["review"]
        trail = (await officer.get(f"/recipients/{number}/audit-trail")).json()
        assert [e["action"] for e in trail[-2:]] == ["benefit_terminated", "dishonesty_found"]

        # A member applies again: accepted as usual, with the flag; someone else: no flag.
        again = application(
            applicant={"name": member.name, "id_number": member.id_number, "phone": "13800000009"},
            household=[],
        )  # fmt: skip
        accepted = await assistant.post("/applications", json=again, headers=key())
        assert accepted.status_code == 201, accepted.text
        flag = accepted.json()["dishonesty_flag"]
        assert number in flag and "失信" in flag
        case_no = accepted.json()["case_no"]
        assert number in (await assistant.get(f"/applications/{case_no}")).json()["dishonesty_flag"]
        other = await assistant.post("/applications", json=application(), headers=key())
        assert other.status_code == 201 and other.json()["dishonesty_flag"] is None

        requested = await assistant.post(
            "/emergencies",
            json=emergency_body(
                "370305001", "370305001001", name=start.applicant.name,
                applicant={"name": start.applicant.name, "id_number": start.applicant.id_number,
                           "phone": "13800000008"},
            ),
            headers=key(),
        )  # fmt: skip
        assert requested.status_code == 201, requested.text
        assert number in requested.json()["dishonesty_flag"]
    with session_scope(url) as session:  # kept hashed, never in clear
        hashes = [m.id_number_hash for m in session.exec(select(DishonestyMember))]
    assert len(hashes) == 2 * len(RING.key_ids) and member.id_number not in hashes


async def test_a_new_standard_from_january_pays_each_household_its_new_amount(
    own_stack, dev_env, simulator_url
):
    """Over the year's end: December's payroll pays the old amounts, January's the new; each
    household's trail has its line and its family one text, none more on a rerun."""
    stack = own_stack
    url = stack.settings.database_url
    now = datetime.now(UTC)
    january = Month(Month.at(now).year + 1, 1)
    december = january.plus(-1)
    approved = datetime(december.plus(-1).year, december.plus(-1).month, 15, 4, tzinfo=UTC)
    dibao = households(url, 2, villages=("370305001001",), approved_at=approved)
    assessed = households(
        url, 1, villages=("370305002001",), approved_at=approved, assessed_income=D("500")
    )
    tekun = households(url, 1, approved_at=approved, assistance_type=AssistanceType.tekun)
    [ended] = households(url, 1, approved_at=approved)
    with session_scope(url, writes=True) as session:
        decide_benefit(
            session, recipient_no=ended, reference="review-1", now=now,
            policy=stack.settings.policy,
            decision=BenefitDecision(OFFICER, "terminate", "迁出本区", effective_month=str(december)),
        )  # fmt: skip
    queue = stack.settings.task_queue
    await pay_month(dev_env.client, december, task_queue=queue)

    change = {"from_month": str(january), "urban": "1150.00", "rural": "950.00",
              "reasons": "淄博市民政局关于提高城乡低保标准的通知"}  # fmt: skip
    async with stack.client(OFFICER) as officer, stack.client(ASSISTANT) as assistant:
        for bad, field in (
            (change | {"from_month": str(december)}, "from_month"),  # its payroll has run
            (change | {"from_month": "2001-01"}, "from_month"),
            (change | {"urban": "0"}, "urban"),
            (change | {"reasons": ""}, "reasons"),
        ):
            refused = await officer.post("/policy/dibao-standards", json=bad, headers=key())
            assert refused.status_code == 422, refused.text
            assert refused.json()["detail"][0]["loc"] == ["body", field]
        refused = await assistant.post("/policy/dibao-standards", json=change, headers=key())
        assert refused.status_code == 403

        made = await officer.post("/policy/dibao-standards", json=change, headers=key())
        assert made.status_code == 202, made.text
        other = await officer.post(
            "/policy/dibao-standards", json=change | {"urban": "1200.00"}, headers=key()
        )
        assert other.status_code == 409

        async def listed() -> list[dict]:
            return (await assistant.get("/policy/dibao-standards")).json()

        [done] = await eventually(listed, lambda rows: rows and rows[0]["completed_at"])
        assert done["households"] == 4 and done["urban"] == "1150.00"

    await pay_month(dev_env.client, january, task_queue=queue)
    expected = {
        dibao[0]: (D("1000.00"), D("1140.00")),  # its gap under the old standard kept
        dibao[1]: (D("1001.00"), D("1141.00")),
        assessed[0]: (D("1000.00"), D("1800.00")),  # 2 × 1150 − 500
        tekun[0]: (D("1000.00"), D("1725.00")),  # 1.5 × 1150
    }
    for number, (old, new) in expected.items():
        assert item(url, number, december).amount == old, number
        assert item(url, number, january).amount == new, number
    assert item(url, ended, january) is None

    async def texts() -> list[dict]:
        async with httpx.AsyncClient(base_url=simulator_url) as sms:
            sent = (await sms.get("/sms/messages", params={"template": "standard_changed"})).json()
        return [t for t in sent if any(n in t["text"] for n in [*expected, ended])]

    sent = await texts()
    assert sorted(t["text"].split("救助档案号")[1][:21] for t in sent) == sorted(expected)
    assert all(f"{january.year}年1月" in t["text"] for t in sent)
    async with stack.client(OFFICER) as officer:
        trails = {n: (await officer.get(f"/recipients/{n}/audit-trail")).json() for n in expected}
    for number, trail in trails.items():
        lines = [e for e in trail if e["action"] == "standard_applied"]
        assert len(lines) == 1 and f"standard-{january}" in lines[0]["note"], number

    # Run again: nothing changes, nobody is texted twice.
    await dev_env.client.execute_workflow(
        StandardChangeWorkflow.run, StandardChangeRun(str(january), page_size=2),
        id=f"{standard_workflow_id(str(january))}-{uuid.uuid4().hex[:6]}", task_queue=queue,
    )  # fmt: skip
    assert len(await texts()) == len(sent)
    async with stack.client(OFFICER) as officer:
        for number, trail in trails.items():
            assert (await officer.get(f"/recipients/{number}/audit-trail")).json() == trail
