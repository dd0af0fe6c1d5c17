"""Referrals from other departments (部门转介) through the real stack (API, worker, dev server):
the medical-insurance office's referral reaches the right township's inbox, the office reads it
masked and none of another department's, the township opens an application naming it, a
family already referred or assisted is linked rather than doubled, and bad input is refused
naming its field."""

import httpx

from domain.cases import Role
from tests.helpers.actors import OFFICER, actor, assistant_of
from tests.helpers.api import application, emergency, key
from tests.helpers.people import id_number, phone

MEDICAL = actor(Role.department_liaison, "370305", name="医保联络员", user_id="u-yb")
MEDICAL = type(MEDICAL)(**(MEDICAL.__dict__ | {"department": "medical_insurance"}))
EDUCATION = type(MEDICAL)(
    **(MEDICAL.__dict__ | {"user_id": "u-jy", "name": "教育联络员", "department": "education"})
)
VILLAGE = "370305100201"  # 东古城村, 齐都镇
TOWNSHIP = VILLAGE[:9]


def referral(**overrides) -> dict:
    family = {"name": "孙大病", "id_number": id_number("19700505"), "phone": phone()}
    body = {"family": family, "village": VILLAGE, "situation": "major_illness",
            "note": "住院自付超过5万元"}  # fmt: skip
    return body | overrides


async def file(http: httpx.AsyncClient, body: dict) -> dict:
    answer = await http.post("/referrals", json=body, headers=key())
    assert answer.status_code == 201, answer.text
    return answer.json()


async def test_a_referral_reaches_its_township_and_its_outcome_goes_back(own_stack):
    stack = own_stack
    body = referral()
    number = body["family"]["id_number"]
    async with (
        stack.client(MEDICAL) as medical,
        stack.client(EDUCATION) as education,
        stack.client(assistant_of(TOWNSHIP)) as township,
        stack.client(assistant_of("370305001")) as elsewhere,
        stack.client(OFFICER) as district,
    ):
        idempotent = key()
        filed = await medical.post("/referrals", json=body, headers=idempotent)
        assert filed.status_code == 201, filed.text
        made = filed.json()
        again = await medical.post("/referrals", json=body, headers=idempotent)
        assert again.json()["referral_no"] == made["referral_no"]  # the same answer, no second
        no = made["referral_no"]
        assert (made["township"], made["status"], made["department"]) == (
            TOWNSHIP, "open", "medical_insurance",
        )  # fmt: skip
        assert made["verify_by"] > made["received_at"][:10]
        assert made["id_number"] != number and made["id_number"].endswith(number[-4:])

        # The township's inbox has it; another township's has not.
        inbox = (await township.get("/referrals", params={"status": "open"})).json()
        assert [r["referral_no"] for r in inbox["items"]] == [no]
        assert inbox["items"][0]["id_number"] != number  # a list masks
        full = (await township.get(f"/referrals/{no}")).json()
        assert (full["id_number"], full["phone"]) == (number, body["family"]["phone"])
        assert (await elsewhere.get("/referrals")).json()["total"] == 0
        assert (await elsewhere.get(f"/referrals/{no}")).status_code == 404

        # The department reads its own, masked; another department sees nothing of it.
        mine = (await medical.get("/referrals")).json()
        assert [r["referral_no"] for r in mine["items"]] == [no]
        assert (await medical.get(f"/referrals/{no}")).json()["id_number"] != number
        assert (await education.get("/referrals")).json()["total"] == 0
        assert (await education.get(f"/referrals/{no}")).status_code == 404
        refused = await medical.get("/applications")
        assert refused.status_code == 403  # never a case file

        # A second referral of the family, by another department, follows the first.
        second = await file(education, referral(family=body["family"], situation="schooling_costs"))
        assert (second["status"], second["linked_referral"]) == ("linked", no)

        # The township opens an application naming it: the referral has its outcome.
        opened = await township.post(
            "/applications",
            json=application(
                township=TOWNSHIP, village=VILLAGE, channel="referral", referral_no=no,
                applicant={"name": "孙大病", "id_number": number, "phone": body["family"]["phone"]},
                household=[],
            ),
            headers=key(),
        )  # fmt: skip
        assert opened.status_code == 201, opened.text
        case_no = opened.json()["case_no"]
        assert opened.json()["referral_no"] == no
        case = (await township.get(f"/applications/{case_no}")).json()
        assert case["referral_no"] == no
        told = (await medical.get(f"/referrals/{no}")).json()
        assert (told["status"], told["outcome"], told["case_no"]) == (
            "closed", "application_opened", case_no,
        )  # fmt: skip
        followed = (await education.get(f"/referrals/{second['referral_no']}")).json()
        assert (followed["outcome"], followed["case_no"]) == ("application_opened", case_no)
        twice = await township.post(
            f"/referrals/{no}/outcome", json={"outcome": "not_eligible", "reasons": "x"}
        )
        assert twice.status_code == 409

        # The family now has an open case: a new referral is linked to it, not doubled.
        linked = await file(district, referral(family=body["family"], department="petitions"))
        assert (linked["status"], linked["outcome"], linked["linked_case"]) == (
            "closed", "already_assisted", case_no,
        )  # fmt: skip


async def test_the_township_gives_an_outcome_and_bad_input_names_its_field(own_stack):
    stack = own_stack
    async with (
        stack.client(MEDICAL) as medical,
        stack.client(assistant_of(TOWNSHIP)) as township,
    ):
        made = await file(medical, referral())
        no = made["referral_no"]
        path = f"/referrals/{no}/outcome"
        for sent, field in (
            ({"outcome": "application_opened", "reasons": "x"}, "outcome"),
            ({"outcome": "referred_elsewhere", "reasons": "学费问题"}, "referred_to"),
            ({"outcome": "already_assisted", "reasons": "已在办"}, "case_no"),
            ({"outcome": "already_assisted", "reasons": "已在办", "case_no": "370305-1999-000001"},
             "case_no"),
        ):  # fmt: skip
            refused = await township.post(path, json=sent)
            assert refused.status_code == 422 and field in refused.text, (sent, refused.text)
        given = await township.post(
            path, json={"outcome": "referred_elsewhere", "referred_to": "education",
                        "reasons": "学生学费，转教育部门资助"}, headers=key(),
        )  # fmt: skip
        assert given.status_code == 200, given.text
        assert given.json()["outcome"] == "referred_elsewhere"
        seen = (await medical.get(f"/referrals/{no}")).json()
        assert (seen["status"], seen["referred_to"]) == ("closed", "education")
        refused = await medical.post(path, json={"outcome": "not_eligible", "reasons": "x"})
        assert refused.status_code == 403

        for body, field in (
            (referral(situation="lottery"), "situation"),
            (referral(department="tax_office"), "department"),
            (referral(department="education"), "department"),  # not the liaison's own
            (referral(village="370306001001"), "village"),  # another district
            (referral(village="370305001999"), "village"),  # no such village
            (referral(family={"name": "甲", "id_number": "370305198001010000",
                              "phone": phone()}), "id_number"),
            (referral(unknown="x"), "unknown"),
        ):  # fmt: skip
            answer = await medical.post("/referrals", json=body, headers=key())
            assert answer.status_code == 422 and field in answer.text, (field, answer.text)
        other = await file(medical, referral())
        disaster = await file(medical, referral(situation="disaster"))
        requested = await township.post(
            "/emergencies",
            json=emergency(TOWNSHIP, VILLAGE, cause="disaster", channel="referral",
                           referral_no=disaster["referral_no"]),
            headers=key(),
        )  # fmt: skip
        assert requested.status_code == 201, requested.text
        assert requested.json()["referral_no"] == disaster["referral_no"]
        told = (await medical.get(f"/referrals/{disaster['referral_no']}")).json()
        assert (told["outcome"], told["case_no"]) == (
            "application_opened", requested.json()["case_no"],
        )  # fmt: skip
    async with stack.client(assistant_of("370305001")) as elsewhere:
        for named in (other["referral_no"], "370305-ZJ1999-000001"):  # another township's, none
            wrong = await elsewhere.post(
                "/applications",
                json=application(township="370305001", village="370305001001",
                                 referral_no=named),
                headers=key(),
            )  # fmt: skip
            assert wrong.status_code == 422 and "referral_no" in wrong.text, wrong.text

    # A liaison's token without a valid department is refused, saying so.
    for department in (None, "tax_office"):
        who = type(MEDICAL)(**(MEDICAL.__dict__ | {"department": department}))
        async with stack.client(who) as http:
            answer = await http.get("/referrals")
        assert answer.status_code == 403 and "department" in answer.text, answer.text
