"""A family's ID, mobile and account numbers: in full only to the roles that work the case with
the family, masked in lists and for everyone else (in views, audit notes, notifications)."""

from datetime import date

import pytest
from sqlalchemy import text

from domain.cases import Actor, Role
from domain.identity import mask_id_number, mask_phone
from domain.privacy import FULL_VIEW_ROLES, redact, redact_value, sees_in_full
from store.db import get_engine
from tests.helpers.actors import ASSISTANT, COORDINATOR, OFFICER
from tests.helpers.api import application
from tests.helpers.people import id_number

ID = "370305198001010015"
PHONE = "13812345678"
ACCOUNT = "6222021234567890123"


def test_numbers_in_free_text_are_masked_wherever_they_stand():
    text = f"身份证{ID}，电话{PHONE}，卡号{ACCOUNT}。旧证号11010519491231002x"
    masked = redact(text)
    assert masked == (
        "身份证370305********0015，电话138****5678，卡号****0123。旧证号110105********002X"
    )
    assert ID not in masked and PHONE not in masked and ACCOUNT not in masked


def test_case_numbers_codes_dates_and_amounts_are_left_as_they_are():
    text = (
        "case 370305-2026-000123 in village 370305001001 of 370305001, due 2026-11-29 "
        "10:15, ¥12345.67, transfer tr_0123456789abcdef, 20 working days"
    )
    assert redact(text) == text


def test_fields_named_as_personal_are_masked_whatever_their_shape():
    event = {
        "phone": "+86 138-1234-5678",
        "account": {"account_no": "12345678", "holder": "张三"},
        "members": [{"id_number": ID, "name": "李四"}],
        "count": 12345678901234,
    }
    assert redact_value(event) == {
        "phone": "+86****5678",
        "account": {"account_no": "****5678", "holder": "张三"},
        "members": [{"id_number": "370305********0015", "name": "李四"}],
        "count": 12345678901234,
    }


def test_who_sees_numbers_in_full_is_declared_once():
    assert {
        Role.village_coordinator,
        Role.township_assistant,
        Role.township_approver,
        Role.district_officer,
    } == FULL_VIEW_ROLES
    assert not any(sees_in_full(r) for r in (Role.supervisor, Role.auditor, Role.admin))


SUPERVISOR = Actor(user_id="u-sup", name="督办员", role=Role.supervisor, jurisdiction="370305")
AUDITOR = Actor(user_id="u-aud", name="审计员", role=Role.auditor, jurisdiction="370305")
APPROVER = Actor(
    user_id="u-appr", name="孙镇长", role=Role.township_approver, jurisdiction="370305001"
)


@pytest.fixture
async def case(stack) -> dict:
    """A case whose withdrawal reason quotes the applicant's mobile number."""
    applicant = {"name": "张三", "id_number": id_number(), "phone": "13912340001"}
    member = {
        "name": "李四",
        "id_number": id_number("19820202"),
        "relation": "spouse",
        "monthly_income": "0",
    }
    body = application(applicant=applicant, household=[member])
    async with stack.client(ASSISTANT) as assistant:
        created = await assistant.post("/applications", json=body)
        assert created.status_code == 201, created.text
        case_no = created.json()["case_no"]
        withdrawn = await assistant.post(
            f"/applications/{case_no}/withdrawal",
            json={"reason": f"申请人来电撤回（电话 {applicant['phone']}）"},
        )
        assert withdrawn.status_code == 200, withdrawn.text
    return {"case_no": case_no, "applicant": applicant, "member": member, "body": body}


async def test_caseworkers_see_the_family_in_full_and_overseers_see_it_masked(stack, case):
    case_no, applicant, member = case["case_no"], case["applicant"], case["member"]
    for user in (ASSISTANT, COORDINATOR, APPROVER, OFFICER):
        async with stack.client(user) as client:
            family = (await client.get(f"/applications/{case_no}")).json()["family"]
        assert family["applicant"] == applicant, user.role
        assert family["household"] == [
            {"name": "李四", "relation": "spouse", "id_number": member["id_number"]}
        ]
    for user in (SUPERVISOR, AUDITOR):
        async with stack.client(user) as client:
            answer = await client.get(f"/applications/{case_no}")
        assert answer.status_code == 200, answer.text
        family = answer.json()["family"]
        assert family["applicant"] == {
            "name": "张三",
            "id_number": mask_id_number(applicant["id_number"]),
            "phone": mask_phone(applicant["phone"]),
        }
        assert family["household"][0]["id_number"] == mask_id_number(member["id_number"])
        assert applicant["id_number"] not in answer.text and applicant["phone"] not in answer.text


async def test_lists_show_the_applicants_number_masked_to_everyone(stack, case):
    case_no, applicant = case["case_no"], case["applicant"]
    async with stack.client(ASSISTANT) as assistant:
        answer = await assistant.get("/applications", params={"page_size": 200})
    assert answer.status_code == 200
    [item] = [i for i in answer.json()["items"] if i["case_no"] == case_no]
    assert item["applicant_id_number"] == mask_id_number(applicant["id_number"])
    assert applicant["id_number"] not in answer.text
    assert case["body"]["bank_account"]["account_no"] not in answer.text


async def test_the_case_tables_keep_no_id_number_in_full(stack, case):
    """Only the sealed intake holds the applicant's and the household's numbers (and the
    household claims of open cases, looked up by them)."""
    numbers = [case["applicant"]["id_number"], *(m["id_number"] for m in case["body"]["household"])]
    with get_engine(stack.settings.database_url).connect() as connection:
        row = connection.execute(
            text("SELECT * FROM case_record WHERE case_no = :no"), {"no": case["case_no"]}
        ).one()
        entries = connection.execute(
            text("SELECT * FROM audit_entry WHERE case_no = :no"), {"no": case["case_no"]}
        ).all()
    stored = " ".join(str(value) for r in (row, *entries) for value in r)
    assert row.applicant_id_number == mask_id_number(numbers[0])
    assert not [n for n in numbers if n in stored]


async def test_audit_notes_quote_numbers_in_full_only_to_caseworkers(stack, case):
    case_no, phone = case["case_no"], case["applicant"]["phone"]
    async with stack.client(ASSISTANT) as assistant:
        trail = (await assistant.get(f"/applications/{case_no}/audit-trail")).json()
    [withdrawn] = [e for e in trail if e["action"] == "withdrawn"]
    assert phone in withdrawn["note"]
    async with stack.client(AUDITOR) as auditor:
        answer = await auditor.get(f"/applications/{case_no}/audit-trail")
    assert answer.status_code == 200
    [withdrawn] = [e for e in answer.json() if e["action"] == "withdrawn"]
    assert withdrawn["note"] == f"申请人来电撤回（电话 {mask_phone(phone)}）"
    assert phone not in answer.text


def test_a_phone_glued_to_other_digits_is_masked_with_its_run():
    assert redact(f"x{date(2026, 1, 1):%Y%m%d}13812345678y") == "x****5678y"


def test_a_value_nested_however_deep_is_redacted_without_recursion():
    deep: object = {"id_number": ID, "note": f"电话{PHONE}"}
    for level in range(100_000):
        deep = [deep] if level % 2 else {"inner": deep, "phone": PHONE}
    masked = redact_value(deep)
    for level in reversed(range(100_000)):
        if level % 2:
            [masked] = masked
        else:
            assert masked["phone"] == mask_phone(PHONE)
            masked = masked["inner"]
    assert masked == {"id_number": mask_id_number(ID), "note": f"电话{mask_phone(PHONE)}"}
    assert redact_value(("a", [PHONE], 3)) == ("a", [mask_phone(PHONE)], 3)
    looped: list = [PHONE]
    looped.append(looped)
    assert redact_value(looped) == [mask_phone(PHONE), "…"]
