"""特困 through the real stack: HTTP, a worker, the Temporal dev server, the bank and SMS
simulators, a database of the test's own. An elderly person approved for centralised care
(集中供养) is paid into the care institution's account and registered with it as the payee;
an able-bodied applicant of working age is not approved; the compliance report gives each
township's share of 特困 people with partial or no self-care in centralised care."""

import csv
import io
from datetime import datetime

import httpx

from domain.months import Month
from store.db import session_scope
from store.recipients import open_payee, recipient
from tests.helpers.actors import OFFICER, assistant_of
from tests.helpers.api import key, shanghai_today, survey, wait_for
from tests.helpers.people import account_no, id_number, phone
from tests.helpers.stack import RING
from tests.helpers.workflows import pay_month

TOWNSHIP, VILLAGE = "370305002", "370305002001"  # 雪宫街道
ELIGIBLE = {"unable_to_work": True, "has_income": False, "supporter_able": False}


def born_years_ago(years: int) -> str:
    today = shanghai_today()
    return f"{today.year - years}0101"


def tekun_application(name: str, *, age: int) -> dict:
    """One person on their own, of ``age``, with an account of their own."""
    return {
        "assistance_type": "tekun",
        "township": TOWNSHIP,
        "village": VILLAGE,
        "applicant": {"name": name, "id_number": id_number(born_years_ago(age)), "phone": phone()},
        "household": [],
        "bank_account": {"bank": "齐商银行", "account_no": account_no(), "holder": name},
        "reason": "无劳动能力，无生活来源，无法定赡养人",
    }


def institution() -> dict:
    return {"name": "临淄区社会福利中心", "bank": "齐商银行", "account_no": account_no("7788")}


async def to_decision(assistant: httpx.AsyncClient, body: dict, **found) -> str:
    """Accepted, surveyed (``found``: what the survey found for 特困), reviewed and publicised."""
    created = await assistant.post("/applications", json=body, headers=key())
    assert created.status_code == 201, created.text
    case_no = created.json()["case_no"]
    surveyed = await assistant.post(
        f"/applications/{case_no}/survey", json=survey() | found, headers=key()
    )
    assert surveyed.status_code == 200, surveyed.text
    await wait_for(assistant, case_no, lambda c: c["stage"] == "review")
    reviewed = await assistant.post(
        f"/applications/{case_no}/review",
        json={"recommendation": "approve", "reasons": "符合特困人员认定条件"},
        headers=key(),
    )
    assert reviewed.status_code == 200, reviewed.text
    await wait_for(assistant, case_no, lambda c: c["stage"] == "decision")
    return case_no


async def decide(officer: httpx.AsyncClient, case_no: str, **care) -> httpx.Response:
    return await officer.post(
        f"/applications/{case_no}/decision",
        json={"outcome": "approve", "reasons": "符合特困人员认定条件"} | care,
        headers=key(),
    )


async def test_an_elderly_person_in_centralised_care_is_paid_into_the_institutions_account(
    own_stack, dev_env, simulator_url
):
    stack, home = own_stack, institution()
    async with (
        stack.client(assistant_of(TOWNSHIP)) as assistant,
        stack.client(OFFICER) as officer,
    ):
        case_no = await to_decision(
            assistant, tekun_application("刘老汉", age=70),
            has_income=False, supporter_able=False, self_care="none",
        )  # fmt: skip
        # The care is named at the decision: without it, 422 naming the field.
        assert (await decide(officer, case_no)).json()["detail"][0]["loc"] == ["body", "care_form"]
        missing = await decide(officer, case_no, care_form="centralised")
        assert missing.status_code == 422
        assert missing.json()["detail"][0]["loc"] == ["body", "institution"]

        decided = await decide(officer, case_no, care_form="centralised", institution=home)
        assert decided.status_code == 200, decided.text
        case = decided.json()
        assert case["stage"] == "approved" and case["monthly_amount"] == "1620.00"  # 1.5 × 1080
        assert (case["care_form"], case["self_care"], case["institution"]) == (
            "centralised", "none", home["name"],
        )  # fmt: skip
        assert case["bank_account"] == "****7788"
        case = await wait_for(officer, case_no, lambda c: c["first_payment_at"] is not None)
        number = case["recipient_no"]
        assert number.startswith("370305-TK-")
        household = (await officer.get(f"/recipients/{number}")).json()
        assert (household["care_form"], household["self_care"], household["institution"]) == (
            "centralised", "none", home["name"],
        )  # fmt: skip
        assert household["bank_account"] == "****7788"

    async with httpx.AsyncClient(base_url=simulator_url) as bank:
        [paid] = (await bank.get("/payment/transfers", params={"case_no": case_no})).json()
    assert paid["amount"] == "1620.00" and paid["payee_name"] == home["name"]
    assert paid["account"] == {
        "bank": "齐商银行", "account_no_masked": "****7788", "holder": home["name"],
    }  # fmt: skip

    # The register pays the institution from then on: its payee, and next month's payroll.
    with session_scope(stack.settings.database_url) as session:
        payee = open_payee(recipient(session, recipient_no=number), ring=RING)
    assert payee.account.holder == home["name"] and payee.account.account_no == home["account_no"]
    month = Month.at(datetime.fromisoformat(case["decided_at"])).plus(1)
    await pay_month(dev_env.client, month, task_queue=stack.settings.task_queue)
    async with httpx.AsyncClient(base_url=simulator_url) as bank:
        monthly = (await bank.get("/payment/transfers", params={"recipient_no": number})).json()
    assert [(t["month"], t["account"]["holder"]) for t in monthly if t["month"] == str(month)] == [
        (str(month), home["name"])
    ]


async def test_an_able_bodied_applicant_of_working_age_is_not_approved(own_stack):
    async with (
        own_stack.client(assistant_of(TOWNSHIP)) as assistant,
        own_stack.client(OFFICER) as officer,
    ):
        case_no = await to_decision(
            assistant, tekun_application("王壮年", age=30),
            unable_to_work=False, has_income=False, supporter_able=False, self_care="full",
        )  # fmt: skip
        refused = await decide(officer, case_no, care_form="dispersed")
        assert refused.status_code == 422, refused.text
        [detail] = refused.json()["detail"]
        assert detail["loc"] == ["body", "survey", "unable_to_work"]
        assert "able to work" in detail["msg"]
        case = (await officer.get(f"/applications/{case_no}")).json()
        assert case["stage"] == "decision" and case["care_form"] is None
        # A refusal is still possible, and names no care.
        no = await officer.post(
            f"/applications/{case_no}/decision",
            json={"outcome": "refuse", "reasons": "有劳动能力"},
            headers=key(),
        )
        assert no.status_code == 200 and no.json()["stage"] == "refused"


async def test_the_centralised_share_of_a_township_half_in_centralised_care_misses_the_target(
    own_stack,
):
    async with (
        own_stack.client(assistant_of(TOWNSHIP)) as assistant,
        own_stack.client(OFFICER) as officer,
    ):
        cared = await to_decision(
            assistant, tekun_application("赵半失能", age=75), **ELIGIBLE, self_care="partial"
        )
        at_home = await to_decision(
            assistant, tekun_application("钱半失能", age=65), **ELIGIBLE, self_care="partial"
        )
        placed = await decide(officer, cared, care_form="centralised", institution=institution())
        assert placed.status_code == 200, placed.text
        assert (await decide(officer, at_home, care_form="dispersed")).status_code == 200
        for case_no in (cared, at_home):
            await wait_for(officer, case_no, lambda c: c["recipient_no"] is not None)

        today = str(shanghai_today())
        period = {"from": today, "to": today, "kind": "care"}
        report = (await officer.get("/audit/compliance", params=period)).json()
        as_csv = await officer.get(
            "/audit/compliance", params=period, headers={"Accept": "text/csv"}
        )
    assert report["applications"] is None and report["emergencies"] is None
    [row] = report["centralised_care"]["rows"]
    assert row == {
        "township": TOWNSHIP, "township_name": "雪宫街道", "recipients": 2, "needing_care": 2,
        "centralised": 1, "centralised_share": 0.5, "target": 0.6, "meets_target": False,
        "unassessed": 0,
    }  # fmt: skip
    line, total = csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig")))
    assert (line["record [类别]"], line["township [镇街代码]"]) == ("centralised_care", TOWNSHIP)
    assert (line["centralised_share [集中供养率]"], line["meets_target [达标]"]) == ("0.5", "no")
    assert total["township [镇街代码]"] == "total" and total["centralised [集中供养]"] == "1"
