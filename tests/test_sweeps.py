"""Sweeps of a township's villages (摸底排查, 主动发现) through the real stack (API, worker, dev
server): each family found reaches the township's inbox as a referral ``found_in_sweep`` (with
the referrals' outcomes and linking), a township whose sweep is overdue shows in the
supervision list and the audit, and bad input is refused naming its field. The cadence's
rules alone (``domain.sweeps``) first, without the stack."""

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest

from domain.calendar import local_date
from domain.cases import Role
from domain.errors import InvalidData, NotPermitted
from domain.sweeps import (
    FamilyFound,
    SweepFacts,
    SweepRecord,
    add_months,
    check_sweep,
    next_sweep_due,
    sweep_compliance,
)
from store.db import session_scope
from store.tables import SweepRow
from tests.helpers.actors import OFFICER, SUPERVISOR, actor, assistant_of
from tests.helpers.api import key
from tests.helpers.people import id_number, phone

TOWNSHIP = "370305100"  # 齐都镇
VILLAGES = ["370305100201", "370305100202", "370305100203"]
OTHER = "370305101"  # 皇城镇


def family(village: str = VILLAGES[0], **overrides) -> dict:
    body = {"name": "周困难", "id_number": id_number("19650303"), "phone": phone(),
            "village": village, "situation": "zero_employment", "note": "夫妻均无业"}  # fmt: skip
    return body | overrides


# ---- the rules --------------------------------------------------------------------------


def test_the_cadence_counts_from_the_last_sweep_or_the_day_the_district_began():
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert next_sweep_due(last_swept=date(2026, 1, 15), cadence_months=3, counted_from=None) == (
        date(2026, 4, 15)
    )
    assert next_sweep_due(last_swept=None, cadence_months=3, counted_from=None) is None
    assert next_sweep_due(last_swept=None, cadence_months=3, counted_from=date(2026, 1, 1)) == date(
        2026, 4, 1
    )
    section = sweep_compliance(
        [SweepFacts("A", date(2026, 1, 10), 2), SweepFacts("A", date(2026, 5, 10), 1),
         SweepFacts("B", date(2025, 12, 1), 0)],
        townships={"A": "甲镇", "B": "乙镇", "C": "丙镇"}, first=date(2026, 1, 1),
        last=date(2026, 6, 30), as_of_day=date(2026, 6, 30), cadence_months=3,
        counted_from=None,
    )  # fmt: skip
    a, b, c = section.rows
    assert (a.sweeps, a.families_found, a.last_swept_on, a.overdue) == (
        2, 3, date(2026, 5, 10), False,
    )  # fmt: skip
    assert (b.sweeps, b.last_swept_on, b.next_due, b.overdue) == (
        0, date(2025, 12, 1), date(2026, 3, 1), True,
    )  # fmt: skip
    assert (c.sweeps, c.last_swept_on, c.overdue) == (0, None, False)  # not counted yet
    assert (section.total.sweeps, section.total.overdue_townships) == (2, 1)


def test_a_sweep_names_the_township_s_villages_and_its_families_in_them():
    assistant = assistant_of(TOWNSHIP)
    today = date(2026, 6, 1)

    def check(**overrides):
        record = SweepRecord(actor=assistant, township=TOWNSHIP, swept_on=today,
                             villages=tuple(VILLAGES[:2]))  # fmt: skip
        record = SweepRecord(**(record.__dict__ | overrides))
        check_sweep(record, villages_of_township=set(VILLAGES), today=today)

    check()
    found = FamilyFound("甲", "x", "y", VILLAGES[0], "disaster")
    check(families=(found,))
    for overrides, field in (
        ({"villages": (VILLAGES[0], "370305101201")}, "villages[1]"),
        ({"villages": ()}, "villages"),
        ({"villages": (VILLAGES[0], VILLAGES[0])}, "villages"),
        ({"swept_on": today + timedelta(days=1)}, "swept_on"),
        ({"families": (FamilyFound("甲", "x", "y", VILLAGES[2], "disaster"),)},
         "families[0].village"),
        ({"families": (found, FamilyFound("乙", "z", "y", VILLAGES[0], "found_in_sweep"))},
         "families[1].situation"),
        ({"families": (found, found)}, "families"),
    ):  # fmt: skip
        with pytest.raises(InvalidData) as refused:
            check(**overrides)
        assert refused.value.field == field, (overrides, str(refused.value))
    with pytest.raises(NotPermitted):
        check(actor=actor(Role.village_coordinator, VILLAGES[0]))


# ---- through the stack ------------------------------------------------------------------


async def test_families_found_in_a_sweep_reach_the_inbox_and_an_overdue_township_is_flagged(
    own_stack,
):
    stack = own_stack
    path = f"/townships/{TOWNSHIP}/sweeps"
    already = family(VILLAGES[1], name="吴已转")
    async with (
        stack.client(assistant_of(TOWNSHIP)) as township,
        stack.client(assistant_of(OTHER)) as elsewhere,
        stack.client(OFFICER) as district,
        stack.client(SUPERVISOR) as supervisor,
    ):
        # A family a department referred already: the sweep's referral follows that one.
        first = await district.post(
            "/referrals",
            json={"family": {k: already[k] for k in ("name", "id_number", "phone")},
                  "village": VILLAGES[1], "situation": "major_illness",
                  "department": "medical_insurance"},
            headers=key(),
        )  # fmt: skip
        assert first.status_code == 201, first.text
        found = family()
        body = {"villages": VILLAGES[:2], "families": [found, already], "note": "第四季度排查"}
        recorded = await township.post(path, json=body, headers=key())
        assert recorded.status_code == 201, recorded.text
        sweep = recorded.json()
        assert (sweep["township"], sweep["villages"], sweep["families"]) == (
            TOWNSHIP, VILLAGES[:2], 2,
        )  # fmt: skip
        new, linked = sweep["referrals"]
        assert (new["situation"], new["status"], new["township"]) == (
            "found_in_sweep", "open", TOWNSHIP,
        )  # fmt: skip
        assert new["id_number"] != found["id_number"]  # masked
        assert "zero_employment" in new["note"]
        assert (linked["status"], linked["linked_referral"]) == (
            "linked", first.json()["referral_no"],
        )  # fmt: skip
        assert sweep["referral_nos"] == [new["referral_no"], linked["referral_no"]]

        # The same inbox, the same outcomes.
        inbox = (await township.get("/referrals", params={"situation": "found_in_sweep"})).json()
        assert {r["referral_no"] for r in inbox["items"]} == set(sweep["referral_nos"])
        closed = await township.post(
            f"/referrals/{new['referral_no']}/outcome",
            json={"outcome": "not_eligible", "reasons": "家庭收入高于标准"}, headers=key(),
        )  # fmt: skip
        assert closed.status_code == 200 and closed.json()["outcome"] == "not_eligible"

        listed = (await township.get(path)).json()
        assert [s["id"] for s in listed["items"]] == [sweep["id"]]
        assert listed["items"][0]["referrals"] == []  # a list names them, not their families
        assert (await elsewhere.get(path)).status_code == 404
        assert (await elsewhere.post(path, json=body, headers=key())).status_code == 404
        assert (await district.get(path)).json()["total"] == 1

        for sent, field in (
            ({"villages": [VILLAGES[0], "370305101201"]}, "villages[1]"),
            ({"villages": [VILLAGES[0]], "families": [family(VILLAGES[2])]},
             "families[0].village"),
            ({"villages": [VILLAGES[0]], "families": [family(situation="lottery")]},
             "families[0].situation"),
            ({"villages": []}, "villages"),
            ({"villages": [VILLAGES[0]], "families": [family(id_number="370305198001010000")]},
             "id_number"),
            ({"villages": [VILLAGES[0]], "swept_on": "2999-01-01"}, "swept_on"),
            ({"villages": [VILLAGES[0]], "unknown": 1}, "unknown"),
        ):  # fmt: skip
            refused = await township.post(path, json=sent, headers=key())
            named = refused.json()["detail"][0]["loc"]  # the field, its path split at the dots
            assert refused.status_code == 422 and named[-len(field.split(".")) :] == field.split(
                "."
            ), (sent, refused.text)
        # found_in_sweep is a sweep's, never a department's to name.
        named = await district.post(
            "/referrals",
            json={"family": {k: found[k] for k in ("name", "id_number", "phone")},
                  "village": VILLAGES[0], "situation": "found_in_sweep"},
            headers=key(),
        )  # fmt: skip
        assert named.status_code == 422 and "situation" in named.text, named.text

        # Another township last swept four months ago: overdue at the quarterly cadence.
        long_ago = local_date(datetime.now(UTC)) - timedelta(days=125)
        with session_scope(stack.settings.database_url, writes=True) as session:
            session.add(
                SweepRow(
                    township=OTHER,
                    swept_on=long_ago,
                    villages="370305101201",
                    recorded_at=datetime.now(UTC),
                    recorded_by="u-x",
                )  # fmt: skip
            )
        stuck = (await supervisor.get("/supervision/stuck", params={"kind": "sweep"})).json()
        assert [(r["case_no"], r["reason"]) for r in stuck["items"]] == [(OTHER, "sweep_overdue")]
        assert str(long_ago) in stuck["items"][0]["detail"]

        year = local_date(datetime.now(UTC)).year
        period = {"from": f"{year - 1}-01-01", "to": f"{year}-12-31", "kind": "sweep"}
        report = (await supervisor.get("/audit/compliance", params=period)).json()
        rows = {r["township"]: r for r in report["sweeps"]["rows"]}
        assert (rows[TOWNSHIP]["sweeps"], rows[TOWNSHIP]["families_found"]) == (1, 2)
        assert rows[TOWNSHIP]["overdue"] is False
        assert (rows[OTHER]["last_swept_on"], rows[OTHER]["overdue"]) == (str(long_ago), True)
        assert report["sweeps"]["total"]["overdue_townships"] == 1
        exported = await supervisor.get(
            "/audit/compliance", params=period, headers={"Accept": "text/csv"}
        )
        lines = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
        other = next(x for x in lines if x["township [镇街代码]"] == OTHER)
        assert (other["record [类别]"], other["sweep_overdue [排查逾期]"]) == ("sweep", "yes")
